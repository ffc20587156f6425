"""Command handlers for cases: the only code that loads and saves ``Case`` aggregates.

Each command carries a ``command_id`` chosen by the caller (the workflow: ``{workflow_id}/{step}/{n}``).
A command already applied is answered from the stored case without recording anything, and a
concurrent writer (optimistic-concurrency conflict) makes us reload and try again. Together they
make a retried Temporal activity record each event exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from domain.calendar import ServiceCalendar, default_calendar
from domain.case import Case, TimeRules, case_id
from domain.catalogue import Catalogue, default_catalogue
from domain.errors import CaseAlreadyExists, CaseNotFound, DomainError, UnknownActor
from domain.history import HistoricalCase, ImportRecord
from domain.staff import Actor, StaffDirectory, default_staff

MAX_CONFLICT_RETRIES = 10


@dataclass
class ImportOutcome:
    added: int = 0
    already_present: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (case_no, reason)
    notification_id: int | None = None


@dataclass(frozen=True)
class CommandOutcome:
    """What a command did: the case after it, and the notification id its save produced (if any)."""

    case: dict[str, Any]
    recorded: bool
    notification_id: int | None


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
        self.calendar = calendar or default_calendar()
        self.staff = staff or default_staff()

    # ---- commands -----------------------------------------------------------------------------

    def submit(
        self,
        *,
        case_no: str,
        matter_code: str,
        applicant: str,
        provided_materials: list[str],
        actor: dict[str, Any],
        at: datetime,
        command_id: str,
        rules: TimeRules,
    ) -> CommandOutcome:
        """收件: routed to whoever is competent for the matter at this moment."""
        who = self._actor(actor)
        matter = self.catalogue.get(matter_code)
        try:
            existing = self._get(case_no)
        except CaseNotFound:
            existing = None
        if existing is not None:
            if existing.has_processed(command_id):
                return CommandOutcome(existing.summary(), False, None)
            raise CaseAlreadyExists(f"办件编号「{case_no}」已存在", case_no=case_no)
        case = Case.submit(
            case_no=case_no,
            matter=matter,
            authority=self.catalogue.competent_authority(matter_code, at),
            applicant=applicant,
            provided_materials=provided_materials,
            actor=who,
            at=at,
            command_id=command_id,
            calendar=self.calendar,
            rules=rules,
        )
        try:
            recordings = self.save(case)
        except IntegrityError:
            # A concurrent or earlier attempt created it: answer as that attempt would have.
            existing = self._get(case_no)
            if existing.has_processed(command_id):
                return CommandOutcome(existing.summary(), False, None)
            raise CaseAlreadyExists(f"办件编号「{case_no}」已存在", case_no=case_no) from None
        return CommandOutcome(case.summary(), True, recordings[-1].notification.id)

    def execute(
        self, case_no: str, command_id: str, step: Callable[[Case, Actor], None], actor: dict[str, Any]
    ) -> CommandOutcome:
        """Load → (already done? answer) → command → save; reload and retry on a version conflict."""
        who = self._actor(actor)
        for _ in range(MAX_CONFLICT_RETRIES):
            case = self._get(case_no)
            if case.has_processed(command_id):
                return CommandOutcome(case.summary(), False, None)
            step(case, who)
            try:
                recordings = self.save(case)
            except IntegrityError:
                continue
            return CommandOutcome(case.summary(), True, recordings[-1].notification.id if recordings else None)
        raise DomainError(f"办件「{case_no}」并发修改过多，请稍后重试", code="CASE_CONFLICT")

    def issue_notice(
        self,
        case_no: str,
        *,
        missing: list[str],
        actor: dict[str, Any],
        at: datetime,
        command_id: str,
        rules: TimeRules,
    ) -> CommandOutcome:
        return self.execute(
            case_no,
            command_id,
            lambda c, a: c.issue_notice(
                missing=missing, actor=a, at=at, command_id=command_id, calendar=self.calendar, rules=rules
            ),
            actor,
        )

    def supplement(
        self,
        case_no: str,
        *,
        materials: list[str],
        actor: dict[str, Any],
        at: datetime,
        command_id: str,
        rules: TimeRules,
    ) -> CommandOutcome:
        return self.execute(
            case_no,
            command_id,
            lambda c, a: c.supplement(
                materials=materials, actor=a, at=at, command_id=command_id, calendar=self.calendar, rules=rules
            ),
            actor,
        )

    def accept(
        self,
        case_no: str,
        *,
        actor: dict[str, Any],
        at: datetime,
        command_id: str,
        rules: TimeRules,
        deemed: bool = False,
    ) -> CommandOutcome:
        return self.execute(
            case_no,
            command_id,
            lambda c, a: c.accept(
                actor=a, at=at, command_id=command_id, calendar=self.calendar, rules=rules, deemed=deemed
            ),
            actor,
        )

    def refuse(
        self,
        case_no: str,
        *,
        reason: str,
        actor: dict[str, Any],
        at: datetime,
        command_id: str,
        overdue_correction: bool = False,
    ) -> CommandOutcome:
        return self.execute(
            case_no,
            command_id,
            lambda c, a: c.refuse(
                reason=reason, actor=a, at=at, command_id=command_id, overdue_correction=overdue_correction
            ),
            actor,
        )

    def suspend(
        self, case_no: str, *, reason: str, note: str, actor: dict[str, Any], at: datetime, command_id: str
    ) -> CommandOutcome:
        return self.execute(
            case_no,
            command_id,
            lambda c, a: c.suspend(reason=reason, note=note, actor=a, at=at, command_id=command_id),
            actor,
        )

    def resume(self, case_no: str, *, actor: dict[str, Any], at: datetime, command_id: str) -> CommandOutcome:
        return self.execute(
            case_no,
            command_id,
            lambda c, a: c.resume(actor=a, at=at, command_id=command_id, calendar=self.calendar),
            actor,
        )

    def decide(
        self, case_no: str, *, outcome: str, reason: str, actor: dict[str, Any], at: datetime, command_id: str
    ) -> CommandOutcome:
        return self.execute(
            case_no,
            command_id,
            lambda c, a: c.decide(outcome=outcome, reason=reason, actor=a, at=at, command_id=command_id),
            actor,
        )

    def deliver(self, case_no: str, *, actor: dict[str, Any], at: datetime, command_id: str) -> CommandOutcome:
        return self.execute(case_no, command_id, lambda c, a: c.deliver(actor=a, at=at, command_id=command_id), actor)

    def complete(self, case_no: str, *, actor: dict[str, Any], at: datetime, command_id: str) -> CommandOutcome:
        return self.execute(case_no, command_id, lambda c, a: c.complete(actor=a, at=at, command_id=command_id), actor)

    def withdraw(
        self, case_no: str, *, reason: str, actor: dict[str, Any], at: datetime, command_id: str
    ) -> CommandOutcome:
        return self.execute(
            case_no, command_id, lambda c, a: c.withdraw(reason=reason, actor=a, at=at, command_id=command_id), actor
        )

    def warn(self, case_no: str, *, actor: dict[str, Any], at: datetime, command_id: str) -> CommandOutcome:
        return self.execute(case_no, command_id, lambda c, a: c.warn(actor=a, at=at, command_id=command_id), actor)

    def mark_overdue(self, case_no: str, *, actor: dict[str, Any], at: datetime, command_id: str) -> CommandOutcome:
        return self.execute(
            case_no, command_id, lambda c, a: c.mark_overdue(actor=a, at=at, command_id=command_id), actor
        )

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

    def get_case(self, case_no: str) -> dict[str, Any]:
        return self._get(case_no).summary()

    def history(self, case_no: str) -> list[dict[str, Any]]:
        """The case's events in order, as plain values (the timeline staff see)."""
        cid = case_id(case_no)
        if cid not in self.repository:
            raise CaseNotFound(f"未找到办件「{case_no}」", case_no=case_no)
        out = []
        for e in self.events.get(cid):
            data = {k: v for k, v in e.__dict__.items() if k not in ("originator_id", "originator_topic")}
            out.append(
                {
                    "version": e.originator_version,
                    "event": type(e).__name__,
                    "recorded_at": e.timestamp.isoformat(),  # type: ignore[attr-defined]
                    **{
                        k: (v.isoformat() if isinstance(v, datetime) else v)
                        for k, v in data.items()
                        if k not in ("originator_version", "timestamp")
                    },
                }
            )
        return out

    def iter_case_numbers(self) -> Iterator[str]:
        """Every case ever submitted, in submission order, from the notification log."""
        topic = get_topic(Case.Submitted)  # type: ignore[attr-defined]
        start = 1
        while True:
            batch = self.recorder.select_notifications(start=start, limit=500, topics=[topic])
            if not batch:
                return
            for n in batch:
                yield self.mapper.to_domain_event(n).case_no  # type: ignore[attr-defined]
            start = batch[-1].id + 1

    # ---- helpers ------------------------------------------------------------------------------

    def _get(self, case_no: str) -> Case:
        try:
            case: Case = self.repository.get(case_id(case_no))
        except AggregateNotFoundError:
            raise CaseNotFound(f"未找到办件「{case_no}」", case_no=case_no) from None
        return case

    def _actor(self, data: dict[str, Any]) -> Actor:
        """System timers act as themselves; staff must be in the directory, as they are."""
        actor = Actor.from_dict(data)
        if actor.user_id == "system":
            return actor
        known = self.staff.get(actor.user_id)
        if known != actor:
            raise UnknownActor(f"工作人员「{actor.user_id}」的身份信息与人员名册不符", user_id=actor.user_id)
        return known
