"""The registry of case steps: one typed request per step, and everything a step needs to be offered.

A step is registered ONCE here: its request type (what staff give), its Chinese label, the
statuses it is legal from, who may take it, the rule checks it adds, and what follows it. The
aggregate (``Case.<step>``) runs the same ``validate`` before it records anything, and the
workflow's Update validator runs it on the case view before anything reaches history: one
check, one message per rule. Adding a step touches this registry, the aggregate (its command and
event), the CLI and the projection; nothing else.

Requests normalise what people type (outer spaces, NFC, Chinese labels → codes) when they are
built; ``validate`` refuses what is still wrong, so a bad request never breaks decoding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from domain.cases.model import DECISION_OUTCOMES, SUSPENSION_REASONS, CaseState, CaseStatus
from domain.errors import ActorNotPermitted, IllegalTransition, InvalidValue, MissingField, NoticeRefused, UnknownActor
from domain.staff import SYSTEM_ACTOR, Actor, Assignment, Post, service_centre
from domain.text import clean, normalise


class Step(StrEnum):
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
    RECOMPUTE_DEADLINE = "recompute_deadline"
    ADOPT = "adopt"

    @property
    def label(self) -> str:
        return STEPS[self].label


# ---- requests: what each step carries ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StepRequest:
    """Who takes the step; each step's request adds its own fields."""

    step: ClassVar[Step]
    actor: Actor

    def fields(self) -> dict[str, Any]:
        """The step's own values (without the actor), e.g. for the log and the wire."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "actor"}


def _materials(values: list[str]) -> list[str]:
    return list(dict.fromkeys(m for m in (normalise(v) for v in values) if m))


def _code(value: str, labels: dict[str, str]) -> str:
    """A Chinese label typed where a code is expected becomes the code; anything else stays for the check."""
    value = normalise(value)
    return next((k for k, v in labels.items() if value == v), value)


@dataclass(frozen=True, kw_only=True)
class Notice(StepRequest):
    step = Step.NOTICE
    materials: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "materials", _materials(self.materials))


@dataclass(frozen=True, kw_only=True)
class Supplement(StepRequest):
    step = Step.SUPPLEMENT
    materials: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "materials", _materials(self.materials))


@dataclass(frozen=True, kw_only=True)
class Accept(StepRequest):
    step = Step.ACCEPT
    deemed: bool = False  # 行政许可法 §32, by the system's timer only


@dataclass(frozen=True, kw_only=True)
class Refuse(StepRequest):
    step = Step.REFUSE
    reason: str = ""
    overdue_correction: bool = False  # the correction window ran out: by the system's timer only

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", normalise(self.reason))


@dataclass(frozen=True, kw_only=True)
class Suspend(StepRequest):
    step = Step.SUSPEND
    reason: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", _code(self.reason, SUSPENSION_REASONS))
        object.__setattr__(self, "note", normalise(self.note))


@dataclass(frozen=True, kw_only=True)
class Resume(StepRequest):
    step = Step.RESUME


@dataclass(frozen=True, kw_only=True)
class Decide(StepRequest):
    step = Step.DECIDE
    outcome: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", _code(self.outcome, DECISION_OUTCOMES))
        object.__setattr__(self, "reason", normalise(self.reason))


@dataclass(frozen=True, kw_only=True)
class Deliver(StepRequest):
    step = Step.DELIVER


@dataclass(frozen=True, kw_only=True)
class Complete(StepRequest):
    step = Step.COMPLETE


@dataclass(frozen=True, kw_only=True)
class Withdraw(StepRequest):
    step = Step.WITHDRAW
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", normalise(self.reason))


@dataclass(frozen=True, kw_only=True)
class Warn(StepRequest):
    step = Step.WARN


@dataclass(frozen=True, kw_only=True)
class MarkOverdue(StepRequest):
    step = Step.MARK_OVERDUE


@dataclass(frozen=True, kw_only=True)
class RecomputeDeadline(StepRequest):
    """A calendar year arrived: deadlines computed provisionally are computed again from it."""

    step = Step.RECOMPUTE_DEADLINE


@dataclass(frozen=True, kw_only=True)
class Adopt(StepRequest):
    """An open case imported from the legacy platform is taken over by a workflow of its own."""

    step = Step.ADOPT


@dataclass(frozen=True, kw_only=True)
class SubmitCase:
    """收件: the application as the front desk records it (the case does not exist yet)."""

    case_no: str
    matter_code: str
    applicant: str
    provided_materials: list[str] = field(default_factory=list)
    actor: Actor
    demo: bool = False  # a case of a demonstration drive: kept out of the bulletin unless asked

    def __post_init__(self) -> None:
        object.__setattr__(self, "applicant", normalise(self.applicant))
        object.__setattr__(self, "provided_materials", _materials(self.provided_materials))


# ---- the rules each step adds ------------------------------------------------------------------


def check_materials(state: CaseState, given: list[str], *, allow_empty: bool, field_name: str = "materials") -> None:
    for m in given:
        clean(m, field=field_name, label="材料名称", limit="material")
    if not given and not allow_empty:
        raise MissingField("至少列出一项材料", field=field_name)
    unknown = [m for m in given if m not in state.required_materials]
    if unknown:
        raise InvalidValue(f"「{'、'.join(unknown)}」不是本事项要求的申请材料", field=field_name, materials=unknown)


def _check_notice(state: CaseState, req: Notice, at: datetime | None) -> None:
    """一次性告知: ONE notice listing ALL missing materials, and nothing already provided."""
    missing = state.missing_materials
    if not missing:
        raise NoticeRefused("申请材料已齐全，无需一次性告知，请直接受理")
    check_materials(state, req.materials, allow_empty=False, field_name="missing")
    already = [m for m in req.materials if m in state.provided_materials]
    if already:
        raise NoticeRefused(f"材料「{'、'.join(already)}」已提交齐全，不得要求补正", materials=already)
    omitted = [m for m in missing if m not in req.materials]
    if omitted:
        raise NoticeRefused(f"一次性告知须一次列明全部缺少的材料，遗漏：{'、'.join(omitted)}", materials=omitted)


def _check_supplement(state: CaseState, req: Supplement, at: datetime | None) -> None:
    check_materials(state, req.materials, allow_empty=False)


def _check_accept(state: CaseState, req: Accept, at: datetime | None) -> None:
    if req.deemed:
        _system_only(req, "视为受理")
        if state.deemed_acceptance_at is None or (at is not None and at < state.deemed_acceptance_at):
            raise IllegalTransition("尚未到法定视为受理的期限", step=Step.ACCEPT.value)
    elif state.missing_materials:
        raise IllegalTransition(
            f"申请材料不齐全（缺：{'、'.join(state.missing_materials)}），请先一次性告知补正", step=Step.ACCEPT.value
        )


def _check_refuse(state: CaseState, req: Refuse, at: datetime | None) -> None:
    if req.overdue_correction:
        _system_only(req, "逾期未补正")
        if state.status is not CaseStatus.AWAITING_CORRECTION or state.correction_due_at is None:
            raise IllegalTransition("办件不在补正期间", step=Step.REFUSE.value)
        if at is not None and at < state.correction_due_at:
            raise IllegalTransition("补正期限尚未届满", step=Step.REFUSE.value)
    elif state.status is not CaseStatus.SUBMITTED:
        raise IllegalTransition("待补正期间不能作出不予受理决定，请等待补正或期限届满", step=Step.REFUSE.value)
    clean(req.reason, field="reason", label="不予受理理由")


def _check_suspend(state: CaseState, req: Suspend, at: datetime | None) -> None:
    if req.reason not in SUSPENSION_REASONS:
        allowed = "、".join(f"{k}（{v}）" for k, v in SUSPENSION_REASONS.items())
        raise InvalidValue(f"中止计时事由「{req.reason}」无效，应为：{allowed}", field="reason")
    clean(req.note, field="note", label="说明", required=False)


def _check_decide(state: CaseState, req: Decide, at: datetime | None) -> None:
    if req.outcome not in DECISION_OUTCOMES:
        allowed = "、".join(f"{k}（{v}）" for k, v in DECISION_OUTCOMES.items())
        raise InvalidValue(f"决定结果「{req.outcome}」无效，应为：{allowed}", field="outcome")
    clean(req.reason, field="reason", label="不予许可的理由", required=req.outcome == "deny")


def _check_withdraw(state: CaseState, req: Withdraw, at: datetime | None) -> None:
    clean(req.reason, field="reason", label="撤回理由")


def _check_warn(state: CaseState, req: Warn, at: datetime | None) -> None:
    if state.warned:
        raise IllegalTransition("已发出过超期预警", step=Step.WARN.value)
    if state.warning_at is None or (at is not None and at < state.warning_at):
        raise IllegalTransition("尚未到预警时间", step=Step.WARN.value)


def _check_overdue(state: CaseState, req: MarkOverdue, at: datetime | None) -> None:
    if state.overdue:
        raise IllegalTransition("已记录超期", step=Step.MARK_OVERDUE.value)
    if state.promised_deadline is None or (at is not None and at < state.promised_deadline):
        raise IllegalTransition("尚未到承诺期限", step=Step.MARK_OVERDUE.value)


def _check_recompute(state: CaseState, req: RecomputeDeadline, at: datetime | None) -> None:
    if not state.deadline_provisional:
        raise IllegalTransition("办件期限不是暂定期限，无需重算", step=Step.RECOMPUTE_DEADLINE.value)


def _check_adopt(state: CaseState, req: Adopt, at: datetime | None) -> None:
    if not state.imported or state.adopted:
        raise IllegalTransition("只有尚未接管的历史在办件可以接管", step=Step.ADOPT.value)


def _system_only(req: StepRequest, what: str) -> None:
    if req.actor.post != Post.SYSTEM.value:
        raise ActorNotPermitted(f"「{what}」只能由系统按法定期限自动办理", step=req.step.value)


def _no_rule(state: CaseState, req: Any, at: datetime | None) -> None:
    return None


# ---- who acts ----------------------------------------------------------------------------------


class Acting(StrEnum):
    """Which post of the case acts: the region's front desk, the competent department, the output window."""

    FRONT_DESK = "front_desk"
    REVIEWER = "reviewer"
    OUTPUT_WINDOW = "output_window"
    SYSTEM = "system"

    def assignment(self, region: str, department: str) -> Assignment | None:
        if self is Acting.REVIEWER:
            return Assignment(department, Post.REVIEWER.value, region)
        if self is Acting.SYSTEM:
            return None
        return Assignment(service_centre(region), self.value, region)


