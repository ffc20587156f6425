"""审管联动: each bureau decision on a transferred item gives the origin department a task to claim in 2 working days."""

from __future__ import annotations

from datetime import UTC, datetime

from eventsourcing.application import Application

from domain.calendar import default_calendar
from domain.transfer import SupervisionStatus, SupervisionTask, supervision_task_id
from tests.unit.transfer_helpers import ADMIN, BUREAU, BUREAU_STAFF, OUTSIDER, SCJG, SCJG_STAFF, in_trial, refused

FRIDAY = datetime(2020, 9, 25, 7, tzinfo=UTC)  # 15:00 Beijing; Sunday 27 September is a make-up working day


def task(decided_at: datetime = FRIDAY, decided_by: str = BUREAU) -> SupervisionTask:
    _, item = in_trial()
    return SupervisionTask.issue(
        case_no="513201-2020-000123",
        item=item,
        decision="grant",
        decided_by=decided_by,
        decided_at=decided_at,
        calendar=default_calendar(),
        actor=BUREAU_STAFF,
        at=decided_at,
        command_id="push",
    )


def test_the_claim_deadline_is_two_working_days_on_the_service_calendar() -> None:
    t = task()
    assert t.id == supervision_task_id("513201-2020-000123")
    assert t.claim_due == datetime(2020, 9, 28, 16, tzinfo=UTC)  # end of Mon 28 Sep: Sun 27 (调休) and Mon count
    before_holiday = task(datetime(2020, 9, 30, 2, tzinfo=UTC))
    assert before_holiday.claim_due == datetime(2020, 10, 10, 16, tzinfo=UTC)  # 国庆中秋 1–8 Oct; Fri 9, Sat 10 (调休)
    assert t.awaiting is not None and (t.awaiting.department, t.awaiting.post) == (SCJG, "reviewer")
    assert (t.department, t.item_code, t.status.label) == (SCJG, "513201-SCJG-001", "待认领")


def test_only_the_supervising_department_claims_once() -> None:
    t = task()
    refused("TRANSFER_SUPERVISION_WRONG_DEPARTMENT", t.claim, actor=BUREAU_STAFF, at=FRIDAY, command_id="c0")
    refused("TRANSFER_SUPERVISION_WRONG_DEPARTMENT", t.claim, actor=OUTSIDER, at=FRIDAY, command_id="c1")
    t.claim(actor=SCJG_STAFF, at=FRIDAY, command_id="c2")
    assert t.status is SupervisionStatus.CLAIMED and not t.claimed_late and t.awaiting is None
    refused("TRANSFER_SUPERVISION_CLAIMED", t.claim, actor=SCJG_STAFF, at=FRIDAY, command_id="c3")


def test_an_unclaimed_task_goes_overdue_at_its_deadline_and_a_late_claim_says_so() -> None:
    t = task()
    refused(
        "TRANSFER_ILLEGAL_TRANSITION",
        t.mark_overdue,
        actor=ADMIN,
        at=t.claim_due.replace(minute=0, hour=15),
        command_id="o0",
    )
    assert not t.is_overdue(datetime(2020, 9, 28, 15, tzinfo=UTC)) and t.is_overdue(t.claim_due)
    t.mark_overdue(actor=ADMIN, at=t.claim_due, command_id="o1")
    assert t.status.label == "逾期未认领" and t.awaiting is not None  # still in the department's worklist
    refused("TRANSFER_ILLEGAL_TRANSITION", t.mark_overdue, actor=ADMIN, at=t.claim_due, command_id="o2")
    t.claim(actor=SCJG_STAFF, at=datetime(2020, 9, 29, 1, tzinfo=UTC), command_id="c")
    assert t.status is SupervisionStatus.CLAIMED and t.claimed_late
    app = Application()
    app.save(t)
    again = app.repository.get(t.id)
    assert isinstance(again, SupervisionTask) and again.claimed_late and again.claim_due == t.claim_due


def test_no_task_for_a_decision_the_bureau_did_not_issue() -> None:
    refused("TRANSFER_SUPERVISION_NOT_APPLICABLE", task, FRIDAY, SCJG)
