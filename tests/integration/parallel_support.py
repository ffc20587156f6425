"""Helpers for the parallel-approval integration tests: staff of 汶川县, fresh project codes, steps, events."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import WorkflowHandle

from domain.errors import DomainError
from domain.parallel.view import ProjectView
from domain.staff import Actor, Post, default_staff, service_centre
from services.bootstrap import Bootstrap
from workflows.parallel_contracts import project_workflow_id

REGION = "汶川县"
S1, S2, S3, S4 = "land_use_planning", "construction_planning", "construction_permit", "completion_acceptance"
FG, ZRZY, STHJ, SW, LC = (f"汶川县{d}" for d in ("发展和改革局", "自然资源局", "生态环境局", "水务局", "林业和草原局"))
ZJ, RF, JT = "汶川县住房和城乡建设局", "汶川县人民防空办公室", "汶川县交通运输局"
STAGE_1 = [FG, ZRZY, STHJ, SW, LC]  # the five departments of 立项用地规划许可 (lead: 自然资源局)


def who(department: str, post: Post = Post.REVIEWER, backup: bool = False) -> Actor:
    found = sorted(
        (a for a in default_staff().all() if (a.department, a.post, a.region) == (department, post.value, REGION)),
        key=lambda a: a.user_id,
    )
    return found[1 if backup else 0]


FRONT = who(service_centre(REGION), Post.FRONT_DESK)
SUPERVISOR = who(service_centre(REGION), Post.SUPERVISOR)


def new_code() -> str:
    return f"2026-513221-47-01-{100000 + uuid.uuid4().int % 900000:06d}"


async def submit(boot: Bootstrap, env: Any, **kw: Any) -> tuple[str, WorkflowHandle[Any, Any]]:
    """Register a project with time skipping off: staff steps come first, then the test fast-forwards."""
    code = kw.pop("code", None) or new_code()
    with env.with_time_skipping_disabled():
        await boot.parallel.submit(
            code=code,
            name=kw.pop("name", "汶川县威州镇污水处理厂提标改造工程"),
            owner="汶川县住房和城乡建设局",
            investment=kw.pop("investment", "38500000.00"),
            level="county",
            region=REGION,
            actor=FRONT,
            read_your_writes=False,
            **kw,
        )
    return code, env.client.get_workflow_handle(project_workflow_id(code), result_type=ProjectView)


async def opinion(boot: Bootstrap, code: str, department: str, kind: str = "agree", **kw: Any) -> ProjectView:
    actor = kw.pop("actor", None) or who(department)
    done = await boot.parallel.opinion(
        code, actor=actor, opinion=kind, department=department, read_your_writes=False, **kw
    )
    return done.project


async def open_stage(boot: Bootstrap, code: str, stage: str) -> ProjectView:
    return (await boot.parallel.open_stage(code, actor=FRONT, stage=stage, read_your_writes=False)).project


async def decide(
    boot: Bootstrap, code: str, stage: str, lead: str, outcome: str = "approved", **kw: Any
) -> ProjectView:
    done = await boot.parallel.decide(code, actor=who(lead), outcome=outcome, stage=stage, read_your_writes=False, **kw)
    return done.project


async def refused(coro: Any) -> str:
    """The refusal's stable code (the step must be refused)."""
    try:
        await coro
    except DomainError as e:
        return e.code
    raise AssertionError("the step was not refused")


def events(boot: Bootstrap, code: str) -> list[str]:
    return [e.event for e in boot.parallel.history(code)]


async def through_stage(boot: Bootstrap, code: str, stage: str) -> ProjectView:
    """Accept a stage, every department agrees, the lead approves."""
    view = await open_stage(boot, code, stage)
    s = next(s for s in view.stages if s.stage.value == stage)
    for t in s.tasks:
        await opinion(boot, code, t.department, stage=stage)
    return await decide(boot, code, stage, s.lead_department)
