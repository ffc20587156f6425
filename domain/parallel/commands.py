"""Command handlers for projects: the only code that loads and saves ``Project`` aggregates.

They compose over the one event store (the ``Cases`` application: every process's events share one
notification log) through ``domain.handlers.execute``: each command carries a ``command_id`` made in
the workflow, a command already applied records nothing, and a version conflict reloads and retries.
Every step is validated by the step registry (``domain.parallel.steps``) before the aggregate's own
command runs the same rules again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.utils import get_topic

from domain.calendar import ServiceCalendar
from domain.errors import UnknownActor
from domain.handlers import Outcome, execute
from domain.parallel.errors import ProjectAlreadyExists, ProjectNotFound
from domain.parallel.project import Project, project_id
from domain.parallel.steps import STEPS, ProjectRequest, RegisterProject, StepContext, validate
from domain.parallel.view import ProjectView
from domain.staff import Actor, StaffDirectory

_COMMON = {"originator_id", "originator_version", "originator_topic", "timestamp", "actor", "at", "command_id"}


@dataclass(frozen=True)
class ProjectOutcome:
    """The project after a command, whether the command recorded anything, and its last notification id."""

    view: ProjectView
    recorded: bool
    notification_id: int | None


@dataclass(frozen=True)
class ProjectEntry:
    """One fact of a project's history as staff read it."""

    version: int
    event: str
    label: str
    at: datetime
    actor: Actor | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return v.isoformat() if isinstance(v, datetime) else v

        return {
            "version": self.version,
            "event": self.event,
            "label": self.label,
            "at": self.at.isoformat(),
            "actor": self.actor.to_dict() if self.actor else None,
            **{k: plain(v) for k, v in self.details.items()},
        }


@dataclass
class RecordOutcome:
    added: int = 0
    already_present: int = 0
    notification_id: int | None = None


class ProjectCommands:
    """Register projects and take their steps, exactly once, on the shared store."""

    def __init__(
        self, app: Application[Any], *, calendar: ServiceCalendar | None = None, staff: StaffDirectory | None = None
    ) -> None:
        self.app = app
        self._calendar = calendar
        self._staff = staff

    @classmethod
    def over(cls, app: Any) -> ProjectCommands:
        """Over the store application, counting on ITS calendar (read at every command: a calendar year
        published meanwhile counts at once) and checking staff against its directory."""
        return cls(app)

    @property
    def calendar(self) -> ServiceCalendar:
        return self._calendar if self._calendar is not None else self.app.calendar  # type: ignore[attr-defined,no-any-return]

    @property
    def staff(self) -> StaffDirectory:
        return self._staff if self._staff is not None else self.app.staff  # type: ignore[attr-defined,no-any-return]

    # ---- commands -----------------------------------------------------------------------------

    def register(self, req: RegisterProject, *, at: datetime, command_id: str) -> ProjectOutcome:
        """项目登记; a code already taken by another registration is refused, a retried one is answered."""
        req = replace(req, actor=self._actor(req.actor))

        def taken(_: Project) -> None:
            raise ProjectAlreadyExists(f"项目代码「{req.code}」已登记", project_code=req.code)

        out: Outcome[Project] = execute(
            self.app,
            project_id(req.code),
            command_id,
            taken,
            missing=lambda: self._missing(req.code),
            create=lambda: req.create(at, command_id),
        )
        return ProjectOutcome(out.aggregate.view(), out.recorded, out.notification_id)

    def execute(self, code: str, request: ProjectRequest, *, at: datetime, command_id: str) -> ProjectOutcome:
        """One step on one project: the registry's rules, then the aggregate's command, exactly once."""
        request = replace(request, actor=self._actor(request.actor))
        spec = STEPS[request.step]
        ctx = StepContext(at=at, command_id=command_id, calendar=self.calendar)

        def act(p: Project) -> None:
            validate(p.view(), request, at)
            spec.run(p, request, ctx)

        out: Outcome[Project] = execute(
            self.app, project_id(code), command_id, act, missing=lambda: self._missing(code)
        )
        return ProjectOutcome(out.aggregate.view(), out.recorded, out.notification_id)

    def record(self, projects: Sequence[Project], *, chunk: int = 100) -> RecordOutcome:
        """Save projects built elsewhere (the scenario's, recorded through the aggregate's own commands);
        one already in the store is left as it is, so loading twice adds nothing."""
        out = RecordOutcome()
        fresh = []
        for p in projects:
            if self.app.recorder.select_events(p.id, limit=1):
                out.already_present += 1
            else:
                fresh.append(p)
        for start in range(0, len(fresh), chunk):
            recordings = self.app.save(*fresh[start : start + chunk])
            out.added += len(fresh[start : start + chunk])
            if recordings:
                out.notification_id = recordings[-1].notification.id
        return out

    # ---- queries ------------------------------------------------------------------------------

    def get(self, code: str) -> ProjectView:
        try:
            project: Project = self.app.repository.get(project_id(code))
        except AggregateNotFoundError:
            raise self._missing(code) from None
        return project.view()

    def exists(self, code: str) -> bool:
        return bool(self.app.recorder.select_events(project_id(code), limit=1))

    def history(self, code: str) -> list[ProjectEntry]:
        """The project's events in order: the timeline staff see."""
        pid = project_id(code)
        if not self.exists(code):
            raise self._missing(code)
        out = []
        for e in self.app.events.get(pid):
            data = e.__dict__
            actor = data.get("actor")
            out.append(
                ProjectEntry(
                    version=e.originator_version,
                    event=type(e).__name__,
                    label=getattr(type(e), "LABEL", "") or type(e).__name__,
                    at=data.get("at") or e.timestamp,  # type: ignore[attr-defined]
                    actor=Actor.from_dict(actor) if actor else None,
                    details={k: v for k, v in data.items() if k not in _COMMON},
                )
            )
        return out

    def iter_codes(self) -> Iterator[str]:
        """Every project ever registered, in registration order, from the notification log."""
        topic = get_topic(Project.Registered)
        start = 1
        while True:
            batch = self.app.recorder.select_notifications(start=start, limit=500, topics=[topic])
            if not batch:
                return
            for n in batch:
                yield self.app.mapper.to_domain_event(n).code  # type: ignore[attr-defined]
            start = batch[-1].id + 1

    # ---- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _missing(code: str) -> ProjectNotFound:
        return ProjectNotFound(f"未找到项目「{code}」", project_code=code)

    def _actor(self, actor: Actor) -> Actor:
        """The system acts as itself; staff must be in the directory, as they are."""
        if actor.user_id == "system":
            return actor
        known = self.staff.get(actor.user_id)
        if known != actor:
            raise UnknownActor(f"工作人员「{actor.user_id}」的身份信息与人员名册不符", user_id=actor.user_id)
        return known
