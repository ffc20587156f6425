"""A case's round trips to Temporal: submission by Update-with-Start (one round trip, no polled query),
and 出件 + 办结 as ONE command recording both events in one save (the one-command-then patch)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from temporalio.api.enums.v1 import EventType

from domain.cases.steps import Accept, Decide, Deliver, SubmitCase
from domain.catalogue import default_catalogue
from domain.errors import CaseAlreadyExists
from services.errors import CaseRegisterTimeout
from workflows.case import ONE_COMMAND_THEN_PATCH
from workflows.contracts import REGISTRATION_UPDATE, CaseCommand

from .conftest import Stack
from .support import FRONT, MATTER, OUTPUT, REVIEWER, event_names, new_case_no, record_history, take

pytestmark = pytest.mark.integration

ALL = list(default_catalogue().get(MATTER).materials)


async def test_submission_is_one_update_with_start_and_delivery_one_command(stack: Stack) -> None:
    case_no = new_case_no(stack.kind)
    with stack.env.with_time_skipping_disabled():
        done = await stack.service.submit(
            matter_code=MATTER, applicant="某某", materials=ALL, actor=FRONT, case_no=case_no, read_your_writes=False
        )
    assert done.case.status == "submitted" and done.case.case_no == case_no
    await take(stack.service, case_no, Accept(actor=FRONT))
    await take(stack.service, case_no, Decide(actor=REVIEWER, outcome="grant"))
    delivered = await take(stack.service, case_no, Deliver(actor=OUTPUT))
    assert delivered.status == "completed"  # the Update answers with the case after both events
    handle = stack.client.get_workflow_handle(f"case-{case_no}")
    await handle.result()
    history = await handle.fetch_history()
    kinds = [e.event_type for e in history.events]
    # No query was needed: the registration is an Update, admitted with the start.
    updates = [e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
               for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]  # fmt: skip
    assert updates == [REGISTRATION_UPDATE, "accept", "decide", "deliver"]
    # submit, accept, decide, deliver+complete: four commands where there were five
    assert kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == 4
    markers = [e.marker_recorded_event_attributes for e in history.events
               if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]  # fmt: skip
    assert any(ONE_COMMAND_THEN_PATCH.encode() in m.SerializeToString() for m in markers), markers
    timeline = stack.app.history(case_no)
    assert event_names(timeline) == ["Submitted", "Accepted", "Decided", "Delivered", "Completed"]
    assert timeline[-1].actor is not None and timeline[-1].actor.user_id == "system"
    await record_history(handle, "case_one_command_then")


async def test_a_retried_delivery_records_nothing_twice(stack: Stack) -> None:
    """The follow-on rides on the step's command id: a retried command is answered from the stored case."""
    app, case_no, now = stack.app, new_case_no(stack.kind), datetime.now(UTC)
    rules = stack.settings.rules
    req = SubmitCase(case_no=case_no, matter_code=MATTER, applicant="某某", provided_materials=ALL, actor=FRONT)
    app.submit(req, at=now, command_id="c/1", rules=rules)
    app.execute(case_no, Accept(actor=FRONT), at=now, command_id="c/2", rules=rules)
    app.execute(case_no, Decide(actor=REVIEWER, outcome="grant"), at=now, command_id="c/3", rules=rules)
    cmd = CaseCommand(case_no=case_no, command_id="c/4", at=now, rules=rules, step="deliver",
                      request=Deliver(actor=OUTPUT), then="complete")  # fmt: skip
    first = app.execute(case_no, Deliver(actor=OUTPUT), at=now, command_id="c/4", rules=rules, then=cmd.follow_on())
    again = app.execute(case_no, Deliver(actor=OUTPUT), at=now, command_id="c/4", rules=rules, then=cmd.follow_on())
    assert first.recorded and not again.recorded
    assert first.case.status == again.case.status == "completed"
    assert event_names(app.history(case_no))[-2:] == ["Delivered", "Completed"]


async def test_a_submission_refused_inside_the_workflow_comes_back_as_the_domain_error(stack: Stack) -> None:
    """The registration Update fails with the refusal; the service answers with the domain's typed error."""
    case_no = new_case_no(stack.kind)
    req = SubmitCase(case_no=case_no, matter_code=MATTER, applicant="某某", provided_materials=ALL, actor=FRONT)
    stack.app.submit(req, at=datetime.now(UTC), command_id="elsewhere/1", rules=stack.settings.rules)
    with stack.env.with_time_skipping_disabled(), pytest.raises(CaseAlreadyExists):
        await stack.service.submit(
            matter_code=MATTER, applicant="某某", materials=ALL, actor=FRONT, case_no=case_no, read_your_writes=False
        )
    # Waiting on the registration instead (what a submission cut short does): the store holds the case, but
    # not taken by this workflow's command, and the workflow has failed: the same refusal, at once.
    with stack.env.with_time_skipping_disabled(), pytest.raises(CaseAlreadyExists):
        await asyncio.wait_for(stack.service.wait_registered(case_no, 30), 10)


async def test_a_registration_never_started_times_out_with_its_chinese_message(stack: Stack) -> None:
    """No workflow and nothing in the store: the wait reads on (a start not visible yet), then says so."""
    case_no = new_case_no(stack.kind)
    with stack.env.with_time_skipping_disabled(), pytest.raises(CaseRegisterTimeout) as caught:
        await stack.service.wait_registered(case_no, 0.5, said=90)
    assert caught.value.code == "CASE_REGISTER_TIMEOUT" and "办件登记超时（90 秒）" in caught.value.message
