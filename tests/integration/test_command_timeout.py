"""Every case command runs under the short start-to-close timeout (behind the short-command-timeout
patch), so a command lost with a killed worker is retried within seconds, not a minute."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType

from domain.cases.steps import Accept, Decide, Deliver
from domain.catalogue import default_catalogue
from services.cases import REGISTER_WAIT
from workflows.case import ACTIVITY_TIMEOUT, COMMAND_TIMEOUT, SHORT_COMMAND_TIMEOUT_PATCH

from .conftest import Stack
from .support import FRONT, MATTER, OUTPUT, REVIEWER, new_case_no, record_history, take

pytestmark = pytest.mark.integration


async def test_commands_of_a_new_case_have_the_short_timeout(stack: Stack) -> None:
    case_no = new_case_no(stack.kind)
    with stack.env.with_time_skipping_disabled():
        await stack.service.submit(
            matter_code=MATTER, applicant="某某", materials=list(default_catalogue().get(MATTER).materials),
            actor=FRONT, case_no=case_no, read_your_writes=False,
        )  # fmt: skip
    await take(stack.service, case_no, Accept(actor=FRONT))
    await take(stack.service, case_no, Decide(actor=REVIEWER, outcome="grant"))
    await take(stack.service, case_no, Deliver(actor=OUTPUT))
    handle = stack.client.get_workflow_handle(f"case-{case_no}")
    await handle.result()
    history = await handle.fetch_history()
    scheduled = [e.activity_task_scheduled_event_attributes for e in history.events
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]  # fmt: skip
    assert len(scheduled) == 4  # submit, accept, decide, deliver (+ complete, one command: one-command-then)
    assert {a.start_to_close_timeout.ToTimedelta() for a in scheduled} == {COMMAND_TIMEOUT}
    markers = [e.marker_recorded_event_attributes for e in history.events
               if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]  # fmt: skip
    assert any(SHORT_COMMAND_TIMEOUT_PATCH.encode() in m.SerializeToString() for m in markers), markers
    await record_history(handle, "case_short_command_timeout")


def test_a_submission_waits_longer_than_a_retried_command_takes() -> None:
    # A lost command is retried after its timeout (the old one for cases started before the patch).
    assert COMMAND_TIMEOUT < ACTIVITY_TIMEOUT
    assert ACTIVITY_TIMEOUT.total_seconds() + 20 < REGISTER_WAIT
