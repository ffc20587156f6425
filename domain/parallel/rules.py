"""The rules of parallel approval as pure checks on a ``ProjectView``.

The aggregate's commands call them before recording anything, and the workflow's Update validators call
the very same functions on the view they hold, so a step refused by one is refused by the other, with
the same code and Chinese message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.catalogue import Level
from domain.errors import ActorNotPermitted, InvalidValue, UnknownActor
from domain.parallel.errors import (
    CorrectionRefused,
    DecisionInvalid,
    DepartmentNotInStage,
    OpinionAlreadyGiven,
    OpinionInvalid,
    OpinionsPending,
    ProjectClosed,
    ProjectFieldInvalid,
    StageAlreadyDecided,
    StageNotOpen,
    StageOutOfOrder,
    StageSuspended,
    TimerNotDue,
)
from domain.parallel.plan import ReformTarget, StagePlan, check_plan
from domain.parallel.values import (
    REFORM_STAGES,
    STAFF_OPINIONS,
    Opinion,
    ProjectCode,
    SilencePolicy,
    Stage,
    StageOutcome,
    check_level_and_region,
    parse_investment,
)
from domain.parallel.view import ProjectView, StageStatus, StageView, TaskKind, TaskStatus, TaskView, who_acts
from domain.staff import Actor, Assignment, Post, service_centre


@dataclass(frozen=True)
class Registration:
    """A project's registration, validated and normalised."""

    code: ProjectCode
    name: str
    owner: str
    investment: Decimal
    level: Level
    region: str
    plan: tuple[StagePlan, ...]
    reform: ReformTarget


def check_registration(
    *,
    code: str,
    name: str,
    owner: str,
    investment: str | int | Decimal,
    level: str,
    region: str,
    plan: Sequence[StagePlan],
    reform: ReformTarget,
    actor: Actor,
    at: datetime,
) -> Registration:
    _check_aware(at)
    lv = check_level_and_region(level, region)
    project_code = ProjectCode.parse(code)
    project_code.check_region(region)
    if not name.strip():
        raise ProjectFieldInvalid("项目名称不能为空", field="name")
    if not owner.strip():
        raise ProjectFieldInvalid("建设单位不能为空", field="owner")
    amount = parse_investment(investment)
    stages = check_plan(plan)
    check_actor((Assignment(service_centre(region), Post.FRONT_DESK.value, region),), actor, "项目登记")
    return Registration(project_code, name.strip(), owner.strip(), amount, lv, region, stages, reform)


# ---- actors and time -------------------------------------------------------------------------


def check_actor(allowed: Sequence[Assignment], actor: Actor, step: str) -> None:
    """Staff must hold one of the allowed posts; the system actor (timers, imports) always may."""
    if not actor.user_id:
        raise UnknownActor("未指明办理人员", field="actor")
    if actor.post == Post.SYSTEM.value:
        return
    if not any(a.admits(actor) for a in allowed):
        raise ActorNotPermitted(
            f"{actor.describe()}无权办理「{step}」，应由{'或'.join(a.describe() for a in allowed)}办理", step=step
        )


def check_system(actor: Actor, step: str) -> None:
    """Timer steps are taken by the system on the rule's behalf, never by staff."""
    if actor.post != Post.SYSTEM.value:
        raise ActorNotPermitted(f"「{step}」由系统按期限自动记录，工作人员不能办理", step=step)


def _check_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise InvalidValue("时间必须带时区", field="at")


def check_time(view: ProjectView, at: datetime, stage: StageView | None = None) -> None:
    _check_aware(at)
    if at < view.registered_at:
        raise InvalidValue("办理时间早于项目登记时间", field="at")
    if stage is not None and stage.opened_at is not None and at < stage.opened_at:
        raise InvalidValue(f"办理时间早于「{stage.stage.label}」阶段受理时间", field="at")


# ---- stage steps -----------------------------------------------------------------------------


def _stage(view: ProjectView, stage: Stage | str) -> StageView:
    return view.stage(stage if isinstance(stage, Stage) else Stage.parse(stage))


def _check_reviewing(view: ProjectView, s: StageView) -> None:
    """A review step needs the stage accepted, undecided and not waiting for the applicant."""
    where = f"「{s.stage.label}」阶段"
    if s.status.is_decided:
        raise StageAlreadyDecided(f"{where}已作出决定（{s.status.label}），不能再办理", stage=s.stage.value)
    if view.status.is_closed:
        raise ProjectClosed(f"项目已{view.status.label}，不能再办理", status=view.status.value)
    if s.status is StageStatus.NOT_OPEN:
        raise StageNotOpen(f"{where}尚未受理", stage=s.stage.value)
    if s.status is StageStatus.SUSPENDED:
        raise StageSuspended(f"{where}正在等待申请人补正材料（已停止计时），补正后再办理", stage=s.stage.value)


