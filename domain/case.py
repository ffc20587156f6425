"""The case (办件) aggregate: one application for one matter by one applicant.

Every event carries ``actor`` (who did it), ``at`` (business time, UTC: the workflow's clock,
not the wall clock of whichever machine saved it), ``command_id`` (so a retried command is
recognised and records nothing) and ``awaiting`` (who may act next, or ``None`` when nobody on
the staff side is due to act), so that worklists can be projected from events alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.calendar import DayType, ServiceCalendar, end_of_day, to_local
from domain.catalogue import Authority, Matter
from domain.errors import (
    ActorNotPermitted,
    IllegalTransition,
    InvalidValue,
    MissingField,
    NoticeRefused,
    UnknownActor,
)
from domain.staff import Actor, Assignment, Post, service_centre


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    AWAITING_CORRECTION = "awaiting_correction"
    UNDER_REVIEW = "under_review"
    SUSPENDED = "suspended"
    DECIDED = "decided"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def is_closed(self) -> bool:
        return self in (CaseStatus.COMPLETED, CaseStatus.REFUSED, CaseStatus.WITHDRAWN)


_STATUS_LABELS = {
    CaseStatus.SUBMITTED: "待受理",
    CaseStatus.AWAITING_CORRECTION: "待补正",
    CaseStatus.UNDER_REVIEW: "审查中",
    CaseStatus.SUSPENDED: "中止计时",
    CaseStatus.DECIDED: "已决定待出件",
    CaseStatus.DELIVERED: "已出件",
    CaseStatus.COMPLETED: "已办结",
    CaseStatus.REFUSED: "不予受理",
    CaseStatus.WITHDRAWN: "已撤回",
}


class Step(StrEnum):
    """Staff (and timer) steps; each is legal only from the statuses in ``LEGAL_FROM``."""

    NOTICE = "notice"
    SUPPLEMENT = "supplement"
    ACCEPT = "accept"
    REFUSE = "refuse"
    SUSPEND = "suspend"
    RESUME = "resume"
    DECIDE = "decide"
    DELIVER = "deliver"
    WITHDRAW = "withdraw"
    COMPLETE = "complete"
    WARN = "warn"
    MARK_OVERDUE = "mark_overdue"

    @property
    def label(self) -> str:
        return _STEP_LABELS[self]


_STEP_LABELS = {
    Step.NOTICE: "一次性告知补正",
    Step.SUPPLEMENT: "补正材料",
    Step.ACCEPT: "受理",
    Step.REFUSE: "不予受理",
    Step.SUSPEND: "中止计时",
    Step.RESUME: "恢复计时",
    Step.DECIDE: "作出决定",
    Step.DELIVER: "出件",
    Step.WITHDRAW: "撤回申请",
    Step.COMPLETE: "办结",
    Step.WARN: "超期预警",
    Step.MARK_OVERDUE: "超期",
}

_S = CaseStatus
LEGAL_FROM: dict[Step, frozenset[CaseStatus]] = {
    Step.NOTICE: frozenset({_S.SUBMITTED}),
    Step.SUPPLEMENT: frozenset({_S.AWAITING_CORRECTION}),
    Step.ACCEPT: frozenset({_S.SUBMITTED}),
    Step.REFUSE: frozenset({_S.SUBMITTED, _S.AWAITING_CORRECTION}),
    Step.SUSPEND: frozenset({_S.UNDER_REVIEW}),
    Step.RESUME: frozenset({_S.SUSPENDED}),
    Step.DECIDE: frozenset({_S.UNDER_REVIEW}),
    Step.DELIVER: frozenset({_S.DECIDED}),
    Step.WITHDRAW: frozenset({_S.SUBMITTED, _S.AWAITING_CORRECTION, _S.UNDER_REVIEW, _S.SUSPENDED}),
    Step.COMPLETE: frozenset({_S.DELIVERED}),
    Step.WARN: frozenset({_S.UNDER_REVIEW, _S.DECIDED}),
    Step.MARK_OVERDUE: frozenset({_S.UNDER_REVIEW, _S.DECIDED, _S.DELIVERED}),
}

SUSPENSION_REASONS = {"hearing": "听证", "testing": "检验检测", "expert_review": "专家评审", "other": "其他法定情形"}
DECISION_OUTCOMES = {"grant": "准予", "deny": "不予许可"}


def check_step(status: CaseStatus, step: Step) -> None:
    """Raise ``IllegalTransition`` unless ``step`` may be taken from ``status`` (pure: used in validators too)."""
    if status not in LEGAL_FROM[step]:
        raise IllegalTransition(
            f"办件当前状态为「{status.label}」，不能办理「{step.label}」",
            status=status.value,
            step=step.value,
        )


def check_notice(required: list[str], provided: list[str], listed: list[str]) -> list[str]:
    """The 一次性告知 rule, pure: list every missing material, and nothing already provided."""
    missing = [m for m in required if m not in provided]
    if not missing:
        raise NoticeRefused("申请材料已齐全，无需一次性告知，请直接受理")
    cleaned = _check_materials(required, listed, allow_empty=False, field="missing")
    already = [m for m in cleaned if m in provided]
    if already:
        raise NoticeRefused(f"材料「{'、'.join(already)}」已提交齐全，不得要求补正", materials=already)
    omitted = [m for m in missing if m not in cleaned]
    if omitted:
        raise NoticeRefused(f"一次性告知须一次列明全部缺少的材料，遗漏：{'、'.join(omitted)}", materials=omitted)
    return cleaned


def check_suspension_reason(reason: str) -> None:
    if reason not in SUSPENSION_REASONS:
        allowed = "、".join(f"{k}（{v}）" for k, v in SUSPENSION_REASONS.items())
        raise InvalidValue(f"中止计时事由「{reason}」无效，应为：{allowed}", field="reason")


def check_decision(outcome: str, reason: str) -> None:
    if outcome not in DECISION_OUTCOMES:
        raise InvalidValue(f"决定结果「{outcome}」无效，应为 grant（准予）或 deny（不予许可）", field="outcome")
    if outcome == "deny":
        _required(reason, "reason", "不予许可的理由")


def check_actor(step: Step, actor: Actor, region: str, department: str) -> None:
    """Raise unless ``actor`` holds a post that may take ``step`` (system timers always may)."""
    if not actor.user_id:
        raise UnknownActor("未指明办理人员", field="actor")
    if actor.post == Post.SYSTEM.value:
        return
    allowed = who_acts(step, region, department)
    if not any(a.admits(actor) for a in allowed):
        raise ActorNotPermitted(
            f"{actor.describe()}无权办理「{step.label}」，应由{'或'.join(a.describe() for a in allowed)}办理",
            step=step.value,
        )


def who_acts(step: Step, region: str, department: str) -> list[Assignment]:
    """Which posts may take ``step`` on a case of this region and competent department."""
    centre = service_centre(region)
    front = Assignment(centre, Post.FRONT_DESK.value, region)
    reviewer = Assignment(department, Post.REVIEWER.value, region)
    output = Assignment(centre, Post.OUTPUT_WINDOW.value, region)
    return {
        Step.NOTICE: [front],
        Step.SUPPLEMENT: [front],
        Step.ACCEPT: [front],
        Step.REFUSE: [front],
        Step.SUSPEND: [reviewer],
        Step.RESUME: [reviewer],
        Step.DECIDE: [reviewer],
        Step.DELIVER: [output],
        Step.WITHDRAW: [front, reviewer],
    }.get(step, [])


@dataclass(frozen=True)
class TimeRules:
    """Lengths of the rules that are not per matter. Configuration, per area, each with its day type."""

    deemed_acceptance_days: int = 5  # 行政许可法 §32: no notice within 5 working days = accepted
    deemed_acceptance_day_type: DayType = DayType.WORKING
    correction_window_days: int = 30
    correction_day_type: DayType = DayType.NATURAL
    warning_share: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.warning_share <= 1:
            raise InvalidValue("预警比例必须在 (0, 1] 之间", field="warning_share")
        if self.deemed_acceptance_days <= 0 or self.correction_window_days <= 0:
            raise InvalidValue("期限天数必须为正整数", field="days")


class Case(Aggregate):
    """One 办件. Public methods check invariants; the ``_on_*`` methods are the recorded events."""

    @staticmethod
    def create_id(case_no: str) -> UUID:
        return case_id(case_no)

    @event("Submitted")
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
        deemed_acceptance_at: datetime,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
        imported: bool = False,
    ) -> None:
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
        self.submitted_at = at
        self.deemed_acceptance_at: datetime | None = deemed_acceptance_at
        self.correction_round = 0
        self.correction_due_at: datetime | None = None
        self.accepted_at: datetime | None = None
        self.deemed_accepted = False
        self.deadline_day: str | None = None
        self.warning_day: str | None = None
        self.promised_deadline: datetime | None = None
        self.warning_at: datetime | None = None
        self.deadline_provisional = False
        self.suspended_since: datetime | None = None
        self.suspended_days = 0
        self.decision: str | None = None
        self.decided_at: datetime | None = None
        self.delivered_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.closed_reason: str | None = None
        self.warned = False
        self.overdue = False
        self.awaiting = awaiting
        self.imported = imported
        self.processed_commands: list[str] = [command_id]

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def submit(
        cls,
        *,
        case_no: str,
        matter: Matter,
        authority: Authority,
        applicant: str,
        provided_materials: list[str],
        actor: Actor,
        at: datetime,
        command_id: str,
        calendar: ServiceCalendar,
        rules: TimeRules,
    ) -> Case:
        if not case_no.strip():
            raise MissingField("缺少办件编号", field="case_no")
        if not applicant.strip():
            raise MissingField("缺少申请人", field="applicant")
        _check_actor_region(actor, authority.region)
        provided = _check_materials(matter.materials, provided_materials, allow_empty=True)
        deemed = calendar.deadline(at, rules.deemed_acceptance_days, rules.deemed_acceptance_day_type)
        return cls(
            case_no=case_no.strip(),
            matter_code=matter.code,
            matter_name=matter.name,
            matter_kind=matter.kind.value,
            department=authority.department,
            level=authority.level.value,
            region=authority.region,
            applicant=applicant.strip(),
            required_materials=list(matter.materials),
            provided_materials=provided,
            statutory_days=matter.statutory_days,
            promised_days=matter.promised_days,
            day_type=matter.day_type.value,
            deemed_acceptance_at=deemed.at,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            awaiting=_front_desk(authority.region),
        )

    # ---- queries ------------------------------------------------------------------------------

    @property
    def missing_materials(self) -> list[str]:
        return [m for m in self.required_materials if m not in self.provided_materials]

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    def check(self, step: Step, actor: Actor | None = None) -> None:
        check_step(self.status, step)
        if actor is not None:
            check_actor(step, actor, self.region, self.department)

    # ---- commands -----------------------------------------------------------------------------

    def issue_notice(
        self,
        *,
        missing: list[str],
        actor: Actor,
        at: datetime,
        command_id: str,
        calendar: ServiceCalendar,
        rules: TimeRules,
    ) -> None:
        """一次性告知: ONE notice listing ALL missing materials, never anything already complete."""
        self.check(Step.NOTICE, actor)
        listed = check_notice(self.required_materials, self.provided_materials, missing)
        self._check_time(at)
        due = calendar.deadline(at, rules.correction_window_days, rules.correction_day_type)
        self._on_notice_issued(
            round=self.correction_round + 1,
            missing=listed,
            correction_due_at=due.at,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            awaiting=None,
        )

    @event("CorrectionNoticeIssued")
    def _on_notice_issued(
        self,
        round: int,
        missing: list[str],
        correction_due_at: datetime,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
    ) -> None:
        self.status = CaseStatus.AWAITING_CORRECTION
        self.correction_round = round
        self.correction_due_at = correction_due_at
        self.deemed_acceptance_at = None  # a notice in time answers §32
        self._done(command_id, awaiting)

    def supplement(
        self,
        *,
        materials: list[str],
        actor: Actor,
        at: datetime,
        command_id: str,
        calendar: ServiceCalendar,
        rules: TimeRules,
    ) -> None:
        self.check(Step.SUPPLEMENT, actor)
        given = _check_materials(self.required_materials, materials, allow_empty=False, field="materials")
        self._check_time(at)
        deemed = calendar.deadline(at, rules.deemed_acceptance_days, rules.deemed_acceptance_day_type)
        self._on_supplemented(
            materials=given,
            deemed_acceptance_at=deemed.at,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            awaiting=_front_desk(self.region),
        )

    @event("Supplemented")
    def _on_supplemented(
        self,
        materials: list[str],
        deemed_acceptance_at: datetime,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
    ) -> None:
        self.provided_materials += [m for m in materials if m not in self.provided_materials]
        self.status = CaseStatus.SUBMITTED
        self.correction_due_at = None
        self.deemed_acceptance_at = deemed_acceptance_at
        self._done(command_id, awaiting)

    def accept(
        self,
        *,
        actor: Actor,
        at: datetime,
        command_id: str,
        calendar: ServiceCalendar,
        rules: TimeRules,
        deemed: bool = False,
    ) -> None:
        """受理, or deemed acceptance by law (§32) when the front desk did not answer in time."""
        self.check(Step.ACCEPT, actor)
        if deemed:
            if self.deemed_acceptance_at is None or at < self.deemed_acceptance_at:
                raise IllegalTransition("尚未到法定视为受理的期限", step=Step.ACCEPT.value)
        elif self.missing_materials:
            raise IllegalTransition(
                f"申请材料不齐全（缺：{'、'.join(self.missing_materials)}），请先一次性告知补正",
                step=Step.ACCEPT.value,
            )
        self._check_time(at)
        day_type = DayType(self.day_type)
        start = to_local(at).date()
        deadline_day, provisional = calendar.add_days(start, self.promised_days, day_type, allow_provisional=True)
        warn_days = max(0, min(self.promised_days - 1, int(self.promised_days * rules.warning_share)))
        warning_day, _ = calendar.add_days(start, warn_days, day_type, allow_provisional=True)
        self._on_accepted(
            deemed=deemed,
            deadline_day=deadline_day.isoformat(),
            warning_day=warning_day.isoformat(),
            promised_deadline=end_of_day(deadline_day),
            warning_at=end_of_day(warning_day) if warn_days else at,
            provisional=provisional,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            awaiting=Assignment(self.department, Post.REVIEWER.value, self.region).to_dict(),
        )

    @event("Accepted")
    def _on_accepted(
        self,
        deemed: bool,
        deadline_day: str,
        warning_day: str,
        promised_deadline: datetime,
        warning_at: datetime,
        provisional: bool,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
    ) -> None:
        self.status = CaseStatus.UNDER_REVIEW
        self.accepted_at = at
        self.deemed_accepted = deemed
        self.deemed_acceptance_at = None
        self.deadline_day = deadline_day
        self.warning_day = warning_day
        self.promised_deadline = promised_deadline
        self.warning_at = warning_at
        self.deadline_provisional = provisional
        self._done(command_id, awaiting)

    def refuse(
        self, *, reason: str, actor: Actor, at: datetime, command_id: str, overdue_correction: bool = False
    ) -> None:
        """不予受理 (by staff), or the end of a case whose correction window ran out."""
        self.check(Step.REFUSE, actor)
        if overdue_correction:
            if (
                self.status is not CaseStatus.AWAITING_CORRECTION
                or self.correction_due_at is None
                or at < self.correction_due_at
            ):
                raise IllegalTransition("补正期限尚未届满", step=Step.REFUSE.value)
        elif self.status is not CaseStatus.SUBMITTED:
            raise IllegalTransition("待补正期间不能作出不予受理决定，请等待补正或期限届满", step=Step.REFUSE.value)
        reason = _required(reason, "reason", "不予受理理由")
        self._check_time(at)
        self._on_refused(
            reason=reason,
            overdue_correction=overdue_correction,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            awaiting=None,
        )

    @event("AcceptanceRefused")
    def _on_refused(
        self,
        reason: str,
        overdue_correction: bool,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
    ) -> None:
        self.status = CaseStatus.REFUSED
        self.closed_reason = reason
        self.completed_at = None
        self.deemed_acceptance_at = None
        self.correction_due_at = None
        self._done(command_id, awaiting)

    def suspend(self, *, reason: str, note: str, actor: Actor, at: datetime, command_id: str) -> None:
        """Hearing, testing, expert review: time that does not count toward the limit."""
        self.check(Step.SUSPEND, actor)
        check_suspension_reason(reason)
        self._check_time(at)
        self._on_suspended(
            reason=reason,
            note=note.strip(),
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            awaiting=self.awaiting,
        )

    @event("ClockSuspended")
    def _on_suspended(
        self,
        reason: str,
        note: str,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
    ) -> None:
        self.status = CaseStatus.SUSPENDED
        self.suspended_since = at
        self._done(command_id, awaiting)

    def resume(self, *, actor: Actor, at: datetime, command_id: str, calendar: ServiceCalendar) -> None:
        self.check(Step.RESUME, actor)
        self._check_time(at)
        assert self.suspended_since is not None and self.deadline_day and self.warning_day
        day_type = DayType(self.day_type)
        days = calendar.count_days(
            to_local(self.suspended_since).date(), to_local(at).date(), day_type, allow_provisional=True
        )
        deadline_day, provisional = calendar.add_days(
            date.fromisoformat(self.deadline_day), days, day_type, allow_provisional=True
        )
        warning_day, _ = calendar.add_days(date.fromisoformat(self.warning_day), days, day_type, allow_provisional=True)
        warning_at = end_of_day(warning_day) if days else self.warning_at
        assert warning_at is not None
        self._on_resumed(
            suspended_days=days,
            deadline_day=deadline_day.isoformat(),
            warning_day=warning_day.isoformat(),
            promised_deadline=end_of_day(deadline_day),
            warning_at=warning_at,
            provisional=provisional or self.deadline_provisional,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            awaiting=self.awaiting,
        )

    @event("ClockResumed")
    def _on_resumed(
        self,
        suspended_days: int,
        deadline_day: str,
        warning_day: str,
        promised_deadline: datetime,
        warning_at: datetime,
        provisional: bool,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
    ) -> None:
        self.status = CaseStatus.UNDER_REVIEW
        self.suspended_since = None
        self.suspended_days += suspended_days
        self.deadline_day = deadline_day
        self.warning_day = warning_day
        self.promised_deadline = promised_deadline
        self.warning_at = warning_at
        self.deadline_provisional = provisional
        self._done(command_id, awaiting)

    def decide(self, *, outcome: str, reason: str, actor: Actor, at: datetime, command_id: str) -> None:
        self.check(Step.DECIDE, actor)
        check_decision(outcome, reason)
        self._check_time(at)
        self._on_decided(
            outcome=outcome,
            reason=reason.strip(),
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            awaiting=Assignment(service_centre(self.region), Post.OUTPUT_WINDOW.value, self.region).to_dict(),
        )

    @event("Decided")
    def _on_decided(
        self,
        outcome: str,
        reason: str,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
    ) -> None:
        self.status = CaseStatus.DECIDED
        self.decision = outcome
        self.decided_at = at
        self._done(command_id, awaiting)

    def deliver(self, *, actor: Actor, at: datetime, command_id: str) -> None:
        """出件 at the unified output window."""
        self.check(Step.DELIVER, actor)
        self._check_time(at)
        self._on_delivered(actor=actor.to_dict(), at=at, command_id=command_id, awaiting=None)

    @event("Delivered")
    def _on_delivered(
        self, actor: dict[str, str], at: datetime, command_id: str, awaiting: dict[str, str] | None
    ) -> None:
        self.status = CaseStatus.DELIVERED
        self.delivered_at = at
        self._done(command_id, awaiting)

    def complete(self, *, actor: Actor, at: datetime, command_id: str) -> None:
        """办结: the result is in the applicant's hands."""
        self.check(Step.COMPLETE, actor)
        self._check_time(at)
        on_time = self.promised_deadline is None or at <= self.promised_deadline
        self._on_completed(on_time=on_time, actor=actor.to_dict(), at=at, command_id=command_id, awaiting=None)

    @event("Completed")
    def _on_completed(
        self, on_time: bool, actor: dict[str, str], at: datetime, command_id: str, awaiting: dict[str, str] | None
    ) -> None:
        self.status = CaseStatus.COMPLETED
        self.completed_at = at
        self._done(command_id, awaiting)

    def withdraw(self, *, reason: str, actor: Actor, at: datetime, command_id: str) -> None:
        self.check(Step.WITHDRAW, actor)
        reason = _required(reason, "reason", "撤回理由")
        self._check_time(at)
        self._on_withdrawn(reason=reason, actor=actor.to_dict(), at=at, command_id=command_id, awaiting=None)

    @event("Withdrawn")
    def _on_withdrawn(
        self, reason: str, actor: dict[str, str], at: datetime, command_id: str, awaiting: dict[str, str] | None
    ) -> None:
        self.status = CaseStatus.WITHDRAWN
        self.closed_reason = reason
        self.suspended_since = None
        self._done(command_id, awaiting)

    def warn(self, *, actor: Actor, at: datetime, command_id: str) -> None:
        """预警: a configurable share of the promised time limit has gone by."""
        self.check(Step.WARN, actor)
        if self.warned:
            raise IllegalTransition("已发出过超期预警", step=Step.WARN.value)
        if self.warning_at is None or at < self.warning_at:
            raise IllegalTransition("尚未到预警时间", step=Step.WARN.value)
        self._on_warned(
            deadline=self.promised_deadline, actor=actor.to_dict(), at=at, command_id=command_id, awaiting=self.awaiting
        )

    @event("DeadlineWarned")
    def _on_warned(
        self,
        deadline: datetime | None,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
    ) -> None:
        self.warned = True
        self._done(command_id, awaiting)

    def mark_overdue(self, *, actor: Actor, at: datetime, command_id: str) -> None:
        self.check(Step.MARK_OVERDUE, actor)
        if self.overdue:
            raise IllegalTransition("已记录超期", step=Step.MARK_OVERDUE.value)
        if self.promised_deadline is None or at < self.promised_deadline:
            raise IllegalTransition("尚未到承诺期限", step=Step.MARK_OVERDUE.value)
        self._on_overdue(
            deadline=self.promised_deadline, actor=actor.to_dict(), at=at, command_id=command_id, awaiting=self.awaiting
        )

    @event("BecameOverdue")
    def _on_overdue(
        self,
        deadline: datetime,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        awaiting: dict[str, str] | None,
    ) -> None:
        self.overdue = True
        self._done(command_id, awaiting)

    # ---- helpers ------------------------------------------------------------------------------

    def _done(self, command_id: str, awaiting: dict[str, str] | None) -> None:
        self.processed_commands.append(command_id)
        self.awaiting = awaiting

    def _check_time(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise InvalidValue("时间必须带时区", field="at")
        if at < self.submitted_at:
            raise InvalidValue("办理时间早于申请时间", field="at")

    def summary(self) -> dict[str, Any]:
        """Plain values for the CLI, the workflow and JSON output."""
        return {
            "case_no": self.case_no,
            "status": self.status.value,
            "status_label": self.status.label,
            "matter_code": self.matter_code,
            "matter_name": self.matter_name,
            "matter_kind": self.matter_kind,
            "department": self.department,
            "level": self.level,
            "region": self.region,
            "applicant": self.applicant,
            "required_materials": list(self.required_materials),
            "provided_materials": list(self.provided_materials),
            "missing_materials": self.missing_materials,
            "correction_round": self.correction_round,
            "submitted_at": _dt(self.submitted_at),
            "deemed_acceptance_at": _dt(self.deemed_acceptance_at),
            "correction_due_at": _dt(self.correction_due_at),
            "accepted_at": _dt(self.accepted_at),
            "deemed_accepted": self.deemed_accepted,
            "promised_days": self.promised_days,
            "day_type": self.day_type,
            "promised_deadline": _dt(self.promised_deadline),
            "warning_at": _dt(self.warning_at),
            "deadline_provisional": self.deadline_provisional,
            "suspended_since": _dt(self.suspended_since),
            "suspended_days": self.suspended_days,
            "decision": self.decision,
            "decided_at": _dt(self.decided_at),
            "delivered_at": _dt(self.delivered_at),
            "completed_at": _dt(self.completed_at),
            "closed_reason": self.closed_reason,
            "warned": self.warned,
            "overdue": self.overdue,
            "awaiting": self.awaiting,
            "version": self.version,
            "imported": False,
        }


def case_id(case_no: str) -> UUID:
    """Deterministic aggregate id: a retried submission collides instead of creating a twin."""
    return uuid5(NAMESPACE_URL, f"/oneseal/cases/{case_no}")


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _front_desk(region: str) -> dict[str, str]:
    return Assignment(service_centre(region), Post.FRONT_DESK.value, region).to_dict()


def _required(value: str, field: str, label: str) -> str:
    if not value or not value.strip():
        raise MissingField(f"缺少{label}", field=field)
    return value.strip()


def _check_actor_region(actor: Actor, region: str) -> None:
    front = Assignment(service_centre(region), Post.FRONT_DESK.value, region)
    if actor.post != Post.SYSTEM.value and not front.admits(actor):
        raise ActorNotPermitted(f"{actor.describe()}无权收件，应由{front.describe()}收件", step="submit")


def _check_materials(
    required: list[str] | tuple[str, ...], given: list[str], *, allow_empty: bool, field: str = "materials"
) -> list[str]:
    cleaned = [m.strip() for m in given if m and m.strip()]
    if not cleaned and not allow_empty:
        raise MissingField("至少列出一项材料", field=field)
    unknown = [m for m in cleaned if m not in required]
    if unknown:
        raise InvalidValue(f"「{'、'.join(unknown)}」不是本事项要求的申请材料", field=field, materials=unknown)
    return list(dict.fromkeys(cleaned))


def validate_request(
    step: Step,
    case: dict[str, Any],
    actor: Actor,
    *,
    materials: list[str] | None = None,
    reason: str = "",
    outcome: str = "",
) -> None:
    """Everything a staff step would be refused for, judged from the case summary alone.

    Pure and deterministic, so a Temporal Update validator can refuse a step before anything
    reaches history; the aggregate applies the same rules again when the command runs.
    """
    check_step(CaseStatus(case["status"]), step)
    check_actor(step, actor, case["region"], case["department"])
    required, provided = case["required_materials"], case["provided_materials"]
    if step is Step.NOTICE:
        check_notice(required, provided, materials or [])
    elif step is Step.SUPPLEMENT:
        _check_materials(required, materials or [], allow_empty=False)
    elif step is Step.ACCEPT and case["missing_materials"]:
        raise IllegalTransition(
            f"申请材料不齐全（缺：{'、'.join(case['missing_materials'])}），请先一次性告知补正", step=step.value
        )
    elif step is Step.REFUSE:
        if CaseStatus(case["status"]) is not CaseStatus.SUBMITTED:
            raise IllegalTransition("待补正期间不能作出不予受理决定，请等待补正或期限届满", step=step.value)
        _required(reason, "reason", "不予受理理由")
    elif step is Step.WITHDRAW:
        _required(reason, "reason", "撤回理由")
    elif step is Step.SUSPEND:
        check_suspension_reason(reason)
    elif step is Step.DECIDE:
        check_decision(outcome, reason)
