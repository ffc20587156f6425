"""Command handlers for cases: the only code that loads and saves ``Case`` aggregates.

Each command carries a ``command_id`` chosen by the caller (the workflow: ``{workflow_id}/{n}:{step}``).
A command already applied is answered from the stored case without recording anything, and a
concurrent writer (optimistic-concurrency conflict) makes us reload and try again. Together they
make a retried Temporal activity record each event exactly once. Every staff step goes through
ONE handler, ``execute``, which dispatches the typed request to the aggregate (``Case.take``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.utils import get_topic

from domain.calendar import (
    CALENDAR_BOOK_ID,
    CalendarBook,
    ServiceCalendar,
    YearArrangement,
    default_calendar,
    with_years,
)
from domain.cases.case import Case, StepContext
from domain.cases.legacy import HistoricalCase, ImportRecord
from domain.cases.model import CaseView, TimeRules, case_id
from domain.cases.steps import Accept, Decide, StepRequest, SubmitCase
from domain.catalogue import Authority, Catalogue, Level, default_catalogue
from domain.errors import CaseAlreadyExists, CaseNotFound, UnknownActor
from domain.handlers import Outcome, execute
from domain.recorded import RecordedRouting, RecordedStaff
from domain.staff import Actor, Assignment, StaffDirectory, default_staff
from domain.transfer.item import LicenceItem, item_id
from domain.transfer.supervision import SupervisionTask, supervision_task_id

_COMMON = {"originator_id", "originator_version", "originator_topic", "timestamp", "actor", "at", "command_id",
           "awaiting"}  # fmt: skip


@dataclass
class ImportOutcome:
    added: int = 0
    already_present: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (case_no, reason)
    notification_id: int | None = None


@dataclass(frozen=True)
class CommandOutcome:
    """What a command did: the case after it, and the notification id its save produced (if any)."""

    case: CaseView
    recorded: bool
    notification_id: int | None
    supervision_task: bool = False  # a decide step: the decision has its supervision task (审管联动)


@dataclass(frozen=True)
class TimelineEntry:
    """One fact of a case's history as staff read it."""

    version: int
    event: str
    label: str
    at: datetime
    recorded_at: datetime
    actor: Actor | None
    awaiting: Assignment | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return v.isoformat() if isinstance(v, datetime) else v

        return {
            "version": self.version,
            "event": self.event,
            "label": self.label,
            "at": self.at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "actor": self.actor.to_dict() if self.actor else None,
            "awaiting": self.awaiting.to_dict() if self.awaiting else None,
            **{k: plain(v) for k, v in self.details.items()},
        }


