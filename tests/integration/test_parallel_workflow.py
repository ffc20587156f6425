"""Parallel approval on the real Temporal dev server (time skipping), the event store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from domain.calendar import DayType, default_calendar
from domain.parallel.scenario import drive, generate
from domain.parallel.values import DIVISIONS
from domain.parallel.view import ProjectView
from domain.staff import Actor, default_staff
from services.bootstrap import Bootstrap
from workflows.parallel import ParallelApprovalWorkflow, ProjectProgress

from .conftest import Stack
from .parallel_support import (
    FG,
    FRONT,
    JT,
    LC,
    RF,
    S1,
    S2,
    S3,
    S4,
    STAGE_1,
    STHJ,
    SUPERVISOR,
    SW,
    ZJ,
    ZRZY,
    decide,
    events,
    open_stage,
    opinion,
    refused,
    submit,
    through_stage,
    who,
)
from .support import history_length, record_history

pytestmark = pytest.mark.integration


def tasks_of(boot: Bootstrap, actor: Actor, code: str) -> list[tuple[str, str]]:
    """The project's rows in the actor's worklist: (task, department it is about)."""
    boot.projections.ensure_fresh("projects")
    return sorted((i.task, i.task_id.split("/")[-1].split("@")[0]) for i in boot.cases.worklist(actor).items
                  if i.kind == "project" and i.ref == code)  # fmt: skip


async def progress(handle: Any) -> ProjectProgress:
    return await handle.query(ParallelApprovalWorkflow.status)  # type: ignore[no-any-return]


async def test_five_departments_review_at_once_and_the_lead_decides(stack: Stack) -> None:
    boot = stack.boot
    code, handle = await submit(boot, stack.env)
    view = await open_stage(boot, code, S1)
    s = view.stages[0]
    assert [t.department for t in s.tasks] == STAGE_1 and all(t.status == "reviewing" for t in s.tasks)
    assert len({t.due_day for t in s.tasks}) == 1 and s.due_day > s.tasks[0].due_day  # own clocks, 18 of 20 days
    assert len((await progress(handle)).branches) == 6  # five departments + the reform clock
    # Five departments see their own task at once; the lead's reviewer only its own department's.
    for d in STAGE_1:
        assert tasks_of(boot, who(d), code) == [("opinion", d)]
    assert tasks_of(boot, SUPERVISOR, code) == []
    # Refused before anything reaches history: out of order, a department not in the stage.
    length = await history_length(handle)
    assert await refused(open_stage(boot, code, S3)) == "PROJECT_STAGE_OUT_OF_ORDER"
    assert await refused(opinion(boot, code, JT, stage=S1)) == "PROJECT_DEPARTMENT_NOT_IN_STAGE"
    assert await refused(opinion(boot, code, FG, "disagree", stage=S1)) == "PROJECT_OPINION_INVALID"  # no reason
    assert await history_length(handle) == length
    await opinion(boot, code, FG)
    assert await refused(opinion(boot, code, FG, "disagree", reason="不符合产业政策")) == "PROJECT_OPINION_DUPLICATE"
    # A finished task leaves only its own department's list.
    assert tasks_of(boot, who(FG), code) == [] and tasks_of(boot, who(FG, backup=True), code) == []
    for d in STAGE_1[1:]:
        assert tasks_of(boot, who(d), code) == [("opinion", d)]
    await opinion(boot, code, STHJ, "agree_with_conditions", conditions="施工期间落实扬尘防治措施")
    for d in (ZRZY, SW, LC):
        await opinion(boot, code, d, actor=who(d, backup=True))  # AB岗: the backup holds the same post
    assert tasks_of(boot, who(ZRZY), code) == [("decide", "decide")]
    decided = await decide(boot, code, S1, ZRZY)
    assert decided.stages[0].status == "approved" and decided.stages[0].conditions == (
        (STHJ, "施工期间落实扬尘防治措施"),
    )
    assert all(tasks_of(boot, who(d), code) == [] for d in STAGE_1)
    assert await refused(opinion(boot, code, SW, stage=S1)) == "PROJECT_STAGE_DECIDED"
    assert events(boot, code) == ["Registered", "StageAccepted", *["OpinionGiven"] * 5, "StageDecided"]
    assert (await progress(handle)).branches == ("reform",)  # the stage's branches ended with it
    await record_history(handle, "parallel_all_agree")


async def test_corrections_of_two_departments_make_one_notice_and_stop_every_clock(stack: Stack) -> None:
    boot = stack.boot
    code, handle = await submit(boot, stack.env)
    before = (await open_stage(boot, code, S1)).stages[0]
    await opinion(boot, code, FG, "needs_correction", missing=["项目建议书"])
    assert "CorrectionNoticeIssued" not in events(boot, code)  # not before every department has answered
    # The other four answer at the same moment: recorded concurrently, still exactly one notice.
    await asyncio.gather(
        opinion(boot, code, STHJ, "needs_correction", missing=["环境影响登记表"]),
        *(opinion(boot, code, d) for d in (ZRZY, SW, LC)),
    )
    s = boot.parallel.get(code).stages[0]
    assert s.status == "suspended"
    assert [(i.department, i.materials) for i in s.notice] == [(FG, ("项目建议书",)), (STHJ, ("环境影响登记表",))]
    assert (await progress(handle)).timers == ()  # every clock stopped: no deadline, no reform moment
    assert all(tasks_of(boot, who(d), code) == [] for d in STAGE_1)
    assert await refused(opinion(boot, code, FG, stage=S1)) == "PROJECT_STAGE_SUSPENDED"
    # Far past every department's deadline: nothing happens while the applicant supplements.
    await stack.env.fast_forward(handle, timedelta(days=30))
    assert events(boot, code).count("Escalated") == 0
    assert await refused(boot.parallel.supplement(code, actor=FRONT, materials=["项目建议书"])) == (
        "PROJECT_CORRECTION_REFUSED"
    )
    s = (await boot.parallel.supplement(code, actor=FRONT, read_your_writes=False)).project.stages[0]
    assert s.status == "under_review" and s.suspended_days > 0
    cal = default_calendar()
    moved = cal.add_days(date.fromisoformat(before.due_day), s.suspended_days, DayType.WORKING, allow_provisional=True)[
        0
    ].isoformat()
    assert s.due_day == moved
    assert s.task(FG).due_day > before.task(FG).due_day and s.task(SW).due_day == before.task(SW).due_day  # type: ignore[union-attr]
    assert tasks_of(boot, who(FG), code) == [("opinion", FG)] and tasks_of(boot, who(SW), code) == []
    assert await refused(opinion(boot, code, FG, "needs_correction", missing=["可行性研究报告"])) == (
        "PROJECT_CORRECTION_REFUSED"
    )
    await opinion(boot, code, FG)
    await opinion(boot, code, STHJ)
    await decide(boot, code, S1, ZRZY)
    names = events(boot, code)
    assert names.count("CorrectionNoticeIssued") == 1 and names.count("CorrectionRequested") == 2
    await record_history(handle, "parallel_merged_notice")


async def test_a_silent_department_is_escalated_to_the_lead_and_the_supervisor(stack: Stack) -> None:
    boot = stack.boot
    code, handle = await submit(boot, stack.env)
    await open_stage(boot, code, S1)
    for d in (FG, ZRZY, STHJ, LC):
        await opinion(boot, code, d)
    await stack.env.fast_forward(handle, timedelta(days=35))  # 18 working days pass, holidays or not
    assert events(boot, code).count("Escalated") == 1
    assert tasks_of(boot, SUPERVISOR, code) == [("supervise", SW)]
    assert tasks_of(boot, who(ZRZY), code) == [("supervise", SW)]
    assert tasks_of(boot, who(SW), code) == [("opinion", SW)]  # the department's own task stays open
    await stack.env.fast_forward(handle, timedelta(days=10))
    assert events(boot, code).count("Escalated") == 1  # escalated once, then the workflow keeps waiting
    await opinion(boot, code, SW)
    assert tasks_of(boot, SUPERVISOR, code) == []
    assert (await decide(boot, code, S1, ZRZY)).stages[0].status == "approved"
    await record_history(handle, "parallel_escalated")


async def test_deemed_consent_and_an_override_take_the_project_to_completion(stack: Stack) -> None:
    boot = stack.boot
    code, handle = await submit(boot, stack.env)
    for stage in (S1, S2, S3):
        await through_stage(boot, code, stage)
    await open_stage(boot, code, S4)
    await opinion(boot, code, ZJ)
    await opinion(boot, code, ZRZY, "disagree", reason="规划核实发现建筑退线不足")
    await stack.env.fast_forward(handle, timedelta(days=21))  # 人防 silent past its 10 working days
    view = boot.parallel.get(code)
    rf = view.stages[3].task(RF)
    assert rf is not None and rf.opinion == "deemed_consent" and "视为同意" in rf.deemed_consent_rule
    assert await refused(decide(boot, code, S4, ZJ)) == "PROJECT_DECISION_INVALID"  # no override reason
    final = await decide(boot, code, S4, ZJ, override_reason="退线问题已由规划部门现场复核整改")
    assert final.status == "completed" and final.stages[3].overridden == (ZRZY,)
    done: ProjectView = await handle.result()
    assert done.status == "completed" and done.reform.final_days is not None and not done.reform.exceeded
    assert events(boot, code).count("DeemedConsent") == 1
    await record_history(handle, "parallel_deemed_consent_override")


async def test_a_disagreement_without_override_denies_the_project(stack: Stack) -> None:
    boot = stack.boot
    code, handle = await submit(boot, stack.env)
    await open_stage(boot, code, S1)
    for d in (FG, ZRZY, SW, LC):
        await opinion(boot, code, d)
    await opinion(boot, code, STHJ, "disagree", reason="项目选址位于生态保护红线内")
    assert await refused(decide(boot, code, S1, ZRZY, override_reason="协调")) == "PROJECT_DECISION_INVALID"
    denied = await decide(boot, code, S1, ZRZY, outcome="denied", reason="生态环境部门不同意，不予通过")
    assert denied.status == "denied"
    assert (await handle.result()).status == "denied"
    assert await refused(open_stage(boot, code, S2)) == "PROJECT_CLOSED"
    await record_history(handle, "parallel_denied")


async def test_the_reform_target_warns_and_then_marks_the_project_overdue(stack: Stack) -> None:
    boot = stack.boot
    code, handle = await submit(boot, stack.env, reform_days=5)  # warning after 4 working days
    await open_stage(boot, code, S1)
    await stack.env.fast_forward(handle, timedelta(days=16))
    names = events(boot, code)
    assert names.index("ReformTargetWarned") < names.index("ReformTargetOverdue") and "Escalated" not in names
    view = boot.parallel.get(code)
    assert view.reform.exceeded and view.reform.warned_at is not None
    assert all(i.priority == 2 for i in boot.cases.worklist(who(FG)).items if i.ref == code)
    for d in STAGE_1:
        await opinion(boot, code, d)
    assert (await decide(boot, code, S1, ZRZY)).stages[0].status == "approved"
    await record_history(handle, "parallel_reform_overdue")


async def test_a_loaded_open_project_is_taken_over_and_its_past_deadlines_act_at_once(stack: Stack) -> None:
    """The scenario's open projects have no workflow until adopted; then overdue departments are handled."""
    boot = stack.boot
    loaded = next(r for r in generate() if not r.handled_in_april and r.stages[-1].decided_at is None)
    # A code of its own: both stores' runs share the dev server, where the workflow id is the code.
    record = replace(loaded, code=f"2020-{DIVISIONS[loaded.region]}-47-01-{100000 + uuid.uuid4().int % 900000:06d}")
    project = drive(record)
    boot.parallel.commands.record([project])
    s = project.view().current_stage
    assert s is not None and s.status == "under_review"
    silent = [t.department for t in s.tasks if t.status == "reviewing"]
    handle = stack.client.get_workflow_handle(f"project-{record.code}", result_type=ProjectView)
    with stack.env.with_time_skipping_disabled():
        assert await boot.parallel.adopt([record.code]) == [record.code]
    reform = s.stage.value != S4  # April 2020 + 120 working days is long past
    for _ in range(300):
        names = events(boot, record.code)
        silence = names.count("Escalated") + names.count("DeemedConsent")
        if silence == len(silent) and (not reform or "ReformTargetOverdue" in names):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"past deadlines did not act: {names}")
    reviewer = next(
        a for a in default_staff().all() if (a.department, a.post, a.region) == (silent[0], "reviewer", record.region)
    )
    view = await opinion(boot, record.code, silent[0], actor=reviewer, stage=s.stage.value)
    assert view.stage(s.stage).task(silent[0]).status == "answered"  # type: ignore[union-attr]
    await record_history(handle, "parallel_adopted")
