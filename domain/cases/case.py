"""The case (办件) aggregate: one application for one matter by one applicant.

Every event carries ``actor``, ``at``, ``command_id`` (from ``Recorded``) and ``awaiting`` (who may
act next, or ``None`` when nobody on the staff side is due to act), so that worklists can be
projected from events alone. Each staff or timer step is a method named after the step
(``Case.decide`` for ``Step.DECIDE``) that runs the step's registered rules (``steps.validate``,
the same the workflow's Update validator runs) and then records the step's event; ``Case.take``
dispatches a typed request to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.calendar import DayType, ServiceCalendar, end_of_day, to_local
from domain.cases.model import CaseStatus, CaseView, TimeRules, case_id
from domain.cases.steps import (
    Accept,
    Acting,
    Adopt,
    Complete,
    Decide,
    Deliver,
    MarkOverdue,
    Notice,
    RecomputeDeadline,
    Refuse,
    Resume,
    StepRequest,
    SubmitCase,
    Supplement,
    Suspend,
    Warn,
    Withdraw,
    check_materials,
    validate,
)
from domain.catalogue import Authority, Matter
from domain.errors import ActorNotPermitted, IllegalTransition, InvalidValue
from domain.events import Recorded
from domain.routing import RoutingChange
from domain.staff import SYSTEM_ACTOR, Assignment
from domain.text import check_case_no, clean


@dataclass(frozen=True)
class StepContext:
    """What a command needs besides its request: when, its idempotency key, and the rules of time."""

    at: datetime
    command_id: str
    calendar: ServiceCalendar
    rules: TimeRules


@dataclass(frozen=True)
class Deadlines:
    deadline_day: date
    warning_day: date
    promised_deadline: datetime
    warning_at: datetime
    provisional: bool


def promised_deadlines(
    start: datetime, days: int, day_type: DayType, calendar: ServiceCalendar, rules: TimeRules
) -> Deadlines:
    """The promised deadline and the warning moment of a time limit that starts at ``start``.

    The deadline is the end (Beijing midnight) of the ``days``-th counted day after the start day.
    The warning falls on the end of the k-th counted day, k = floor(days × share), at most days − 1:
    after the start and before the deadline. For a limit too short for that (k = 0, e.g. one
    working day at the 0.8 default) the warning falls at ``share`` of the time between the start
    and the deadline, so it is still strictly after acceptance and before the deadline."""
    local_day = to_local(start).date()
    deadline_day, provisional = calendar.add_days(local_day, days, day_type, allow_provisional=True)
    deadline = end_of_day(deadline_day)
    k = max(0, min(days - 1, int(days * rules.warning_share)))
    if k:
        warning_day, _ = calendar.add_days(local_day, k, day_type, allow_provisional=True)
        warning_at = end_of_day(warning_day)
    else:
        warning_day = local_day
        warning_at = start + (deadline - start) * rules.warning_share
    return Deadlines(deadline_day, warning_day, deadline, warning_at, provisional)


class Case(Aggregate):
    """One 办件. Command methods check the registered rules, then record the step's event."""

    class Event(Recorded):
        LABEL = ""  # what the timeline calls this fact
        awaiting: dict[str, str] | None

        def apply(self, case: Case) -> None:
            self.change(case)
            case.processed_commands.append(self.command_id)
            case.awaiting = Assignment.from_dict(self.awaiting)

        def change(self, case: Case) -> None:
            """What this fact changes; the shared bookkeeping is done by ``apply``."""

    class Submitted(Aggregate.Created, Event):
        LABEL = "收件"
        case_no: str
        matter_code: str
        matter_name: str
        matter_kind: str
        department: str
        level: str
        region: str
        applicant: str
        required_materials: list[str]
        provided_materials: list[str]
        statutory_days: int
        promised_days: int
        day_type: str
        deemed_acceptance_at: datetime
        imported: bool = False
        demo: bool = False

        def apply(self, case: Case) -> None:
            """``__init__`` did it all."""

    class CorrectionNoticeIssued(Event):
        LABEL = "一次性告知补正"
        round: int
        missing: list[str]
        correction_due_at: datetime

        def change(self, case: Case) -> None:
            case.status = CaseStatus.AWAITING_CORRECTION
            case.correction_round = self.round
            case.correction_due_at = self.correction_due_at
            case.missing_listed = list(self.missing)
            case.deemed_acceptance_at = None  # a notice in time answers §32

    class Supplemented(Event):
        LABEL = "补正材料"
        materials: list[str]
        deemed_acceptance_at: datetime

        def change(self, case: Case) -> None:
            case.provided_materials += [m for m in self.materials if m not in case.provided_materials]
            case.status = CaseStatus.SUBMITTED
            case.correction_due_at = None
            case.deemed_acceptance_at = self.deemed_acceptance_at

    class Accepted(Event):
        LABEL = "受理"
        deemed: bool
        deadline_day: str
        warning_day: str
        promised_deadline: datetime
        warning_at: datetime
        provisional: bool

        def change(self, case: Case) -> None:
            case.status = CaseStatus.UNDER_REVIEW
            case.accepted_at = self.at
            case.deemed_accepted = self.deemed
            case.deemed_acceptance_at = None
            case._set_deadlines(self)

    class AcceptanceRefused(Event):
        LABEL = "不予受理"
        reason: str
        overdue_correction: bool

        def change(self, case: Case) -> None:
            case.status = CaseStatus.REFUSED
            case.closed_reason = self.reason
            case.deemed_acceptance_at = None
            case.correction_due_at = None

    class ClockSuspended(Event):
        LABEL = "中止计时"
        reason: str
        note: str

        def change(self, case: Case) -> None:
            case.status = CaseStatus.SUSPENDED
            case.suspended_since = self.at
            case.suspension_reason = self.reason
            case.suspension_note = self.note

    class ClockResumed(Event):
        LABEL = "恢复计时"
        suspended_days: int
        deadline_day: str
        warning_day: str
        promised_deadline: datetime
        warning_at: datetime
        provisional: bool

        def change(self, case: Case) -> None:
            case.status = CaseStatus.UNDER_REVIEW
            case.suspended_since = None
            case.suspended_days += self.suspended_days
            case._set_deadlines(self)

    class Decided(Event):
        LABEL = "作出决定"
        outcome: str
        reason: str

        def change(self, case: Case) -> None:
            case.status = CaseStatus.DECIDED
            case.decision = self.outcome
            case.decision_reason = self.reason
            case.decided_at = self.at

    class Delivered(Event):
        LABEL = "出件"

        def change(self, case: Case) -> None:
            case.status = CaseStatus.DELIVERED
            case.delivered_at = self.at

    class Completed(Event):
        LABEL = "办结"
        on_time: bool

        def change(self, case: Case) -> None:
            case.status = CaseStatus.COMPLETED
            case.completed_at = self.at

    class Withdrawn(Event):
        LABEL = "撤回"
        reason: str

        def change(self, case: Case) -> None:
            case.status = CaseStatus.WITHDRAWN
            case.closed_reason = self.reason
            case.suspended_since = None

    class DeadlineWarned(Event):
        LABEL = "超期预警"
        deadline: datetime | None

        def change(self, case: Case) -> None:
            case.warned = True

    class BecameOverdue(Event):
        LABEL = "超期"
        deadline: datetime

        def change(self, case: Case) -> None:
            case.overdue = True

    class Rerouted(Event):
        """The matter changed authority (划转, 回退, 移出清单) between submission and acceptance: the case
        moves to the authority competent at acceptance, which handles it to its end."""

        LABEL = "改由新实施机关办理"
        from_department: str
        from_level: str
        from_region: str
        department: str
        level: str
        region: str
        effective_from: datetime
        cause: str
        source: str
        approved_by: str
        legal_basis: str
        reason: str

        def change(self, case: Case) -> None:
            case.department, case.level, case.region = self.department, self.level, self.region

    class DeadlineRecomputed(Event):
        """The holidays of a year the deadline reached into were published: the days are counted again."""

        LABEL = "按新节假日安排重算期限"
        deadline_day: str
        warning_day: str
        promised_deadline: datetime
        warning_at: datetime
        provisional: bool
        previous_deadline: datetime
        calendar_years: list[int]

        def change(self, case: Case) -> None:
            case._set_deadlines(self)

    # ---- construction -------------------------------------------------------------------------

    @staticmethod
    def create_id(case_no: str) -> UUID:
        return case_id(case_no)

    @event(Submitted)
    def __init__(
        self,
        case_no: str,
        matter_code: str,
        matter_name: str,
        matter_kind: str,
        department: str,
        level: str,
        region: str,
        applicant: str,
        required_materials: list[str],
        provided_materials: list[str],
        statutory_days: int,
        promised_days: int,
        day_type: str,
        deemed_acceptance_at: datetime | None,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
        imported: bool = False,
        demo: bool = False,
    ) -> None:
        self._start(
            case_no=case_no,
            matter_code=matter_code,
            matter_name=matter_name,
            matter_kind=matter_kind,
            department=department,
            level=level,
            region=region,
            applicant=applicant,
            required_materials=required_materials,
            provided_materials=provided_materials,
            statutory_days=statutory_days,
            promised_days=promised_days,
            day_type=day_type,
            submitted_at=at,
            deemed_acceptance_at=deemed_acceptance_at,
            awaiting=Assignment.from_dict(awaiting),
            imported=imported,
            demo=demo,
        )
        self.processed_commands.append(command_id)

    def _start(
        self,
        *,
        case_no: str,
        matter_code: str,
        matter_name: str,
        matter_kind: str,
        department: str,
        level: str,
        region: str,
        applicant: str,
        required_materials: list[str],
        provided_materials: list[str],
        statutory_days: int,
        promised_days: int,
        day_type: str,
        submitted_at: datetime,
        deemed_acceptance_at: datetime | None,
        awaiting: Assignment | None,
        imported: bool,
        demo: bool,
    ) -> None:
        """The state of a case as it starts (shared by live and imported cases)."""
        self.case_no = case_no
        self.matter_code = matter_code
        self.matter_name = matter_name
        self.matter_kind = matter_kind
        self.department = department
        self.level = level
        self.region = region
        self.applicant = applicant
        self.required_materials = list(required_materials)
        self.provided_materials = list(provided_materials)
        self.statutory_days = statutory_days
        self.promised_days = promised_days
        self.day_type = day_type
        self.status = CaseStatus.SUBMITTED
        self.submitted_at = submitted_at
        self.deemed_acceptance_at: datetime | None = deemed_acceptance_at
        self.correction_round = 0
        self.correction_due_at: datetime | None = None
        self.missing_listed: list[str] = []
        self.accepted_at: datetime | None = None
        self.deemed_accepted = False
        self.deadline_day: str | None = None
        self.warning_day: str | None = None
        self.promised_deadline: datetime | None = None
        self.warning_at: datetime | None = None
        self.deadline_provisional = False
        self.suspended_since: datetime | None = None
        self.suspended_days = 0
        self.suspension_reason = ""
        self.suspension_note = ""
        self.decision: str | None = None
        self.decision_reason = ""
        self.decided_at: datetime | None = None
        self.delivered_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.closed_reason: str | None = None
        self.warned = False
        self.overdue = False
        self.awaiting: Assignment | None = awaiting
        self.imported = imported
        self.adopted = False
        self.import_batch = ""
        self.demo = demo
        self.processed_commands: list[str] = []

    @classmethod
    def submit(cls, req: SubmitCase, *, matter: Matter, authority: Authority, ctx: StepContext) -> Case:
        """收件 at the front desk of the competent authority's region."""
        check_case_no(req.case_no)
        applicant = clean(req.applicant, field="applicant", label="申请人")
        front = Acting.FRONT_DESK.assignment(authority.region, authority.department)
        assert front is not None
        actor = req.actor
        if actor.post != "system" and not front.admits(actor):
            raise ActorNotPermitted(f"{actor.describe()}无权收件，应由{front.describe()}收件", step="submit")
        given = list(req.provided_materials)
        _Required(list(matter.materials)).check(given)
        deemed = ctx.calendar.deadline(ctx.at, ctx.rules.deemed_acceptance_days, ctx.rules.deemed_acceptance_day_type)
        return cls(
            case_no=req.case_no,
            matter_code=matter.code,
            matter_name=matter.name,
            matter_kind=matter.kind.value,
            department=authority.department,
            level=authority.level.value,
            region=authority.region,
            applicant=applicant,
            required_materials=list(matter.materials),
            provided_materials=given,
            statutory_days=matter.statutory_days,
            promised_days=matter.promised_days,
            day_type=matter.day_type.value,
            deemed_acceptance_at=deemed.at,
            actor=actor.to_dict(),
            at=ctx.at,
            command_id=ctx.command_id,
            awaiting=front.to_dict(),
            demo=req.demo,
        )

    # ---- queries ------------------------------------------------------------------------------

    @property
    def missing_materials(self) -> list[str]:
        return [m for m in self.required_materials if m not in self.provided_materials]

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    def view(self) -> CaseView:
        return CaseView(
            case_no=self.case_no,
            status=self.status,
            matter_code=self.matter_code,
            matter_name=self.matter_name,
            matter_kind=self.matter_kind,
            department=self.department,
            level=self.level,
            region=self.region,
            applicant=self.applicant,
            required_materials=list(self.required_materials),
            provided_materials=list(self.provided_materials),
            correction_round=self.correction_round,
            submitted_at=self.submitted_at,
            deemed_acceptance_at=self.deemed_acceptance_at,
            correction_due_at=self.correction_due_at,
            accepted_at=self.accepted_at,
            deemed_accepted=self.deemed_accepted,
            promised_days=self.promised_days,
            day_type=self.day_type,
            promised_deadline=self.promised_deadline,
            warning_at=self.warning_at,
            deadline_provisional=self.deadline_provisional,
            suspended_since=self.suspended_since,
            suspended_days=self.suspended_days,
            decision=self.decision,
            decided_at=self.decided_at,
            delivered_at=self.delivered_at,
            completed_at=self.completed_at,
            closed_reason=self.closed_reason,
            warned=self.warned,
            overdue=self.overdue,
            awaiting=self.awaiting,
            version=self.version,
            imported=self.imported,
            adopted=self.adopted,
            decision_reason=self.decision_reason,
            suspension_reason=self.suspension_reason if self.status is CaseStatus.SUSPENDED else "",
            suspension_note=self.suspension_note if self.status is CaseStatus.SUSPENDED else "",
            missing_listed=list(self.missing_listed),
            demo=self.demo,
            import_batch=self.import_batch,
        )

    # ---- steps --------------------------------------------------------------------------------

    def take(self, req: StepRequest, ctx: StepContext) -> None:
        """Dispatch a typed request to the step's method (the method is named after the step)."""
        getattr(self, req.step.value)(req, ctx)

    def notice(self, req: Notice, ctx: StepContext) -> None:
        """一次性告知: ONE notice listing ALL missing materials, never anything already complete."""
        self._validate(req, ctx)
        due = ctx.calendar.deadline(ctx.at, ctx.rules.correction_window_days, ctx.rules.correction_day_type)
        self._record(
            Case.CorrectionNoticeIssued,
            req,
            ctx,
            None,
            round=self.correction_round + 1,
            missing=list(req.materials),
            correction_due_at=due.at,
        )

    def supplement(self, req: Supplement, ctx: StepContext) -> None:
        self._validate(req, ctx)
        deemed = ctx.calendar.deadline(ctx.at, ctx.rules.deemed_acceptance_days, ctx.rules.deemed_acceptance_day_type)
        front = Acting.FRONT_DESK.assignment(self.region, self.department)
        self._record(Case.Supplemented, req, ctx, front, materials=list(req.materials), deemed_acceptance_at=deemed.at)

    def accept(self, req: Accept, ctx: StepContext) -> None:
        """受理, or deemed acceptance by law (§32) when the front desk did not answer in time."""
        self._validate(req, ctx)
        d = promised_deadlines(ctx.at, self.promised_days, DayType(self.day_type), ctx.calendar, ctx.rules)
        self._record(
            Case.Accepted,
            req,
            ctx,
            Acting.REVIEWER.assignment(self.region, self.department),
            deemed=req.deemed,
            deadline_day=d.deadline_day.isoformat(),
            warning_day=d.warning_day.isoformat(),
            promised_deadline=d.promised_deadline,
            warning_at=d.warning_at,
            provisional=d.provisional,
        )

    def reroute(self, change: RoutingChange, ctx: StepContext) -> None:
        """Move a case not yet accepted to the authority of a routing change (recorded by the system).

        Intake stays at the region's front desk (``domain.routing.handling_posts``); the case now
        waits there for the new authority, whose reviewers get it once it is accepted."""
        if self.status not in (CaseStatus.SUBMITTED, CaseStatus.AWAITING_CORRECTION):
            raise IllegalTransition(
                f"办件已{self.status.label}，由受理时的实施机关办结，不再改派", status=self.status.value
            )
        a = change.authority
        if (a.department, a.level.value, a.region) == (self.department, self.level, self.region):
            return
        front = Acting.FRONT_DESK.assignment(a.region, a.department)
        self.trigger_event(
            Case.Rerouted,
            actor=SYSTEM_ACTOR.to_dict(),
            at=ctx.at,
            command_id=f"{ctx.command_id}/reroute",
            awaiting=front.to_dict() if front and self.awaiting is not None else None,
            from_department=self.department,
            from_level=self.level,
            from_region=self.region,
            department=a.department,
            level=a.level.value,
            region=a.region,
            effective_from=change.effective_from,
            cause=change.cause.value,
            source=change.source,
            approved_by=change.approved_by,
            legal_basis=change.legal_basis,
            reason=change.reason,
        )

    def refuse(self, req: Refuse, ctx: StepContext) -> None:
        """不予受理 (by staff), or the end of a case whose correction window ran out."""
        self._validate(req, ctx)
        self._record(
            Case.AcceptanceRefused, req, ctx, None, reason=req.reason, overdue_correction=req.overdue_correction
        )

    def suspend(self, req: Suspend, ctx: StepContext) -> None:
        """Hearing, testing, expert review: time that does not count toward the limit."""
        self._validate(req, ctx)
        self._record(Case.ClockSuspended, req, ctx, self.awaiting, reason=req.reason, note=req.note)

    def resume(self, req: Resume, ctx: StepContext) -> None:
        """The deadline and the warning move on by the suspended days (counted like the limit)."""
        self._validate(req, ctx)
        assert self.suspended_since is not None and self.deadline_day and self.warning_day
        day_type = DayType(self.day_type)
        days = ctx.calendar.count_days(
            to_local(self.suspended_since).date(), to_local(ctx.at).date(), day_type, allow_provisional=True
        )
        deadline_day, provisional = ctx.calendar.add_days(
            date.fromisoformat(self.deadline_day), days, day_type, allow_provisional=True
        )
        warning_day, _ = ctx.calendar.add_days(
            date.fromisoformat(self.warning_day), days, day_type, allow_provisional=True
        )
        warning_at = end_of_day(warning_day) if days else self.warning_at
        assert warning_at is not None
        self._record(
            Case.ClockResumed,
            req,
            ctx,
            self.awaiting,
            suspended_days=days,
            deadline_day=deadline_day.isoformat(),
            warning_day=warning_day.isoformat(),
            promised_deadline=end_of_day(deadline_day),
            warning_at=warning_at,
            provisional=provisional or self.deadline_provisional,
        )

    def decide(self, req: Decide, ctx: StepContext) -> None:
        self._validate(req, ctx)
        output = Acting.OUTPUT_WINDOW.assignment(self.region, self.department)
        self._record(Case.Decided, req, ctx, output, outcome=req.outcome, reason=req.reason)

    def deliver(self, req: Deliver, ctx: StepContext) -> None:
        """出件 at the unified output window."""
        self._validate(req, ctx)
        self._record(Case.Delivered, req, ctx, None)

    def complete(self, req: Complete, ctx: StepContext) -> None:
        """办结: the result is in the applicant's hands."""
        self._validate(req, ctx)
        on_time = self.promised_deadline is None or ctx.at <= self.promised_deadline
        self._record(Case.Completed, req, ctx, None, on_time=on_time)

    def withdraw(self, req: Withdraw, ctx: StepContext) -> None:
        self._validate(req, ctx)
        self._record(Case.Withdrawn, req, ctx, None, reason=req.reason)

    def warn(self, req: Warn, ctx: StepContext) -> None:
        """预警: a configurable share of the promised time limit has gone by."""
        self._validate(req, ctx)
        self._record(Case.DeadlineWarned, req, ctx, self.awaiting, deadline=self.promised_deadline)

    def mark_overdue(self, req: MarkOverdue, ctx: StepContext) -> None:
        self._validate(req, ctx)
        self._record(Case.BecameOverdue, req, ctx, self.awaiting, deadline=self.promised_deadline)

    def recompute_deadline(self, req: RecomputeDeadline, ctx: StepContext) -> None:
        """Count the limit again from acceptance on the calendar as it is now, suspended days added."""
        self._validate(req, ctx)
        assert self.accepted_at is not None and self.promised_deadline is not None
        day_type = DayType(self.day_type)
        d = promised_deadlines(self.accepted_at, self.promised_days, day_type, ctx.calendar, ctx.rules)
        deadline_day, warning_day = d.deadline_day, d.warning_day
        provisional = d.provisional
        if self.suspended_days:
            deadline_day, p = ctx.calendar.add_days(deadline_day, self.suspended_days, day_type, allow_provisional=True)
            warning_day, _ = ctx.calendar.add_days(warning_day, self.suspended_days, day_type, allow_provisional=True)
            provisional = provisional or p
        warning_at = end_of_day(warning_day) if self.suspended_days else d.warning_at
        self._record(
            Case.DeadlineRecomputed,
            req,
            ctx,
            self.awaiting,
            deadline_day=deadline_day.isoformat(),
            warning_day=warning_day.isoformat(),
            promised_deadline=end_of_day(deadline_day),
            warning_at=warning_at,
            provisional=provisional,
            previous_deadline=self.promised_deadline,
            calendar_years=sorted(ctx.calendar.years),
        )

    def adopt(self, req: Adopt, ctx: StepContext) -> None:
        """Only an imported case is adopted (``HistoricalCase.adopt``): the step's rule refuses any other."""
        self._validate(req, ctx)
        raise IllegalTransition("只有历史导入的办件可以接管", step=req.step.value)

    # ---- helpers ------------------------------------------------------------------------------

    def _validate(self, req: StepRequest, ctx: StepContext) -> None:
        validate(self, req, ctx.at)
        if ctx.at.tzinfo is None:
            raise InvalidValue("时间必须带时区", field="at")
        if ctx.at < self.submitted_at:
            raise InvalidValue("办理时间早于申请时间", field="at")

    def _record(
        self,
        cls: type[Any],
        req: StepRequest,
        ctx: StepContext,
        awaiting: Assignment | None,
        **values: Any,
    ) -> None:
        self.trigger_event(
            cls,
            actor=req.actor.to_dict(),
            at=ctx.at,
            command_id=ctx.command_id,
            awaiting=awaiting.to_dict() if awaiting else None,
            **values,
        )

    def _set_deadlines(self, e: Any) -> None:
        self.deadline_day = e.deadline_day
        self.warning_day = e.warning_day
        self.promised_deadline = e.promised_deadline
        self.warning_at = e.warning_at
        self.deadline_provisional = e.provisional


@dataclass(frozen=True)
class _Required:
    """The submit-time material check, over the matter's list (the case does not exist yet)."""

    required_materials: list[str]
    provided_materials: tuple[str, ...] = ()

    def check(self, given: list[str]) -> None:
        check_materials(self, given, allow_empty=True)  # type: ignore[arg-type]