class CaseApplication(Application[Any]):
    name = "Cases"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        catalogue: Catalogue | None = None,
        calendar: ServiceCalendar | None = None,
        staff: StaffDirectory | None = None,
    ) -> None:
        super().__init__(env=env)
        self.catalogue = catalogue or default_catalogue()
        self._base_calendar = calendar or default_calendar()
        self._calendar = self._base_calendar
        self._calendar_version = 0
        # Routing and posts are read from the stored MatterRouting / StaffMember streams (domain.recorded):
        # a cut-over or a move recorded by any process is seen here at the next command, without a restart.
        self.routing = RecordedRouting(self, self.catalogue)
        self.staff = RecordedStaff(self, staff or default_staff())

    # ---- the calendar every process counts on ------------------------------------------------

    @property
    def calendar(self) -> ServiceCalendar:
        """The shipped calendar with the recorded years over it; a year recorded by another process is
        seen at the next command (checking costs one indexed read of the calendar book's newest event)."""
        newest = self.recorder.select_events(CALENDAR_BOOK_ID, desc=True, limit=1)
        version = newest[0].originator_version if newest else 0
        if version != self._calendar_version:
            book: CalendarBook = self.repository.get(CALENDAR_BOOK_ID)
            self._calendar = with_years(self._base_calendar, book.years)
            self._calendar_version = version
        return self._calendar

    def publish_calendar_year(
        self, arrangement: YearArrangement, *, actor: Actor, at: datetime, command_id: str
    ) -> Outcome[CalendarBook]:
        """Record a published year (idempotent: the same content again records nothing)."""

        def publish(book: CalendarBook) -> None:
            book.publish(arrangement, actor=actor.to_dict(), at=at, command_id=command_id)

        def create() -> CalendarBook:
            book = CalendarBook(actor=actor.to_dict(), at=at, command_id=f"{command_id}/open")
            publish(book)
            return book

        return execute(self, CALENDAR_BOOK_ID, command_id, publish, missing=lambda: CaseNotFound(""), create=create)

    # ---- commands -----------------------------------------------------------------------------

    def submit(self, req: SubmitCase, *, at: datetime, command_id: str, rules: TimeRules) -> CommandOutcome:
        """收件: routed to whoever is competent for the matter at this moment."""
        req = replace(req, actor=self._actor(req.actor))
        matter = self.catalogue.get(req.matter_code)

        def taken(_: Case) -> None:
            raise CaseAlreadyExists(f"办件编号「{req.case_no}」已存在", case_no=req.case_no)

        def create() -> Case:
            authority = self.routing.competent_authority(req.matter_code, at)
            return Case.submit(req, matter=matter, authority=authority, ctx=self._context(at, command_id, rules))

        out = execute(self, case_id(req.case_no), command_id, taken, missing=lambda: self._missing(req.case_no),
                      create=create)  # fmt: skip
        return CommandOutcome(out.aggregate.view(), out.recorded, out.notification_id)

    def execute(
        self,
        case_no: str,
        req: StepRequest,
        *,
        at: datetime,
        command_id: str,
        rules: TimeRules,
        then: StepRequest | None = None,
    ) -> CommandOutcome:
        """One step on one case, exactly once (``domain.handlers.execute``).

        Acceptance (by staff or deemed by law) first moves a case whose matter changed authority since
        it was submitted (``Case.reroute``, the same save): the authority valid at acceptance handles
        the case to its end. A decision of a programme item's bureau opens the origin department's
        supervision task in the same save (审管联动). ``then`` is a step the system takes at once
        afterwards in the same save (出件, then 办结), under the command id ``{command_id}/then``."""
        req = replace(req, actor=self._actor(req.actor))
        ctx = self._context(at, command_id, rules)

        def act(case: Case) -> None:
            if isinstance(req, Accept):
                self._reroute_if_needed(case, ctx)
            case.take(req, ctx)
            if then is not None:
                case.take(then, replace(ctx, command_id=f"{command_id}/then"))

        also_save = (lambda case: self._supervision_task(case, req, ctx)) if isinstance(req, Decide) else None
        out: Outcome[Case] = execute(
            self, case_id(case_no), command_id, act, missing=lambda: self._missing(case_no), also_save=also_save
        )
        supervised = isinstance(req, Decide) and bool(self.recorder.select_events(supervision_task_id(case_no),
                                                                                   limit=1))  # fmt: skip
        return CommandOutcome(out.aggregate.view(), out.recorded, out.notification_id, supervised)

    def import_cases(
        self, records: list[ImportRecord], *, batch: str, skip_conflicts: bool = False, chunk: int = 500
    ) -> ImportOutcome:
        """Load legacy cases idempotently: one already imported with the same content is skipped; one
        whose number is taken by other content is a conflict. Conflicts refuse the whole import
        (nothing written) unless ``skip_conflicts``. Saves ``chunk`` aggregates per transaction."""
        out = ImportOutcome()
        fresh: list[ImportRecord] = []
        for r in records:
            existing = self.recorder.select_events(case_id(r.case_no), limit=1)
            if not existing:
                fresh.append(r)
            elif getattr(self.mapper.to_domain_event(existing[0]), "source_hash", None) == r.source_hash:
                out.already_present += 1
            else:
                out.conflicts.append((r.case_no, "办件编号已存在且内容不同"))
        if out.conflicts and not skip_conflicts:
            return out
        for start in range(0, len(fresh), chunk):
            cases = [HistoricalCase(**r.as_event_fields(), batch=batch) for r in fresh[start : start + chunk]]
            recordings = self.save(*cases)
            out.added += len(cases)
            out.notification_id = recordings[-1].notification.id
        return out

    # ---- queries ------------------------------------------------------------------------------

    def get_case(self, case_no: str) -> CaseView:
        return self._get(case_no).view()

    def taken(self, case_no: str, command_id: str) -> CaseView | None:
        """The case if it took the command ``command_id`` (a workflow's registration, say), else None."""
        case = self._get(case_no)
        return case.view() if case.has_processed(command_id) else None

    def history(self, case_no: str) -> list[TimelineEntry]:
        """The case's events in order: the timeline staff see."""
        cid = case_id(case_no)
        if cid not in self.repository:
            raise CaseNotFound(f"未找到办件「{case_no}」", case_no=case_no)
        out = []
        for e in self.events.get(cid):
            data = e.__dict__
            actor = data.get("actor")
            at = data.get("at") or data.get("submitted_at") or e.timestamp  # type: ignore[attr-defined]
            out.append(
                TimelineEntry(
                    version=e.originator_version,
                    event=type(e).__name__,
                    label=getattr(type(e), "LABEL", "") or type(e).__name__,
                    at=at,
                    recorded_at=e.timestamp,  # type: ignore[attr-defined]
                    actor=Actor.from_dict(actor) if actor else None,
                    awaiting=Assignment.from_dict(data.get("awaiting")),
                    details={k: v for k, v in data.items() if k not in _COMMON},
                )
            )
        return out

    def iter_case_numbers(self) -> Iterator[str]:
        """Every case ever submitted, in submission order, from the notification log."""
        topic = get_topic(Case.Submitted)
        start = 1
        while True:
            batch = self.recorder.select_notifications(start=start, limit=500, topics=[topic])
            if not batch:
                return
            for n in batch:
                yield self.mapper.to_domain_event(n).case_no  # type: ignore[attr-defined]
            start = batch[-1].id + 1

    # ---- routing and 审管联动 ------------------------------------------------------------------

    def _reroute_if_needed(self, case: Case, ctx: StepContext) -> None:
        """A case not yet accepted goes to whoever is competent NOW, with a recorded ``Rerouted`` event."""
        if case.accepted_at is not None:
            return
        policy = self.routing.policy(case.matter_code)
        target = policy.reroute_needed(
            matter_code=case.matter_code,
            submitted_at=case.submitted_at,
            accepted_at=None,
            now=ctx.at,
            routed_to=Authority(case.department, Level(case.level), case.region),
        )
        change = self.routing.change_in_effect(case.matter_code, ctx.at)
        if target is not None and change is not None:
            case.reroute(change, ctx)

    def _supervision_task(self, case: Case, req: Decide, ctx: StepContext) -> list[SupervisionTask]:
        """The supervision task of a decision by the bureau of a programme item, if this decision is one."""
        programme = self.routing.transfer_programme(case.matter_code)
        if programme is None:
            return []
        try:
            item: LicenceItem = self.repository.get(item_id(programme, case.matter_code))
        except AggregateNotFoundError:
            return []
        if case.department != item.bureau or self.recorder.select_events(supervision_task_id(case.case_no), limit=1):
            return []
        task = SupervisionTask.issue(
            case_no=case.case_no,
            item=item,
            decision=req.outcome,
            decided_by=case.department,
            decided_at=ctx.at,
            calendar=ctx.calendar,
            actor=req.actor,
            at=ctx.at,
            command_id=f"{ctx.command_id}/supervision",
        )
        return [task]

    # ---- helpers ------------------------------------------------------------------------------

    def _context(self, at: datetime, command_id: str, rules: TimeRules) -> StepContext:
        return StepContext(at=at, command_id=command_id, calendar=self.calendar, rules=rules)

    @staticmethod
    def _missing(case_no: str) -> CaseNotFound:
        return CaseNotFound(f"未找到办件「{case_no}」", case_no=case_no)

    def _get(self, case_no: str) -> Case:
        try:
            case: Case = self.repository.get(case_id(case_no))
        except AggregateNotFoundError:
            raise self._missing(case_no) from None
        return case

    def _actor(self, actor: Actor) -> Actor:
        """System timers act as themselves; staff must be in the directory, as they are."""
        if actor.user_id == "system":
            return actor
        known = self.staff.get(actor.user_id)
        if not known.same_person(actor):
            raise UnknownActor(f"工作人员「{actor.user_id}」的身份信息与人员名册不符", user_id=actor.user_id)
        return replace(known, via=actor.via)  # the channel (web, api, cli) is recorded with the actor