def _task(s: StageView, department: str) -> TaskView:
    task = s.task(department)
    if task is None:
        raise DepartmentNotInStage(
            f"「{department}」不是「{s.stage.label}」阶段的参与审批部门（参与部门：{'、'.join(s.departments)}）",
            department=department,
            stage=s.stage.value,
        )
    return task


def check_accept(view: ProjectView, stage: Stage | str, actor: Actor, at: datetime) -> StageView:
    """A stage opens only in order, once, on the application the lead (or the one window) accepts."""
    s = _stage(view, stage)
    if view.status.is_closed:
        raise ProjectClosed(f"项目已{view.status.label}，不能再受理", status=view.status.value)
    if s.status is not StageStatus.NOT_OPEN:
        raise StageOutOfOrder(f"「{s.stage.label}」阶段已受理（{s.status.label}），不能重复受理", stage=s.stage.value)
    if s.stage.position > 0:
        previous = view.stages[s.stage.position - 1]
        if previous.status is not StageStatus.APPROVED:
            raise StageOutOfOrder(
                f"「{previous.stage.label}」阶段尚未通过（{previous.status.label}），不能受理「{s.stage.label}」阶段",
                stage=s.stage.value,
                previous=previous.stage.value,
            )
    check_time(view, at)
    check_actor(who_acts(TaskKind.ACCEPT, view.region, s.lead_department), actor, f"{s.stage.label}阶段受理")
    return s


@dataclass(frozen=True)
class OpinionInput:
    opinion: Opinion
    conditions: str = ""
    reason: str = ""
    missing: tuple[str, ...] = ()


def check_opinion(
    view: ProjectView,
    stage: Stage | str,
    department: str,
    opinion: Opinion | str,
    *,
    conditions: str = "",
    reason: str = "",
    missing: Sequence[str] = (),
    actor: Actor,
    at: datetime,
) -> OpinionInput:
    """One final opinion per department and stage; a correction request at most once, before the notice."""
    s = _stage(view, stage)
    _check_reviewing(view, s)
    task = _task(s, department)
    if task.status is TaskStatus.ANSWERED:
        assert task.opinion is not None
        raise OpinionAlreadyGiven(
            f"「{department}」已在「{s.stage.label}」阶段出具意见（{task.opinion.label}），不能重复出具",
            department=department,
        )
    if task.status is TaskStatus.CORRECTION_REQUESTED:
        raise OpinionAlreadyGiven(
            f"「{department}」已要求补正材料，须待各部门意见汇总、申请人补正后再出具意见", department=department
        )
    try:
        kind = Opinion(opinion)
    except ValueError:
        allowed = "、".join(f"{o.value}（{o.label}）" for o in STAFF_OPINIONS)
        raise OpinionInvalid(f"审查意见「{opinion}」无效，应为：{allowed}", field="opinion") from None
    if kind not in STAFF_OPINIONS:
        raise OpinionInvalid("「逾期视为同意」只能由系统在期限届满后记录", field="opinion")
    conditions, reason = conditions.strip(), reason.strip()
    cleaned = tuple(m.strip() for m in missing)
    needed = {
        Opinion.AGREE_WITH_CONDITIONS: ("conditions", "同意的条件"),
        Opinion.DISAGREE: ("reason", "不同意的理由"),
        Opinion.NEEDS_CORRECTION: ("missing", "需补正的材料"),
    }.get(kind)
    given = {"conditions": bool(conditions), "reason": bool(reason), "missing": bool(cleaned)}
    if needed is not None and not given[needed[0]]:
        raise OpinionInvalid(f"「{kind.label}」的意见须写明{needed[1]}", field=needed[0])
    extra = [k for k, v in given.items() if v and (needed is None or k != needed[0])]
    if extra:
        raise OpinionInvalid(f"「{kind.label}」的意见不应填写「{'、'.join(extra)}」", field=extra[0])
    if kind is Opinion.NEEDS_CORRECTION:
        if any(not m for m in cleaned) or len(set(cleaned)) != len(cleaned):
            raise OpinionInvalid("需补正的材料名称不能为空或重复", field="missing")
        if task.resubmitted:
            raise CorrectionRefused(
                f"「{s.stage.label}」阶段已一次性告知并补正，不得再次要求补正，请出具同意、有条件同意或不同意的意见",
                department=department,
            )
    check_time(view, at, s)
    check_actor(who_acts(TaskKind.OPINION, view.region, s.lead_department, department), actor, "并联审查意见")
    return OpinionInput(kind, conditions, reason, cleaned)