# ---- the registry ------------------------------------------------------------------------------

_S = CaseStatus
_OPEN_WITH_DEADLINE = frozenset({_S.UNDER_REVIEW, _S.SUSPENDED, _S.DECIDED, _S.DELIVERED})


@dataclass(frozen=True)
class StepSpec:
    step: Step
    label: str
    request: type[StepRequest]
    legal_from: frozenset[CaseStatus]
    acting: tuple[Acting, ...]  # posts that may take it; system timers may take any step they drive
    check: Callable[[CaseState, Any, datetime | None], None] = _no_rule
    then: Step | None = None  # a step the workflow takes at once afterwards, as the system
    staff: bool = True  # offered to staff (an Update); otherwise only timers and the system take it

    def who_acts(self, region: str, department: str) -> list[Assignment]:
        return [a for a in (p.assignment(region, department) for p in self.acting) if a is not None]


_SPECS = [
    StepSpec(Step.NOTICE, "一次性告知补正", Notice, frozenset({_S.SUBMITTED}), (Acting.FRONT_DESK,), _check_notice),
    StepSpec(
        Step.SUPPLEMENT,
        "补正材料",
        Supplement,
        frozenset({_S.AWAITING_CORRECTION}),
        (Acting.FRONT_DESK,),
        _check_supplement,
    ),
    StepSpec(Step.ACCEPT, "受理", Accept, frozenset({_S.SUBMITTED}), (Acting.FRONT_DESK,), _check_accept),
    StepSpec(
        Step.REFUSE,
        "不予受理",
        Refuse,
        frozenset({_S.SUBMITTED, _S.AWAITING_CORRECTION}),
        (Acting.FRONT_DESK,),
        _check_refuse,
    ),
    StepSpec(Step.SUSPEND, "中止计时", Suspend, frozenset({_S.UNDER_REVIEW}), (Acting.REVIEWER,), _check_suspend),
    StepSpec(Step.RESUME, "恢复计时", Resume, frozenset({_S.SUSPENDED}), (Acting.REVIEWER,)),
    StepSpec(Step.DECIDE, "作出决定", Decide, frozenset({_S.UNDER_REVIEW}), (Acting.REVIEWER,), _check_decide),
    StepSpec(Step.DELIVER, "出件", Deliver, frozenset({_S.DECIDED}), (Acting.OUTPUT_WINDOW,), then=Step.COMPLETE),
    StepSpec(
        Step.WITHDRAW,
        "撤回申请",
        Withdraw,
        frozenset({_S.SUBMITTED, _S.AWAITING_CORRECTION, _S.UNDER_REVIEW, _S.SUSPENDED}),
        (Acting.FRONT_DESK, Acting.REVIEWER),
        _check_withdraw,
    ),
    StepSpec(Step.COMPLETE, "办结", Complete, frozenset({_S.DELIVERED}), (Acting.SYSTEM,), staff=False),
    StepSpec(
        Step.WARN,
        "超期预警",
        Warn,
        frozenset({_S.UNDER_REVIEW, _S.DECIDED}),
        (Acting.SYSTEM,),
        _check_warn,
        staff=False,
    ),
    StepSpec(
        Step.MARK_OVERDUE,
        "超期",
        MarkOverdue,
        frozenset({_S.UNDER_REVIEW, _S.DECIDED, _S.DELIVERED}),
        (Acting.SYSTEM,),
        _check_overdue,
        staff=False,
    ),
    StepSpec(
        Step.RECOMPUTE_DEADLINE,
        "按新节假日安排重算期限",
        RecomputeDeadline,
        _OPEN_WITH_DEADLINE,
        (Acting.SYSTEM,),
        _check_recompute,
        staff=False,
    ),
    StepSpec(
        Step.ADOPT,
        "接管历史在办件",
        Adopt,
        frozenset({_S.SUBMITTED, _S.UNDER_REVIEW}),
        (Acting.SYSTEM,),
        _check_adopt,
        staff=False,
    ),
]
STEPS: dict[Step, StepSpec] = {s.step: s for s in _SPECS}
assert set(STEPS) == set(Step), "every step is registered"


