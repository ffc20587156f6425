"""Crashes in parallel approval: an opinion activity that dies after its commit, a worker killed mid-stage."""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest
from temporalio.api.enums.v1 import EventType

from domain.parallel.view import ProjectView
from workers.worker import build_worker

from .conftest import Stack
from .parallel_support import S1, S2, S3, S4, STAGE_1, ZRZY, decide, events, open_stage, opinion, submit, through_stage
from .test_resilience import _start_worker_process

pytestmark = pytest.mark.integration


async def test_an_opinion_activity_retried_after_a_crash_records_one_opinion(stack: Stack) -> None:
    queue = f"crashy-projects-{uuid.uuid4().hex[:6]}"
    boot = stack.on_queue(queue)
    async with build_worker(stack.client, stack.app, queue, crash_after_commit_once=frozenset({"opinion"})):
        code, handle = await submit(boot, stack.env)
        await open_stage(boot, code, S1)
        for d in STAGE_1:
            await opinion(boot, code, d)
        assert (await decide(boot, code, S1, ZRZY)).stages[0].status == "approved"
    assert events(boot, code) == ["Registered", "StageAccepted", *["OpinionGiven"] * 5, "StageDecided"]
    history = await handle.fetch_history()
    started = [e.activity_task_started_event_attributes for e in history.events
               if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]  # fmt: skip
    assert sum(1 for a in started if a.attempt == 2) == 5  # each opinion died once after its commit


async def test_a_worker_killed_mid_stage_and_restarted_finishes_the_project(stack: Stack) -> None:
    queue = f"killed-projects-{uuid.uuid4().hex[:6]}"
    boot = stack.on_queue(queue)
    worker = _start_worker_process(stack, queue)
    try:
        code, handle = await submit(boot, stack.env)
        await open_stage(boot, code, S1)
        for d in STAGE_1[:2]:
            await opinion(boot, code, d)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        # A reviewer answers while no worker is alive; the step waits for the restarted worker.
        pending = asyncio.create_task(opinion(boot, code, STAGE_1[2]))
        await asyncio.sleep(1)
        assert not pending.done()
        worker = _start_worker_process(stack, queue)
        await asyncio.wait_for(pending, timeout=60)
        for d in STAGE_1[3:]:
            await opinion(boot, code, d)
        await decide(boot, code, S1, ZRZY)
        for stage in (S2, S3, S4):
            await through_stage(boot, code, stage)
        final: ProjectView = await asyncio.wait_for(handle.result(), timeout=60)
        assert final.status == "completed"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    names = events(boot, code)
    assert names.count("OpinionGiven") == 5 + 3 + 2 + 3 and names.count("StageDecided") == 4


async def test_a_project_registered_while_no_worker_runs_is_registered_once_one_starts(stack: Stack) -> None:
    """The registration waits for the store, not for a query (which needs a worker): a project handed in
    while the worker is down (killed, being restarted) is answered once a worker takes it up."""
    queue = f"workerless-projects-{uuid.uuid4().hex[:6]}"
    boot = stack.on_queue(queue)
    pending = asyncio.create_task(submit(boot, stack.env))
    await asyncio.sleep(3)
    assert not pending.done()  # nothing can register it yet
    async with build_worker(stack.client, stack.app, queue):
        code, _ = await asyncio.wait_for(pending, timeout=60)
    assert events(boot, code) == ["Registered"]
