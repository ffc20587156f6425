"""A call of an Update that the Temporal server cuts short at its own deadline is not the end of the Update.

The server ends every call of an Update (Update-with-Start included) after 30 s at most, whatever the
client asks for; it normally answers "admitted, not yet accepted" after 20 s and the SDK asks again. A busy
server (a worker just SIGKILLed mid-drive, its cases' tasks timing out all at once) can miss the 20 s
answer; the call then ends with DEADLINE_EXCEEDED, which the SDK raises as
WorkflowUpdateRPCTimeoutOrCancelledError. The worker-killed fault test met it: the drive stopped with
"办件登记超时（90 秒）" 30 s after the submission, though the case was registered moments later.

Here a dev server of the test's own answers only after 60 s (history.longPollExpirationInterval), so every
waiting call is cut at 30 s, deterministically. With no worker for 32 s, a submission and a staff step both
outlast that cut; a worker then starts, and both finish, each recorded once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.cases.model import CaseStatus
from domain.cases.steps import Accept
from domain.catalogue import default_catalogue
from services.bootstrap import Bootstrap
from services.cases import Done
from tests.conftest import temporal_binary
from tests.integration.conftest import settings_for
from tests.integration.support import FRONT, MATTER, event_names, new_case_no
from workers.worker import build_worker
from workflows.converter import DATA_CONVERTER
from workflows.names import registration_command_id
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

pytestmark = pytest.mark.integration
SERVER_CUT = 30.0  # the server's own deadline for one call (not configurable)


@pytest.fixture
async def slow_answering_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=["--dynamic-config-value", 'history.longPollExpirationInterval="60s"'],
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=DATA_CONVERTER,
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def test_a_submission_and_a_step_outlast_the_servers_cut_of_their_update_call(
    slow_answering_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    env = slow_answering_server
    target = env.client.service_client.config.target_host
    settings = settings_for("sqlite", str(tmp_path / "events.db"), f"cut-{uuid.uuid4().hex[:6]}", target, tmp_path)
    boot = Bootstrap(settings, client=env.client)
    service, materials = boot.cases, list(default_catalogue().get(MATTER).materials)
    stepped, submitted = new_case_no("sqlite"), new_case_no("sqlite")

    async def submit(case_no: str) -> Done:
        return await service.submit(
            matter_code=MATTER, applicant="某某", materials=materials, actor=FRONT, case_no=case_no,
            read_your_writes=False,
        )  # fmt: skip

    async with build_worker(env.client, boot.store, settings.task_queue, boot=boot):
        await submit(stepped)

    # No worker now: both Updates wait, and the server cuts their first call at 30 s.
    started = time.monotonic()
    step = asyncio.ensure_future(service.step(stepped, Accept(actor=FRONT), read_your_writes=False))
    registration = asyncio.ensure_future(submit(submitted))
    done, _ = await asyncio.wait({step, registration}, timeout=SERVER_CUT + 2)
    assert not done, [t.exception() for t in done]
    async with build_worker(env.client, boot.store, settings.task_queue, boot=boot):
        accepted, registered = await asyncio.wait_for(asyncio.gather(step, registration), 60)
    assert time.monotonic() - started > SERVER_CUT
    assert accepted.case.status is CaseStatus.UNDER_REVIEW
    assert registered.case.case_no == submitted
    assert event_names(boot.store.history(stepped)) == ["Submitted", "Accepted"]
    assert event_names(boot.store.history(submitted)) == ["Submitted"]
    assert boot.store.taken(submitted, registration_command_id(submitted)) is not None  # what the wait looks for
