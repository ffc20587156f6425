"""The Project aggregate: stages in order, departments in parallel, one merged notice, silence, decisions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from eventsourcing.application import Application

from domain.calendar import SHANGHAI, DayType, default_calendar
from domain.catalogue import default_catalogue
from domain.errors import ActorNotPermitted, DomainError
from domain.parallel import (
    CorrectionRefused,
    DecisionInvalid,
    DepartmentNotInStage,
    Opinion,
    OpinionAlreadyGiven,
    OpinionInvalid,
    OpinionsPending,
    ProjectClosed,
    ProjectCodeInvalid,
    ProjectFieldInvalid,
    ProjectStatus,
    ProjectView,
    ReformTarget,
    SilencePolicy,
    Stage,
    StageAlreadyDecided,
    StageOutOfOrder,
    StagePlan,
    StageStatus,
    StageSuspended,
    TaskKind,
    TaskStatus,
    TimerKind,
    TimerNotDue,
    WorkItem,
    next_timers,
    open_tasks,
    project_id,
    reform_days_used,
    standard_plan,
)
from domain.parallel.project import Project
from domain.staff import SYSTEM_ACTOR, Actor, default_staff

CAL = default_calendar()
REGION = "汶川县"
CODE = "2020-513221-47-01-000001"
T0 = datetime(2020, 4, 1, 9, tzinfo=SHANGHAI)  # Wednesday; 4–6 April is the Qingming holiday
S1 = Stage.LAND_USE_PLANNING


def actor(department: str, post: str = "reviewer") -> Actor:
    return next(a for a in default_staff().all() if (a.department, a.post, a.region) == (department, post, REGION))


FRONT = actor("汶川县政务服务中心", "front_desk")


def plan(**first_stage: Any) -> tuple[StagePlan, ...]:
    stages = standard_plan(REGION, default_catalogue(), T0)
    return (replace(stages[0], **first_stage), *stages[1:])


def register(stages: tuple[StagePlan, ...] | None = None, reform: ReformTarget | None = None) -> Project:
    return Project.register(
        code=CODE,
        name="威州镇安置房建设项目",
        owner="汶川县住房和城乡建设局",
        investment="12345678.90",
        level="county",
        region=REGION,
        plan=stages or plan(),
        reform=reform,
        actor=FRONT,
        at=T0,
        command_id="register",
    )


def opened(**kw: Any) -> Project:
    p = register(**kw)
    p.accept_stage(stage=S1, actor=FRONT, at=T0, command_id="accept-1", calendar=CAL, materials=["申请表"])
    return p


def departments(p: Project, stage: Stage = S1) -> tuple[str, ...]:
    return p.view().stage(stage).departments


def opinion(p: Project, department: str, kind: str, at: datetime, cid: str = "", **kw: Any) -> None:
    p.give_opinion(
        stage=S1,
        department=department,
        opinion=kind,
        actor=actor(department),
        at=at,
        command_id=cid or f"op/{department}/{kind}",
        **kw,
    )


def all_agree(p: Project, at: datetime, stage: Stage = S1) -> None:
    for d in departments(p, stage):
        task = p.view().stage(stage).task(d)
        if task is not None and task.status is TaskStatus.REVIEWING:
            p.give_opinion(
                stage=stage, department=d, opinion="agree", actor=actor(d), at=at, command_id=f"{stage}/{d}/agree"
            )


def refuses(p: Project, error: type[DomainError], action: Callable[[], None], fragment: str = "") -> DomainError:
    """The action is refused with ``error`` and records nothing."""
    before = len(p.pending_events), p.view()
    with pytest.raises(error) as e:
        action()
    assert (len(p.pending_events), p.view()) == before
    assert fragment in e.value.message, e.value.message
    return e.value


def test_registration_records_the_plan_and_an_exact_amount() -> None:
    p = register()
    v = p.view()
    assert p.id == project_id(CODE) == Project.create_id(CODE)
    assert v.investment == Decimal("12345678.90") and v.investment_fen == 1234567890
    assert v.status is ProjectStatus.REGISTERED and v.level_label == "县（市）"
    assert [s.status for s in v.stages] == [StageStatus.NOT_OPEN] * 4
    assert open_tasks(v) == ()  # waiting for the applicant's stage application is nobody's work yet
    [task] = open_tasks(v, include_applicant_steps=True)
    assert task.kind is TaskKind.ACCEPT and task.stage is S1 and task.admits(FRONT)
    assert next_timers(v) == ()


@pytest.mark.parametrize(
    ("changes", "error", "fragment"),
    [
        ({"code": "2020-513222-47-01-000001"}, ProjectCodeInvalid, "与所属地区「汶川县」"),
        ({"level": "prefecture"}, ProjectFieldInvalid, "所属地区应为阿坝州"),
        ({"investment": "-5"}, DomainError, "不能为负数"),
        ({"name": " "}, ProjectFieldInvalid, "项目名称不能为空"),
        ({"actor": actor("汶川县水务局")}, ActorNotPermitted, "无权办理「项目登记」"),
    ],
)
def test_bad_registrations_are_refused(changes: dict[str, Any], error: type[DomainError], fragment: str) -> None:
    args: dict[str, Any] = dict(
        code=CODE, name="n", owner="o", investment="1", level="county", region=REGION, plan=plan(), actor=FRONT
    )
    with pytest.raises(error, match=fragment):
        Project.register(**{**args, **changes}, at=T0, command_id="c")


def test_five_departments_review_at_once_each_with_its_own_task_and_deadline() -> None:
    p = opened()
    v = p.view()
    s = v.stage(S1)
    assert s.status is StageStatus.UNDER_REVIEW and s.materials == ("申请表",)
    tasks = open_tasks(v)
    assert [t.kind for t in tasks] == [TaskKind.OPINION] * 5
    assert len({t.task_id for t in tasks}) == 5
    water = next(t for t in tasks if t.department == "汶川县水务局")
    assert water.admits(actor("汶川县水务局")) and not water.admits(actor("汶川县生态环境局"))
    # 18 working days after 1 April 2020: the Qingming holiday (4–6 April) is off, Sunday 26 April is a
    # make-up working day (调休), so the 18th is Monday 27 April; the deadline is the end of that day.
    assert s.task("汶川县水务局").due_day == "2020-04-27"  # type: ignore[union-attr]
    assert water.due_at == datetime(2020, 4, 28, tzinfo=SHANGHAI)
    assert {t.department for t in next_timers(v) if t.kind is TimerKind.DEPARTMENT_DEADLINE} == set(s.departments)
    all_agree(p, T0 + timedelta(days=2))
    v = p.view()
    assert [t.kind for t in open_tasks(v)] == [TaskKind.DECIDE]
    assert open_tasks(v)[0].admits(actor(v.stage(S1).lead_department))
    assert next_timers(v)[0].kind is TimerKind.REFORM_WARNING  # no department deadlines left
    p.decide_stage(
        stage=S1,
        outcome="approved",
        actor=actor("汶川县自然资源局"),
        at=T0 + timedelta(days=6),
        command_id="d1",
        calendar=CAL,
    )
    v = p.view()
    assert v.stage(S1).status is StageStatus.APPROVED and v.stage(S1).outcome is not None
    assert v.stage(S1).used_days == 3  # (1 April, 7 April]: 2, 3 and 7 April; 4–6 April are holidays
    assert v.reform.closed_days == 3
    assert open_tasks(v) == ()
    accept = [(t.kind, t.stage) for t in open_tasks(v, include_applicant_steps=True)]
    assert accept == [(TaskKind.ACCEPT, Stage.CONSTRUCTION_PLANNING)]


def test_stages_open_only_in_order_and_once() -> None:
    p = register()
    refuses(
        p,
        StageOutOfOrder,
        lambda: p.accept_stage(stage=Stage.CONSTRUCTION_PERMIT, actor=FRONT, at=T0, command_id="x", calendar=CAL),
        "「工程建设许可」阶段尚未通过",
    )
    p.accept_stage(stage=S1, actor=FRONT, at=T0, command_id="a1", calendar=CAL)
    refuses(
        p,
        StageOutOfOrder,
        lambda: p.accept_stage(stage=S1, actor=FRONT, at=T0, command_id="a2", calendar=CAL),
        "不能重复受理",
    )
    fresh = register()
    refuses(
        fresh,
        ActorNotPermitted,
        lambda: fresh.accept_stage(stage=S1, actor=actor("汶川县水务局"), at=T0, command_id="a3", calendar=CAL),
        "应由汶川县政务服务中心·综合受理窗口或汶川县自然资源局·审查审批岗办理",
    )
    fresh.accept_stage(stage=S1, actor=actor("汶川县自然资源局"), at=T0, command_id="a4", calendar=CAL)  # the lead


def test_bad_opinions_are_refused_and_record_nothing() -> None:
    p = opened()
    at = T0 + timedelta(days=1)
    refuses(
        p,
        DepartmentNotInStage,
        lambda: opinion(p, "汶川县教育局", "agree", at),
        "不是「立项用地规划许可」阶段的参与审批部门",
    )
    refuses(p, OpinionInvalid, lambda: opinion(p, "汶川县水务局", "disagree", at), "须写明不同意的理由")
    refuses(p, OpinionInvalid, lambda: opinion(p, "汶川县水务局", "agree", at, conditions="x"), "不应填写")
    refuses(p, OpinionInvalid, lambda: opinion(p, "汶川县水务局", "deemed_consent", at), "只能由系统")
    refuses(p, OpinionInvalid, lambda: opinion(p, "汶川县水务局", "maybe", at), "无效")
    refuses(p, ActorNotPermitted, lambda: p.give_opinion(
        stage=S1, department="汶川县水务局", opinion="agree", actor=actor("汶川县生态环境局"), at=at, command_id="x"
    ))  # fmt: skip
    opinion(p, "汶川县水务局", "agree", at)
    refuses(
        p, OpinionAlreadyGiven, lambda: opinion(p, "汶川县水务局", "disagree", at, "again", reason="r"), "不能重复出具"
    )
    all_agree(p, at)
    p.decide_stage(stage=S1, outcome="approved", actor=actor("汶川县自然资源局"), at=at, command_id="d", calendar=CAL)
    refuses(p, StageAlreadyDecided, lambda: opinion(p, "汶川县林业和草原局", "agree", at, "late"), "已作出决定")


def test_repeated_command_id_records_nothing() -> None:
    p = opened()
    at = T0 + timedelta(days=1)
    opinion(p, "汶川县水务局", "agree", at, "same")
    events = len(p.pending_events)
    opinion(p, "汶川县水务局", "agree", at, "same")  # a retried activity
    p.accept_stage(stage=S1, actor=FRONT, at=T0, command_id="accept-1", calendar=CAL)
    assert len(p.pending_events) == events


def test_corrections_of_several_departments_go_out_as_one_notice_and_stop_every_clock() -> None:
    p = opened()
    fg, zrzy, *others = departments(p)
    opinion(p, fg, "needs_correction", T0 + timedelta(days=1), missing=["可行性研究报告"])
    assert p.view().stage(S1).status is StageStatus.UNDER_REVIEW  # others still reviewing: no notice yet
    opinion(
        p, zrzy, "needs_correction", T0 + timedelta(days=1), missing=["节约集约用地论证分析", "项目用地边界拐点坐标表"]
    )
    opinion(p, others[0], "agree", T0 + timedelta(days=1))
    opinion(p, others[1], "agree_with_conditions", T0 + timedelta(days=1), conditions="落实水土保持措施")
    assert p.view().stage(S1).notice == ()
    notice_at = T0 + timedelta(days=2)  # Friday 3 April
    opinion(p, others[2], "agree", notice_at)
    notices = [e for e in p.pending_events if isinstance(e, Project.CorrectionNoticeIssued)]
    assert len(notices) == 1
    assert notices[0].items == [
        {"department": fg, "materials": ["可行性研究报告"]},
        {"department": zrzy, "materials": ["节约集约用地论证分析", "项目用地边界拐点坐标表"]},
    ]
    v = p.view()
    s = v.stage(S1)
    assert s.status is StageStatus.SUSPENDED and s.suspended_since == notice_at
    assert next_timers(v) == ()  # every clock stands
    assert open_tasks(v) == ()
    assert [t.kind for t in open_tasks(v, include_applicant_steps=True)] == [TaskKind.SUPPLEMENT]
    assert reform_days_used(v, datetime(2020, 4, 8, 12, tzinfo=SHANGHAI), CAL) == 1  # 2 April; 3 April on paused
    refuses(p, StageSuspended, lambda: opinion(p, fg, "agree", notice_at, "during"), "补正")
    refuses(
        p,
        CorrectionRefused,
        lambda: p.supplement(
            stage=S1, materials=["可行性研究报告"], actor=FRONT, at=notice_at, command_id="s0", calendar=CAL
        ),
        "尚缺：节约集约用地论证分析、项目用地边界拐点坐标表",
    )
    before = {t.department: t.due_day for t in s.tasks}
    supplied_at = datetime(2020, 4, 9, 10, tzinfo=SHANGHAI)  # Thursday: 3, 7, 8 April were paused
    p.supplement(
        stage=S1,
        materials=["可行性研究报告", "节约集约用地论证分析", "项目用地边界拐点坐标表"],
        actor=FRONT,
        at=supplied_at,
        command_id="s1",
        calendar=CAL,
    )
    v = p.view()
    s = v.stage(S1)
    assert s.status is StageStatus.UNDER_REVIEW and s.suspended_days == 3
    for d in (fg, zrzy):
        moved = CAL.add_days(date.fromisoformat(before[d]), 3, DayType.WORKING)[0].isoformat()
        assert s.task(d).due_day == moved == "2020-04-30"  # type: ignore[union-attr]
    assert s.task(others[0]).due_day == before[others[0]]  # type: ignore[union-attr]  # answered: untouched
    assert v.reform.warning_day == CAL.add_days(date(2020, 4, 1), 96 + 3, DayType.WORKING)[0].isoformat()
    assert {t.department for t in open_tasks(v)} == {fg, zrzy}
    refuses(
        p,
        CorrectionRefused,
        lambda: opinion(p, fg, "needs_correction", supplied_at, "again", missing=["x"]),
        "不得再次要求补正",
    )
    opinion(p, fg, "agree", supplied_at)
    opinion(p, zrzy, "agree", supplied_at)
    p.decide_stage(stage=S1, outcome="approved", actor=actor(zrzy), at=supplied_at, command_id="d", calendar=CAL)
    s = p.view().stage(S1)
    assert s.used_days == 2  # (1 April, 9 April] has 5 working days, minus 3, 7, 8 April (paused)
    assert s.conditions == ((others[1], "落实水土保持措施"),)
    assert reform_days_used(p.view(), datetime(2020, 5, 20, tzinfo=SHANGHAI), CAL) == 2 == p.view().reform.closed_days


def test_silence_under_escalate_supervises_and_keeps_waiting() -> None:
    p = opened()
    water = "汶川县水务局"
    due = p.view().stage(S1).task(water).due_at  # type: ignore[union-attr]
    silence = lambda at, cid="sil": p.record_silence(  # noqa: E731
        stage=S1, department=water, actor=SYSTEM_ACTOR, at=at, command_id=cid
    )
    refuses(p, TimerNotDue, lambda: silence(due - timedelta(minutes=1)), "尚未届满")
    refuses(p, ActorNotPermitted, lambda: p.record_silence(
        stage=S1, department=water, actor=actor(water), at=due, command_id="x"
    ))  # fmt: skip
    silence(due)
    escalated = [e for e in p.pending_events if isinstance(e, Project.Escalated)]
    assert len(escalated) == 1
    assert {(a["department"], a["post"]) for a in escalated[0].assignments} == {
        ("汶川县自然资源局", "reviewer"),
        ("汶川县政务服务中心", "supervisor"),
    }
    v = p.view()
    supervise = [t for t in open_tasks(v) if t.kind is TaskKind.SUPERVISE]
    assert len(supervise) == 1 and supervise[0].admits(actor("汶川县政务服务中心", "supervisor"))
    assert water in {t.department for t in open_tasks(v) if t.kind is TaskKind.OPINION}  # still waiting
    assert water not in {t.department for t in next_timers(v)}
    refuses(p, TimerNotDue, lambda: silence(due + timedelta(days=1), "sil2"), "已督办")
    opinion(p, water, "agree", due + timedelta(days=1))
    assert not [t for t in open_tasks(p.view()) if t.kind is TaskKind.SUPERVISE or t.department == water]


def test_silence_under_deemed_consent_records_the_rule_and_counts_as_an_answer() -> None:
    rule = "某规定：逾期未反馈视为同意"
    p = opened(stages=plan(silence_policy=SilencePolicy.DEEMED_CONSENT, deemed_consent_rule=rule))
    water = "汶川县水务局"
    for d in departments(p):
        if d != water:
            opinion(p, d, "agree", T0 + timedelta(days=1))
    due = p.view().stage(S1).task(water).due_at  # type: ignore[union-attr]
    p.record_silence(stage=S1, department=water, actor=SYSTEM_ACTOR, at=due, command_id="sil")
    [deemed] = [e for e in p.pending_events if isinstance(e, Project.DeemedConsent)]
    assert deemed.rule == rule and deemed.due_at == due
    task = p.view().stage(S1).task(water)
    assert task is not None and task.opinion is Opinion.DEEMED_CONSENT and task.deemed_consent_rule == rule
    assert p.view().stage(S1).awaiting_decision


def test_a_disagreement_denies_unless_the_stage_lets_the_lead_override() -> None:
    def with_disagreement(**kw: Any) -> Project:
        p = opened(**kw)
        opinion(p, "汶川县林业和草原局", "disagree", T0 + timedelta(days=1), reason="占用公益林")
        all_agree(p, T0 + timedelta(days=1))
        return p

    lead = actor("汶川县自然资源局")
    decide = lambda p, outcome, **kw: p.decide_stage(  # noqa: E731
        stage=S1, outcome=outcome, actor=lead, at=T0 + timedelta(days=2), command_id="d", calendar=CAL, **kw
    )
    p = with_disagreement()
    refuses(p, DecisionInvalid, lambda: decide(p, "approved", override_reason="x"), "不得协调通过")
    refuses(p, DecisionInvalid, lambda: decide(p, "denied"), "须写明理由")
    decide(p, "denied", reason="林业和草原局不同意占用公益林")
    v = p.view()
    assert v.status is ProjectStatus.DENIED and v.stage(S1).status is StageStatus.DENIED
    assert open_tasks(v) == () and next_timers(v) == ()
    refuses(
        p,
        ProjectClosed,
        lambda: p.accept_stage(stage=Stage.CONSTRUCTION_PLANNING, actor=FRONT, at=T0, command_id="n", calendar=CAL),
    )

    p = with_disagreement(stages=plan(lead_may_override=True))
    refuses(p, DecisionInvalid, lambda: decide(p, "approved"), "须写明理由")
    decide(p, "approved", override_reason="已调整选址避让公益林")
    s = p.view().stage(S1)
    assert s.status is StageStatus.APPROVED and s.overridden == ("汶川县林业和草原局",)
    assert s.override_reason == "已调整选址避让公益林"


def test_the_lead_decides_only_when_every_opinion_is_in_and_never_denies_a_unanimous_stage() -> None:
    p = opened()
    lead = actor("汶川县自然资源局")
    opinion(p, "汶川县水务局", "agree", T0)
    decide = lambda outcome, **kw: p.decide_stage(  # noqa: E731
        stage=S1, outcome=outcome, actor=lead, at=T0 + timedelta(days=1), command_id="d", calendar=CAL, **kw
    )
    refuses(p, OpinionsPending, lambda: decide("approved"), "尚有部门未出具最终意见")
    all_agree(p, T0)
    refuses(p, DecisionInvalid, lambda: decide("denied", reason="x"), "各部门均同意")
    refuses(p, ActorNotPermitted, lambda: p.decide_stage(
        stage=S1, outcome="approved", actor=FRONT, at=T0, command_id="d", calendar=CAL
    ))  # fmt: skip


def test_reform_target_warns_before_and_marks_overdue_after() -> None:
    p = opened(reform=ReformTarget(days=10, warning_share=Decimal("0.5")))
    v = p.view()
    # 5 and 10 working days after 1 April 2020 (4–6 April off): 9 April and 16 April.
    assert (v.reform.warning_day, v.reform.overdue_day) == ("2020-04-09", "2020-04-16")
    warning = next(t for t in next_timers(v) if t.kind is TimerKind.REFORM_WARNING)
    refuses(
        p,
        TimerNotDue,
        lambda: p.warn_reform_target(actor=SYSTEM_ACTOR, at=warning.at - timedelta(seconds=1), command_id="w"),
    )
    refuses(p, ActorNotPermitted, lambda: p.warn_reform_target(actor=FRONT, at=warning.at, command_id="w"))
    p.warn_reform_target(actor=SYSTEM_ACTOR, at=warning.at, command_id="w")
    v = p.view()
    assert v.reform.warned_at == warning.at
    assert TimerKind.REFORM_WARNING not in {t.kind for t in next_timers(v)}
    refuses(p, TimerNotDue, lambda: p.warn_reform_target(actor=SYSTEM_ACTOR, at=warning.at, command_id="w2"), "已记录")
    overdue = next(t for t in next_timers(v) if t.kind is TimerKind.REFORM_OVERDUE)
    p.mark_reform_overdue(actor=SYSTEM_ACTOR, at=overdue.at, command_id="o")
    assert p.view().reform.overdue_marked_at == overdue.at


def test_the_reform_clock_carries_used_days_into_the_next_stage() -> None:
    p = opened(reform=ReformTarget(days=10, warning_share=Decimal("0.5")))
    all_agree(p, T0)
    decided = datetime(2020, 4, 8, 10, tzinfo=SHANGHAI)  # 2, 3, 7, 8 April: 4 working days
    p.decide_stage(
        stage=S1, outcome="approved", actor=actor("汶川县自然资源局"), at=decided, command_id="d", calendar=CAL
    )
    assert p.view().reform.closed_days == 4 and next_timers(p.view()) == ()
    p.accept_stage(stage=Stage.CONSTRUCTION_PLANNING, actor=FRONT, at=decided, command_id="a2", calendar=CAL)
    r = p.view().reform
    assert (r.warning_day, r.overdue_day) == ("2020-04-09", "2020-04-16")  # 1 and 6 working days left


def test_a_project_round_trips_through_the_event_store() -> None:
    """Every event is transcoded and replayed; amounts are integer fen in the stored JSON."""
    app: Application[Any] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    p = opened()
    opinion(p, "汶川县发展和改革局", "needs_correction", T0, missing=["可行性研究报告"])
    for d in departments(p)[1:]:
        opinion(p, d, "agree", T0)
    p.supplement(
        stage=S1, materials=["可行性研究报告"], actor=FRONT, at=T0 + timedelta(days=1), command_id="s", calendar=CAL
    )
    p.record_silence(
        stage=S1, department="汶川县发展和改革局", actor=SYSTEM_ACTOR, at=T0 + timedelta(days=40), command_id="sil"
    )
    app.save(p)
    again: Project = app.repository.get(p.id)
    assert again.view() == p.view()
    first = app.notification_log.select(start=1, limit=1)[0]
    assert orjson.loads(first.state)["investment_fen"] == 1234567890


def test_the_view_crosses_temporal_unchanged() -> None:
    """The workflow keeps the view (and its worklist rows) in its state: Temporal's default converter
    must give back an equal value, so the view holds no date or Decimal fields."""
    from temporalio.converter import DataConverter

    p = opened()
    opinion(p, "汶川县水务局", "needs_correction", T0, missing=["水土保持方案报告书"])
    opinion(p, "汶川县林业和草原局", "disagree", T0, reason="占用公益林")
    view, items = p.view(), list(open_tasks(p.view()))
    converter = DataConverter.default.payload_converter
    assert converter.from_payloads(converter.to_payloads([view]), [ProjectView]) == [view]
    assert converter.from_payloads(converter.to_payloads([items]), [list[WorkItem]]) == [items]
