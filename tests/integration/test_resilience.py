"""Crashes: an activity that dies after its commit, and a worker process killed mid-case."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType

from domain.cases.model import CaseView
from domain.cases.steps import Accept, Decide, Deliver

from .conftest import Stack
from .support import FRONT, MATTER, OUTPUT, REVIEWER, event_names, new_case_no, take
from .test_case_workflow import ALL

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


async def test_activity_crashing_after_commit_records_each_event_once(stack: Stack) -> None:
    queue = f"crashy-{uuid.uuid4().hex[:6]}"
    service = stack.on_queue(queue).cases
    crashing = frozenset({"submit", "accept", "decide", "deliver", "complete"})
    async with _worker(stack, queue, crashing):
        case_no = new_case_no(stack.kind)
        with stack.env.with_time_skipping_disabled():
            await service.submit(
                matter_code=MATTER, applicant="某某", materials=ALL, actor=FRONT, case_no=case_no,
                read_your_writes=False,
            )  # fmt: skip
        await take(service, case_no, Accept(actor=FRONT))
        await take(service, case_no, Decide(actor=REVIEWER, outcome="grant"))
        await take(service, case_no, Deliver(actor=OUTPUT))
        handle = stack.client.get_workflow_handle(f"case-{case_no}", result_type=CaseView)
        assert (await handle.result()).status == "completed"
    assert event_names(stack.app.history(case_no)) == ["Submitted", "Accepted", "Decided", "Delivered", "Completed"]
    # Each of the four activities (deliver records 办结 in the same command since the one-command-then patch)
    # really did fail once after committing, and was retried.
    history = await handle.fetch_history()
    completed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
    started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    assert len(completed) == 4 and all(e.activity_task_started_event_attributes.attempt == 2 for e in started)


def _worker(stack: Stack, queue: str, crashing: frozenset[str]):  # type: ignore[no-untyped-def]
    from workers.worker import build_worker

    return build_worker(stack.client, stack.app, queue, crash_after_commit_once=crashing)


def _start_worker_process(stack: Stack, queue: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ONESEAL_TEMPORAL_ADDRESS": stack.client.service_client.config.target_host,
        "ONESEAL_EVENT_STORE": stack.kind,
        "ONESEAL_EVENT_STORE_URL": stack.settings.event_store_url,
        "ONESEAL_TASK_QUEUE": queue,
        "ONESEAL_DATA_DIR": str(stack.settings.data_dir),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "workers.worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_worker_killed_mid_case_and_restarted_finishes_the_case(stack: Stack) -> None:
    queue = f"killed-{uuid.uuid4().hex[:6]}"
    service = stack.on_queue(queue).cases
    worker = _start_worker_process(stack, queue)
    try:
        case_no = new_case_no(stack.kind)
        with stack.env.with_time_skipping_disabled():
            await service.submit(
                matter_code=MATTER, applicant="某某", materials=ALL, actor=FRONT, case_no=case_no,
                read_your_writes=False,
            )  # fmt: skip
        await take(service, case_no, Accept(actor=FRONT))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        # The reviewer decides while no worker is alive; the step waits for the restarted worker.
        decide = asyncio.create_task(take(service, case_no, Decide(actor=REVIEWER, outcome="grant")))
        await asyncio.sleep(1)
        assert not decide.done()
        worker = _start_worker_process(stack, queue)
        decided = await asyncio.wait_for(decide, timeout=60)
        assert decided.status == "decided"
        await take(service, case_no, Deliver(actor=OUTPUT))
        handle = stack.client.get_workflow_handle(f"case-{case_no}", result_type=CaseView)
        assert (await asyncio.wait_for(handle.result(), timeout=60)).status == "completed"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    assert event_names(stack.app.history(case_no)) == ["Submitted", "Accepted", "Decided", "Delivered", "Completed"]
