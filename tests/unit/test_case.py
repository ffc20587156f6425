"""Every transition of the case, legal and illegal, on the pure aggregate (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from domain.calendar import default_calendar
from domain.case import LEGAL_FROM, Case, CaseStatus, Step, TimeRules, case_id, validate_request
from domain.catalogue import default_catalogue
from domain.errors import ActorNotPermitted, DomainError, IllegalTransition, InvalidValue, MissingField, NoticeRefused
from domain.staff import SYSTEM_ACTOR, Actor, default_staff

CAL, RULES = default_calendar(), TimeRules()
MATTER = default_catalogue().get("513221-SCJG-001")
T0 = datetime(2020, 4, 24, 2, tzinfo=UTC)  # Friday 10:00 in Shanghai
STAFF = default_staff()
FRONT = STAFF.get("513221-qt-a")
OUTPUT = STAFF.get("513221-cj-a")
REVIEWER = next(a for a in STAFF.all() if a.department == "汶川县市场监督管理局")
OTHER_REGION_FRONT = STAFF.get("513222-qt-a")
_n = iter(range(10**6))


def cid() -> str:
    return f"cmd-{next(_n)}"


def submitted(materials: list[str] | None = None, at: datetime = T0) -> Case:
    return Case.submit(
        case_no=f"C{next(_n)}",
        matter=MATTER,
        authority=MATTER.authority,
        applicant="张三",
        provided_materials=list(MATTER.materials) if materials is None else materials,
        actor=FRONT,
        at=at,
        command_id=cid(),
        calendar=CAL,
        rules=RULES,
    )


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def awaiting_correction() -> Case:
    c = submitted(list(MATTER.materials[:2]))
    c.issue_notice(
        missing=list(MATTER.materials[2:]), actor=FRONT, at=at(0.1), command_id=cid(), calendar=CAL, rules=RULES
    )
    return c


def under_review() -> Case:
    c = submitted()
    c.accept(actor=FRONT, at=at(0.2), command_id=cid(), calendar=CAL, rules=RULES)
    return c


def suspended() -> Case:
    c = under_review()
    c.suspend(reason="testing", note="送检", actor=REVIEWER, at=at(1), command_id=cid())
    return c


def decided() -> Case:
    c = under_review()
    c.decide(outcome="grant", reason="", actor=REVIEWER, at=at(2), command_id=cid())
    return c


def delivered() -> Case:
    c = decided()
    c.deliver(actor=OUTPUT, at=at(2.5), command_id=cid())
    return c


def completed() -> Case:
    c = delivered()
    c.complete(actor=SYSTEM_ACTOR, at=at(2.6), command_id=cid())
    return c


def refused() -> Case:
    c = submitted()
    c.refuse(reason="不属于本机关职权范围", actor=FRONT, at=at(0.1), command_id=cid())
    return c


def withdrawn() -> Case:
    c = under_review()
    c.withdraw(reason="申请人撤回", actor=FRONT, at=at(1), command_id=cid())
    return c


BUILDERS: dict[CaseStatus, Callable[[], Case]] = {
    CaseStatus.SUBMITTED: submitted,
    CaseStatus.AWAITING_CORRECTION: awaiting_correction,
    CaseStatus.UNDER_REVIEW: under_review,
    CaseStatus.SUSPENDED: suspended,
    CaseStatus.DECIDED: decided,
    CaseStatus.DELIVERED: delivered,
    CaseStatus.COMPLETED: completed,
    CaseStatus.REFUSED: refused,
    CaseStatus.WITHDRAWN: withdrawn,
}


def attempt(case: Case, step: Step) -> None:
    """Try ``step`` with valid arguments for it, by the post that may take it."""
    late = at(60)
    actions: dict[Step, Callable[[], None]] = {
        Step.NOTICE: lambda: case.issue_notice(
            missing=case.missing_materials or [MATTER.materials[0]],
            actor=FRONT,
            at=late,
            command_id=cid(),
            calendar=CAL,
            rules=RULES,
        ),
        Step.SUPPLEMENT: lambda: case.supplement(
            materials=list(MATTER.materials[2:]), actor=FRONT, at=late, command_id=cid(), calendar=CAL, rules=RULES
        ),
        Step.ACCEPT: lambda: case.accept(actor=FRONT, at=late, command_id=cid(), calendar=CAL, rules=RULES),
        Step.REFUSE: lambda: case.refuse(reason="理由", actor=FRONT, at=late, command_id=cid()),
        Step.SUSPEND: lambda: case.suspend(reason="hearing", note="", actor=REVIEWER, at=late, command_id=cid()),
        Step.RESUME: lambda: case.resume(actor=REVIEWER, at=late, command_id=cid(), calendar=CAL),
        Step.DECIDE: lambda: case.decide(outcome="grant", reason="", actor=REVIEWER, at=late, command_id=cid()),
        Step.DELIVER: lambda: case.deliver(actor=OUTPUT, at=late, command_id=cid()),
        Step.WITHDRAW: lambda: case.withdraw(reason="撤回", actor=FRONT, at=late, command_id=cid()),
        Step.COMPLETE: lambda: case.complete(actor=SYSTEM_ACTOR, at=late, command_id=cid()),
        Step.WARN: lambda: case.warn(actor=SYSTEM_ACTOR, at=late, command_id=cid()),
        Step.MARK_OVERDUE: lambda: case.mark_overdue(actor=SYSTEM_ACTOR, at=late, command_id=cid()),
    }
    actions[step]()


# Legal states whose refusal comes from a finer rule: a notice on a complete submission (一次性告知),
# and a staff refusal while the applicant is still within the correction window (only the timer may end it).
_COMPLETE_SUBMISSION_REFUSES = {(CaseStatus.SUBMITTED, Step.NOTICE), (CaseStatus.AWAITING_CORRECTION, Step.REFUSE)}


@pytest.mark.parametrize("status", list(CaseStatus))
@pytest.mark.parametrize("step", list(Step))
def test_transition_table(status: CaseStatus, step: Step) -> None:
    case = BUILDERS[status]()
    assert case.status is status
    version = case.version
    if status in LEGAL_FROM[step] and (status, step) not in _COMPLETE_SUBMISSION_REFUSES:
        attempt(case, step)
        assert case.version == version + 1
    else:
        with pytest.raises(DomainError) as e:
            attempt(case, step)
        assert e.value.code in ("CASE_ILLEGAL_TRANSITION", "NOTICE_REFUSED")
        assert case.version == version and case.status is status  # nothing recorded


def test_every_event_carries_actor_time_and_who_acts_next() -> None:
    c = completed()
    events = c.collect_events()
    assert [type(e).__name__ for e in events] == ["Submitted", "Accepted", "Decided", "Delivered", "Completed"]
    for e in events:
        assert e.actor["user_id"] and e.at.tzinfo is not None and e.command_id  # type: ignore[attr-defined]
    awaiting = [e.awaiting for e in events]  # type: ignore[attr-defined]
    assert [a and a["post"] for a in awaiting] == ["front_desk", "reviewer", "output_window", None, None]


def test_one_time_notice_lists_all_and_only_missing_materials() -> None:
    c = submitted(list(MATTER.materials[:2]))
    missing = list(MATTER.materials[2:])
    with pytest.raises(NoticeRefused, match="遗漏"):
        c.issue_notice(missing=missing[:1], actor=FRONT, at=at(0.1), command_id=cid(), calendar=CAL, rules=RULES)
    with pytest.raises(NoticeRefused, match="已提交齐全"):
        c.issue_notice(
            missing=[MATTER.materials[0], *missing],
            actor=FRONT,
            at=at(0.1),
            command_id=cid(),
            calendar=CAL,
            rules=RULES,
        )
    with pytest.raises(InvalidValue):
        c.issue_notice(missing=["无关材料"], actor=FRONT, at=at(0.1), command_id=cid(), calendar=CAL, rules=RULES)
    c.issue_notice(missing=missing, actor=FRONT, at=at(0.1), command_id=cid(), calendar=CAL, rules=RULES)
    assert c.correction_round == 1 and c.deemed_acceptance_at is None
    # One notice per round: a second notice before the applicant answers is illegal.
    with pytest.raises(IllegalTransition):
        c.issue_notice(missing=missing, actor=FRONT, at=at(0.2), command_id=cid(), calendar=CAL, rules=RULES)
    c.supplement(materials=missing[:-1], actor=FRONT, at=at(1), command_id=cid(), calendar=CAL, rules=RULES)
    with pytest.raises(IllegalTransition, match="不齐全"):
        c.accept(actor=FRONT, at=at(1.1), command_id=cid(), calendar=CAL, rules=RULES)
    c.issue_notice(missing=missing[-1:], actor=FRONT, at=at(1.2), command_id=cid(), calendar=CAL, rules=RULES)
    assert c.correction_round == 2


def test_complete_submission_needs_no_notice() -> None:
    with pytest.raises(NoticeRefused, match="无需"):
        submitted().issue_notice(
            missing=[MATTER.materials[0]], actor=FRONT, at=at(0.1), command_id=cid(), calendar=CAL, rules=RULES
        )


def test_deemed_acceptance_and_correction_overdue_only_when_time_has_come() -> None:
    c = submitted()
    assert c.deemed_acceptance_at == datetime(2020, 4, 30, 16, tzinfo=UTC)  # 5 working days, 26 April worked
    with pytest.raises(IllegalTransition):
        c.accept(actor=SYSTEM_ACTOR, at=at(1), command_id=cid(), calendar=CAL, rules=RULES, deemed=True)
    c.accept(actor=SYSTEM_ACTOR, at=c.deemed_acceptance_at, command_id=cid(), calendar=CAL, rules=RULES, deemed=True)
    assert c.deemed_accepted
    d = awaiting_correction()
    with pytest.raises(IllegalTransition):
        d.refuse(reason="逾期", actor=SYSTEM_ACTOR, at=at(5), command_id=cid(), overdue_correction=True)
    assert d.correction_due_at is not None
    d.refuse(reason="逾期", actor=SYSTEM_ACTOR, at=d.correction_due_at, command_id=cid(), overdue_correction=True)
    assert d.status is CaseStatus.REFUSED


def test_acceptance_deadline_skips_may_day_and_suspension_extends_it() -> None:
    c = under_review()  # accepted Friday 24 April 2020
    # 5 working days: 26 (Sunday, worked), 27, 28, 29, 30 April.
    assert c.promised_deadline == datetime(2020, 4, 30, 16, tzinfo=UTC)
    c.suspend(
        reason="expert_review", note="", actor=REVIEWER, at=datetime(2020, 4, 28, 2, tzinfo=UTC), command_id=cid()
    )
    c.resume(actor=REVIEWER, at=datetime(2020, 5, 7, 2, tzinfo=UTC), command_id=cid(), calendar=CAL)
    # Suspended over 28, 29, 30 April and 6 May (working days): the deadline moves 4 working days on.
    assert c.suspended_days == 4
    assert c.promised_deadline == datetime(2020, 5, 9, 16, tzinfo=UTC)  # 6, 7, 8, 9 May → end of 9 May
    assert c.deadline_day == "2020-05-09"


def test_overdue_and_warning_timers() -> None:
    c = under_review()
    assert c.warning_at is not None and c.promised_deadline is not None and c.warning_at < c.promised_deadline
    with pytest.raises(IllegalTransition):
        c.mark_overdue(actor=SYSTEM_ACTOR, at=at(1), command_id=cid())
    c.warn(actor=SYSTEM_ACTOR, at=c.warning_at, command_id=cid())
    with pytest.raises(IllegalTransition):
        c.warn(actor=SYSTEM_ACTOR, at=c.warning_at, command_id=cid())
    c.mark_overdue(actor=SYSTEM_ACTOR, at=c.promised_deadline, command_id=cid())
    c.decide(outcome="grant", reason="", actor=REVIEWER, at=at(20), command_id=cid())
    c.deliver(actor=OUTPUT, at=at(20), command_id=cid())
    c.complete(actor=SYSTEM_ACTOR, at=at(20), command_id=cid())
    assert c.collect_events()[-1].on_time is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("step", "actor", "error"),
    [
        (Step.ACCEPT, REVIEWER, ActorNotPermitted),
        (Step.ACCEPT, OTHER_REGION_FRONT, ActorNotPermitted),
        (Step.DECIDE, FRONT, ActorNotPermitted),
        (Step.DELIVER, FRONT, ActorNotPermitted),
    ],
)
def test_only_the_right_post_may_act(step: Step, actor: Actor, error: type[DomainError]) -> None:
    case = {Step.ACCEPT: submitted, Step.DECIDE: under_review, Step.DELIVER: decided}[step]()
    with pytest.raises(error) as e:
        validate_request(step, case.summary(), actor, outcome="grant")
    assert "无权" in e.value.message


def test_validate_request_mirrors_the_aggregate() -> None:
    s = under_review().summary()
    with pytest.raises(MissingField):
        validate_request(Step.DECIDE, s, REVIEWER, outcome="deny", reason=" ")
    with pytest.raises(InvalidValue):
        validate_request(Step.DECIDE, s, REVIEWER, outcome="maybe")
    with pytest.raises(InvalidValue):
        validate_request(Step.SUSPEND, s, REVIEWER, reason="lunch")
    with pytest.raises(IllegalTransition):
        validate_request(Step.ACCEPT, submitted([]).summary(), FRONT)
    validate_request(Step.DECIDE, s, REVIEWER, outcome="grant")


def test_submission_checks() -> None:
    with pytest.raises(MissingField):
        Case.submit(
            case_no="X",
            matter=MATTER,
            authority=MATTER.authority,
            applicant=" ",
            provided_materials=[],
            actor=FRONT,
            at=T0,
            command_id="c",
            calendar=CAL,
            rules=RULES,
        )
    with pytest.raises(ActorNotPermitted):
        Case.submit(
            case_no="X",
            matter=MATTER,
            authority=MATTER.authority,
            applicant="张三",
            provided_materials=[],
            actor=OTHER_REGION_FRONT,
            at=T0,
            command_id="c",
            calendar=CAL,
            rules=RULES,
        )
    with pytest.raises(InvalidValue):
        submitted(["不是材料"])
    c = submitted()
    assert c.id == case_id(c.case_no)


def test_decision_and_refusal_reasons() -> None:
    with pytest.raises(MissingField):
        under_review().decide(outcome="deny", reason="", actor=REVIEWER, at=at(1), command_id=cid())
    with pytest.raises(MissingField):
        submitted().refuse(reason="", actor=FRONT, at=at(1), command_id=cid())
    with pytest.raises(IllegalTransition):
        awaiting_correction().refuse(reason="理由", actor=FRONT, at=at(1), command_id=cid())
    with pytest.raises(InvalidValue):
        under_review().decide(outcome="grant", reason="", actor=REVIEWER, at=T0 - timedelta(days=1), command_id=cid())