def spec_for(name: str) -> StepSpec:
    try:
        return STEPS[Step(name)]
    except ValueError:
        allowed = "、".join(s.value for s in Step)
        raise InvalidValue(f"未知的办理环节「{name}」，应为：{allowed}", field="step") from None


def check_actor(spec: StepSpec, actor: Actor, region: str, department: str) -> None:
    """Raise unless ``actor`` holds a post that may take the step (the system may take what it drives)."""
    if not actor.user_id:
        raise UnknownActor("未指明办理人员", field="actor")
    if actor.post == Post.SYSTEM.value:
        if actor != SYSTEM_ACTOR:
            raise UnknownActor("系统身份不符", field="actor")
        return
    allowed = spec.who_acts(region, department)
    if not spec.staff or not any(a.admits(actor) for a in allowed):
        who = "或".join(a.describe() for a in allowed) or "系统自动"
        raise ActorNotPermitted(f"{actor.describe()}无权办理「{spec.label}」，应由{who}办理", step=spec.step.value)


def check_status(spec: StepSpec, status: CaseStatus) -> None:
    if status not in spec.legal_from:
        raise IllegalTransition(
            f"办件当前状态为「{status.label}」，不能办理「{spec.label}」", status=status.value, step=spec.step.value
        )


def validate(state: CaseState, req: StepRequest, at: datetime | None = None) -> StepSpec:
    """Everything a step would be refused for, judged from the case's state alone (pure).

    The aggregate runs it before recording; the workflow's Update validator runs it on the case view
    before anything reaches history. ``at`` is the moment of the step where a rule depends on it."""
    spec = STEPS[req.step]
    check_status(spec, state.status)
    check_actor(spec, req.actor, state.region, state.department)
    spec.check(state, req, at)
    return spec