def check_supplement(
    view: ProjectView, stage: Stage | str, materials: Sequence[str], actor: Actor, at: datetime
) -> tuple[str, ...]:
    """The applicant answers the merged notice in one go: every listed material, from every department."""
    s = _stage(view, stage)
    if s.status is not StageStatus.SUSPENDED:
        _check_reviewing(view, s)  # decided, closed or not open: say which
        raise CorrectionRefused(f"「{s.stage.label}」阶段没有待补正的一次性告知", stage=s.stage.value)
    supplied = tuple(m.strip() for m in materials if m.strip())
    listed = [m for item in s.notice for m in item.materials]
    still_missing = [m for m in dict.fromkeys(listed) if m not in supplied]
    if still_missing:
        raise CorrectionRefused(
            f"补正材料不齐全，一次性告知所列材料尚缺：{'、'.join(still_missing)}", materials=still_missing
        )
    check_time(view, at, s)
    check_actor(who_acts(TaskKind.SUPPLEMENT, view.region, s.lead_department), actor, "接收补正材料")
    return supplied


def check_silence(view: ProjectView, stage: Stage | str, department: str, actor: Actor, at: datetime) -> TaskView:
    """A department silent past its deadline: escalate once, or record deemed consent."""
    s = _stage(view, stage)
    _check_reviewing(view, s)
    task = _task(s, department)
    check_system(actor, "逾期处理")
    if task.status is not TaskStatus.REVIEWING:
        raise TimerNotDue(f"「{department}」在「{s.stage.label}」阶段已答复，无需逾期处理", department=department)
    if at < task.due_at:
        raise TimerNotDue(f"「{department}」的审查期限尚未届满", department=department)
    if s.silence_policy is SilencePolicy.ESCALATE and task.escalated_at is not None:
        raise TimerNotDue(f"「{department}」已督办，继续等待其意见", department=department)
    check_time(view, at, s)
    return task


def check_decision(
    view: ProjectView,
    stage: Stage | str,
    outcome: StageOutcome | str,
    *,
    reason: str,
    override_reason: str,
    actor: Actor,
    at: datetime,
) -> StageOutcome:
    """The lead decides once every opinion is in; a disagreement denies unless the policy lets the lead override."""
    s = _stage(view, stage)
    _check_reviewing(view, s)
    pending = [t.department for t in s.tasks if t.status is not TaskStatus.ANSWERED]
    if pending:
        raise OpinionsPending(
            f"「{s.stage.label}」阶段尚有部门未出具最终意见：{'、'.join(pending)}", departments=pending
        )
    try:
        decided = StageOutcome(outcome)
    except ValueError:
        raise DecisionInvalid(f"阶段决定「{outcome}」无效，应为 approved（通过）或 denied（不予通过）") from None
    disagreeing = [t.department for t in s.disagreements]
    if decided is StageOutcome.APPROVED:
        if disagreeing and not s.lead_may_override:
            raise DecisionInvalid(
                f"{'、'.join(disagreeing)}不同意，本阶段规定牵头部门不得协调通过，只能作出不予通过的决定",
                departments=disagreeing,
            )
        if disagreeing and not override_reason.strip():
            raise DecisionInvalid(f"协调通过{'、'.join(disagreeing)}的不同意见，须写明理由", field="override_reason")
        if not disagreeing and override_reason.strip():
            raise DecisionInvalid("各部门均无不同意见，无需填写协调理由", field="override_reason")
    else:
        if not disagreeing:
            raise DecisionInvalid("各部门均同意，不能作出不予通过的决定", field="outcome")
        if not reason.strip():
            raise DecisionInvalid("不予通过须写明理由", field="reason")
        if override_reason.strip():
            raise DecisionInvalid("不予通过的决定不应填写协调理由", field="override_reason")
    check_time(view, at, s)
    check_actor(who_acts(TaskKind.DECIDE, view.region, s.lead_department), actor, f"{s.stage.label}阶段决定")
    return decided


def check_reform_timer(view: ProjectView, *, overdue: bool, actor: Actor, at: datetime) -> StageView:
    """The reform target's warning or overdue mark, by the system at (or after) its moment."""
    label = "改革目标超时" if overdue else "改革目标预警"
    check_system(actor, label)
    s = view.current_stage
    if s is None or s.stage not in REFORM_STAGES or s.status is not StageStatus.UNDER_REVIEW:
        raise TimerNotDue(f"当前没有计入改革目标时限的审查中阶段，不能记录{label}")
    r = view.reform
    moment, done = (r.overdue_at, r.overdue_marked_at) if overdue else (r.warning_at, r.warned_at)
    if done is not None:
        raise TimerNotDue(f"{label}已记录")
    if moment is None or at < moment:
        raise TimerNotDue(f"尚未到{label}时间")
    check_time(view, at, s)
    return s
