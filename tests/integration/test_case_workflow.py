"""The whole life of a case on the real Temporal dev server, with the event store on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from domain.calendar import default_calendar, to_local
from domain.cases.model import CaseView
from domain.cases.steps import STEPS, Acting, Step
from domain.catalogue import default_catalogue
from domain.errors import DomainError
from domain.staff import Actor
from workflows.case import CaseWorkflow

from .conftest import Stack
from .support import FRONT, MATTER, OUTPUT, REVIEWER, event_names, history_length, new_case_no, record_history, take

pytestmark = pytest.mark.integration

ALL = list(default_catalogue().get(MATTER).materials)


async def submit(stack: Stack, materials: list[str] | None = None) -> tuple[str, WorkflowHandle[Any, Any]]:
    """Start a case with time skipping off: staff steps come first, then the test fast-forwards."""
    case_no = new_case_no(stack.kind)
    with stack.env.with_time_skipping_disabled():
        case = await stack.service.submit(
            matter_code=MATTER,
            applicant="阿坝州某某餐饮有限公司",
            materials=ALL if materials is None else materials,
            actor=FRONT,
            case_no=case_no,
            read_your_writes=False,
        )
    assert case.case.status == "submitted"
    return case_no, stack.client.get_workflow_handle(f"case-{case_no}", result_type=CaseView)


ACTORS = {Acting.FRONT_DESK: FRONT, Acting.REVIEWER: REVIEWER, Acting.OUTPUT_WINDOW: OUTPUT}


async def step(stack: Stack, case_no: str, s: Step, **kw: Any) -> CaseView:
    """A staff step with its typed request; the actor defaults to the post the registry names first."""
    actor: Actor = kw.pop("actor", ACTORS[STEPS[s].acting[0]])
    return await take(stack.service, case_no, STEPS[s].request(actor=actor, **kw))


async def finish(handle: WorkflowHandle[Any, Any]) -> CaseView:
    return await handle.result()  # type: ignore[no-any-return]


async def test_happy_path(stack: Stack) -> None:
    case_no, handle = await submit(stack)
    accepted = await step(stack, case_no, Step.ACCEPT)
    assert accepted.status == "under_review"
    assert accepted.awaiting is not None and accepted.awaiting.to_dict() == {
        "department": REVIEWER.department,
        "post": "reviewer",
        "region": "汶川县",
    }
    # Promised deadline: end of the 5th working day after acceptance, from the calendar.
    accepted_day = to_local(accepted.accepted_at).date()
    expected_day, _ = default_calendar().add_days(accepted_day, 5, default_catalogue().get(MATTER).day_type)
    assert to_local(accepted.promised_deadline).date() == expected_day + timedelta(days=1)
    await step(stack, case_no, Step.DECIDE, outcome="grant")
    await step(stack, case_no, Step.DELIVER)
    final = await finish(handle)
    assert final.status == "completed"
    history = stack.app.history(case_no)
    assert event_names(history) == ["Submitted", "Accepted", "Decided", "Delivered", "Completed"]
    assert history[-1].details["on_time"] is True
    assert all(h.actor and h.actor.user_id for h in history)
    await record_history(handle, "case_happy_path")


async def test_correction_round_then_acceptance(stack: Stack) -> None:
    case_no, handle = await submit(stack, materials=ALL[:2])
    missing = ALL[2:]
    with pytest.raises(DomainError) as refused:  # a notice must list ALL missing materials
        await step(stack, case_no, Step.NOTICE, materials=missing[:1])
    assert refused.value.code == "NOTICE_REFUSED"
    noticed = await step(stack, case_no, Step.NOTICE, materials=missing)
    assert noticed.status == "awaiting_correction" and noticed.correction_round == 1
    assert noticed.awaiting is None  # the applicant, not staff, acts next
    await step(stack, case_no, Step.SUPPLEMENT, materials=missing[:-1])
    # Second round: only what is still missing; the complete ones can never be asked again.
    with pytest.raises(DomainError) as again:
        await step(stack, case_no, Step.NOTICE, materials=[ALL[0], missing[-1]])
    assert again.value.code == "NOTICE_REFUSED"
    await step(stack, case_no, Step.NOTICE, materials=missing[-1:])
    await step(stack, case_no, Step.SUPPLEMENT, materials=missing[-1:])
    await step(stack, case_no, Step.ACCEPT)
    await step(stack, case_no, Step.DECIDE, outcome="deny", reason="经营场所不符合食品安全要求")
    await step(stack, case_no, Step.DELIVER)
    assert (await finish(handle)).decision == "deny"
    names = event_names(stack.app.history(case_no))
    assert names == [
        "Submitted",
        "CorrectionNoticeIssued",
        "Supplemented",
        "CorrectionNoticeIssued",
        "Supplemented",
        "Accepted",
        "Decided",
        "Delivered",
        "Completed",
    ]
    await record_history(handle, "case_correction_then_accept")


async def test_correction_timeout_ends_as_refused(stack: Stack) -> None:
    case_no, handle = await submit(stack, materials=ALL[:1])
    await step(stack, case_no, Step.NOTICE, materials=ALL[1:])
    await stack.env.fast_forward(handle, timedelta(days=32))  # the 30-natural-day window runs out
    final = await finish(handle)
    assert final.status == "refused"
    last = stack.app.history(case_no)[-1]
    assert last.event == "AcceptanceRefused" and last.details["overdue_correction"] is True
    assert last.actor is not None and last.actor.user_id == "system"
    assert last.at >= final.submitted_at + timedelta(days=30)
    await record_history(handle, "case_correction_timeout")


async def test_deemed_acceptance_after_five_working_days(stack: Stack) -> None:
    case_no, handle = await submit(stack)
    status = await handle.query(CaseWorkflow.status)
    assert status.case is not None and status.case.deemed_acceptance_at is not None
    deemed_at = status.case.deemed_acceptance_at
    assert status.next_timer == "deemed_accept"
    await stack.env.fast_forward(handle, deemed_at - status.case.submitted_at + timedelta(hours=1))
    case = stack.app.get_case(case_no)
    assert case.status == "under_review" and case.deemed_accepted is True
    accepted = stack.app.history(case_no)[-1]
    assert accepted.event == "Accepted" and accepted.details["deemed"] is True
    assert accepted.at >= deemed_at
    await step(stack, case_no, Step.WITHDRAW, reason="申请人主动撤回")
    await finish(handle)
    await record_history(handle, "case_deemed_acceptance")


async def test_suspension_is_excluded_from_the_deadline(stack: Stack) -> None:
    case_no, handle = await submit(stack)
    accepted = await step(stack, case_no, Step.ACCEPT)
    before = accepted.promised_deadline
    await step(stack, case_no, Step.SUSPEND, reason="expert_review", note="组织专家评审")
    await stack.env.fast_forward(handle, timedelta(days=20))  # longer than the whole time limit
    suspended = stack.app.history(case_no)
    assert "BecameOverdue" not in event_names(suspended)  # no timer runs while suspended
    resumed = await step(stack, case_no, Step.RESUME)
    cal = default_calendar()
    start = to_local(suspended[-1].at).date()
    end = to_local(resumed.suspended_since or stack.app.history(case_no)[-1].at).date()
    days = cal.count_days(start, end, default_catalogue().get(MATTER).day_type)
    assert days >= 12 and resumed.suspended_days == days
    after = resumed.promised_deadline
    assert after is not None
    deadline_day, _ = cal.add_days(
        to_local(before).date() - timedelta(days=1), days, default_catalogue().get(MATTER).day_type
    )
    assert to_local(after).date() == deadline_day + timedelta(days=1)
    assert not resumed.overdue
    await step(stack, case_no, Step.DECIDE, outcome="grant")
    await step(stack, case_no, Step.DELIVER)
    final = await finish(handle)
    assert final.status == "completed"
    assert stack.app.history(case_no)[-1].details["on_time"] is True
    await record_history(handle, "case_suspension")


async def test_overdue_is_warned_then_recorded(stack: Stack) -> None:
    case_no, handle = await submit(stack)
    accepted = await step(stack, case_no, Step.ACCEPT)
    deadline = accepted.promised_deadline
    assert deadline is not None and accepted.accepted_at is not None and accepted.warning_at is not None
    await stack.env.fast_forward(handle, deadline - accepted.accepted_at + timedelta(hours=2))
    names = event_names(stack.app.history(case_no))
    assert names[-2:] == ["DeadlineWarned", "BecameOverdue"]
    history = stack.app.history(case_no)
    assert history[-1].at >= deadline
    assert history[-2].at >= accepted.warning_at
    await step(stack, case_no, Step.DECIDE, outcome="grant")
    await step(stack, case_no, Step.DELIVER)
    await finish(handle)
    assert stack.app.history(case_no)[-1].details["on_time"] is False
    await record_history(handle, "case_overdue")


async def test_withdrawal_ends_the_case(stack: Stack) -> None:
    case_no, handle = await submit(stack)
    await step(stack, case_no, Step.ACCEPT)
    with pytest.raises(DomainError) as no_reason:
        await step(stack, case_no, Step.WITHDRAW, reason="  ")
    assert no_reason.value.code == "FIELD_MISSING"
    await step(stack, case_no, Step.WITHDRAW, reason="申请人书面申请撤回")
    final = await finish(handle)
    assert final.status == "withdrawn"
    assert event_names(stack.app.history(case_no)) == ["Submitted", "Accepted", "Withdrawn"]
    await record_history(handle, "case_withdrawal")


async def test_illegal_updates_are_refused_before_history(stack: Stack) -> None:
    case_no, handle = await submit(stack)
    before = await history_length(handle)
    refusals = [
        (Step.DELIVER, {}, "CASE_ILLEGAL_TRANSITION"),  # wrong state
        (Step.ACCEPT, {"actor": REVIEWER}, "ACTOR_NOT_PERMITTED"),  # wrong post
        (Step.REFUSE, {"reason": ""}, "FIELD_MISSING"),  # missing field
        (Step.NOTICE, {"materials": ["不存在的材料"]}, "NOTICE_REFUSED"),  # nothing is missing
    ]
    for s, kw, code in refusals:
        with pytest.raises(DomainError) as err:
            await step(stack, case_no, s, **kw)
        assert err.value.code == code, (s, err.value)
        assert err.value.message  # Chinese text for staff
    with pytest.raises(DomainError) as unknown:
        await step(stack, case_no, Step.ACCEPT, actor=Actor("", "", "", "", ""))
    assert unknown.value.code == "ACTOR_UNKNOWN"
    assert await history_length(handle) == before  # nothing reached history
    assert event_names(stack.app.history(case_no)) == ["Submitted"]
    await step(stack, case_no, Step.WITHDRAW, reason="测试结束")
    await finish(handle)
