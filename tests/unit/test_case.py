"""Every transition of the case, legal and illegal, on the pure aggregate (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from domain.calendar import default_calendar
from domain.cases.case import Case, StepContext
from domain.cases.model import CaseStatus, TimeRules, case_id
from domain.cases.steps import (
    STEPS,
    Accept,
    Adopt,
    Complete,
    Decide,
    Deliver,
    MarkOverdue,
    Notice,
    RecomputeDeadline,
    Refuse,
    Resume,
    Step,
    StepRequest,
    SubmitCase,
    Supplement,
    Suspend,
    Warn,
    Withdraw,
    validate,
)
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


def ctx(when: datetime) -> StepContext:
    return StepContext(at=when, command_id=f"cmd-{next(_n)}", calendar=CAL, rules=RULES)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def do(case: Case, request: StepRequest, days: float) -> Case:
    case.take(request, ctx(at(days)))
    return case


def submitted(materials: list[str] | None = None, when: datetime = T0) -> Case:
    req = SubmitCase(
        case_no=f"C{next(_n)}",
        matter_code=MATTER.code,
        applicant="张三",
        provided_materials=list(MATTER.materials) if materials is None else materials,
        actor=FRONT,
    )
    return Case.submit(req, matter=MATTER, authority=MATTER.authority, ctx=ctx(when))


def awaiting_correction() -> Case:
    return do(submitted(list(MATTER.materials[:2])), Notice(actor=FRONT, materials=list(MATTER.materials[2:])), 0.1)


def under_review() -> Case:
    return do(submitted(), Accept(actor=FRONT), 0.2)


def suspended() -> Case:
    return do(under_review(), Suspend(actor=REVIEWER, reason="testing", note="送检"), 1)


def decided() -> Case:
    return do(under_review(), Decide(actor=REVIEWER, outcome="grant"), 2)


def delivered() -> Case:
    return do(decided(), Deliver(actor=OUTPUT), 2.5)


def completed() -> Case:
    return do(delivered(), Complete(actor=SYSTEM_ACTOR), 2.6)


def refused() -> Case:
    return do(submitted(), Refuse(actor=FRONT, reason="不属于本机关职权范围"), 0.1)


def withdrawn() -> Case:
    return do(under_review(), Withdraw(actor=FRONT, reason="申请人撤回"), 1)


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


def valid_request(case: Case, step: Step) -> StepRequest:
    """A request for ``step`` with valid fields, by a post that may take it."""
    requests: dict[Step, StepRequest] = {
        Step.NOTICE: Notice(actor=FRONT, materials=case.missing_materials or [MATTER.materials[0]]),
        Step.SUPPLEMENT: Supplement(actor=FRONT, materials=list(MATTER.materials[2:])),
        Step.ACCEPT: Accept(actor=FRONT),
        Step.REFUSE: Refuse(actor=FRONT, reason="理由"),
        Step.SUSPEND: Suspend(actor=REVIEWER, reason="hearing"),
        Step.RESUME: Resume(actor=REVIEWER),
        Step.DECIDE: Decide(actor=REVIEWER, outcome="grant"),
        Step.DELIVER: Deliver(actor=OUTPUT),
        Step.WITHDRAW: Withdraw(actor=FRONT, reason="撤回"),
        Step.COMPLETE: Complete(actor=SYSTEM_ACTOR),
        Step.WARN: Warn(actor=SYSTEM_ACTOR),
        Step.MARK_OVERDUE: MarkOverdue(actor=SYSTEM_ACTOR),
        Step.RECOMPUTE_DEADLINE: RecomputeDeadline(actor=SYSTEM_ACTOR),
        Step.ADOPT: Adopt(actor=SYSTEM_ACTOR),
    }
    return requests[step]


# Legal states whose refusal comes from a finer rule: a notice on a complete submission (一次性告知),
# a staff refusal while the applicant is still within the correction window (only the timer may end
# it), a recomputation of a deadline that is not provisional, and adopting a case that was not imported.
_FINER_RULE = {(CaseStatus.SUBMITTED, Step.NOTICE), (CaseStatus.AWAITING_CORRECTION, Step.REFUSE)} | {
    (s, step) for s in CaseStatus for step in (Step.RECOMPUTE_DEADLINE, Step.ADOPT)
}


@pytest.mark.parametrize("status", list(CaseStatus))
@pytest.mark.parametrize("step", list(Step))
def test_transition_table(status: CaseStatus, step: Step) -> None:
    case = BUILDERS[status]()
    assert case.status is status
    version = case.version
    if status in STEPS[step].legal_from and (status, step) not in _FINER_RULE:
        do(case, valid_request(case, step), 60)
        assert case.version == version + 1
    else:
        with pytest.raises(DomainError) as e:
            do(case, valid_request(case, step), 60)
        assert e.value.code in ("CASE_ILLEGAL_TRANSITION", "NOTICE_REFUSED")
        assert case.version == version and case.status is status  # nothing recorded


def test_every_step_has_its_method_and_every_event_a_label() -> None:
    for step in Step:
        assert callable(getattr(Case, step.value)), step
    for name in dir(Case):
        cls = getattr(Case, name)
        if isinstance(cls, type) and issubclass(cls, Case.Event) and name not in ("Event", "Created"):
            assert cls.LABEL, name


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
        do(c, Notice(actor=FRONT, materials=missing[:1]), 0.1)
    with pytest.raises(NoticeRefused, match="已提交齐全"):
        do(c, Notice(actor=FRONT, materials=[MATTER.materials[0], *missing]), 0.1)
    with pytest.raises(InvalidValue):
        do(c, Notice(actor=FRONT, materials=["无关材料"]), 0.1)
    do(c, Notice(actor=FRONT, materials=missing), 0.1)
    assert c.correction_round == 1 and c.deemed_acceptance_at is None and c.view().missing_listed == missing
    # One notice per round: a second notice before the applicant answers is illegal.
    with pytest.raises(IllegalTransition):
        do(c, Notice(actor=FRONT, materials=missing), 0.2)
    do(c, Supplement(actor=FRONT, materials=missing[:-1]), 1)
    with pytest.raises(IllegalTransition, match="不齐全"):
        do(c, Accept(actor=FRONT), 1.1)
    do(c, Notice(actor=FRONT, materials=missing[-1:]), 1.2)
    assert c.correction_round == 2


def test_complete_submission_needs_no_notice() -> None:
    with pytest.raises(NoticeRefused, match="无需"):
        do(submitted(), Notice(actor=FRONT, materials=[MATTER.materials[0]]), 0.1)


def test_deemed_acceptance_and_correction_overdue_only_when_time_has_come() -> None:
    c = submitted()
    assert c.deemed_acceptance_at == datetime(2020, 4, 30, 16, tzinfo=UTC)  # 5 working days, 26 April worked
    with pytest.raises(IllegalTransition):
        do(c, Accept(actor=SYSTEM_ACTOR, deemed=True), 1)
    with pytest.raises(ActorNotPermitted):  # staff cannot claim the law's deemed acceptance
        c.take(Accept(actor=FRONT, deemed=True), ctx(c.deemed_acceptance_at))
    c.take(Accept(actor=SYSTEM_ACTOR, deemed=True), ctx(c.deemed_acceptance_at))
    assert c.deemed_accepted
    d = awaiting_correction()
    with pytest.raises(IllegalTransition):
        do(d, Refuse(actor=SYSTEM_ACTOR, reason="逾期", overdue_correction=True), 5)
    assert d.correction_due_at is not None
    d.take(Refuse(actor=SYSTEM_ACTOR, reason="逾期", overdue_correction=True), ctx(d.correction_due_at))
    assert d.status is CaseStatus.REFUSED


def test_acceptance_deadline_skips_may_day_and_suspension_extends_it() -> None:
    c = under_review()  # accepted Friday 24 April 2020
    # 5 working days: 26 (Sunday, worked), 27, 28, 29, 30 April.
    assert c.promised_deadline == datetime(2020, 4, 30, 16, tzinfo=UTC)
    c.take(Suspend(actor=REVIEWER, reason="expert_review"), ctx(datetime(2020, 4, 28, 2, tzinfo=UTC)))
    c.take(Resume(actor=REVIEWER), ctx(datetime(2020, 5, 7, 2, tzinfo=UTC)))
    # Suspended over 28, 29, 30 April and 6 May (working days): the deadline moves 4 working days on.
    assert c.suspended_days == 4
    assert c.promised_deadline == datetime(2020, 5, 9, 16, tzinfo=UTC)  # 6, 7, 8, 9 May → end of 9 May
    assert c.deadline_day == "2020-05-09"


def test_overdue_and_warning_timers() -> None:
    c = under_review()
    assert c.warning_at is not None and c.promised_deadline is not None and c.warning_at < c.promised_deadline
    with pytest.raises(IllegalTransition):
        do(c, MarkOverdue(actor=SYSTEM_ACTOR), 1)
    c.take(Warn(actor=SYSTEM_ACTOR), ctx(c.warning_at))
    with pytest.raises(IllegalTransition):
        c.take(Warn(actor=SYSTEM_ACTOR), ctx(c.warning_at))
    c.take(MarkOverdue(actor=SYSTEM_ACTOR), ctx(c.promised_deadline))
    do(c, Decide(actor=REVIEWER, outcome="grant"), 20)
    do(c, Deliver(actor=OUTPUT), 20)
    do(c, Complete(actor=SYSTEM_ACTOR), 20)
    assert c.collect_events()[-1].on_time is False  # type: ignore[attr-defined]


@pytest.mark.parametrize("days", [1, 2, 3, 5, 20])
@pytest.mark.parametrize("hour", [0, 9, 16, 23])
def test_the_warning_falls_after_acceptance_and_before_the_deadline(days: int, hour: int) -> None:
    """Short limits included: one working day at the 0.8 default warns at 80 % of the time left."""
    matter = next(m for m in default_catalogue().matters.values() if m.promised_days == 1)
    when = datetime(2020, 4, 20, hour, tzinfo=UTC)
    req = SubmitCase(case_no=f"W{next(_n)}", matter_code=matter.code, applicant="李四",
                     provided_materials=list(matter.materials), actor=STAFF.get(f"{matter.code[:6]}-qt-a"))  # fmt: skip
    c = Case.submit(req, matter=matter, authority=matter.authority, ctx=ctx(when))
    c.promised_days = days  # the same rule for every length
    c.take(Accept(actor=req.actor), ctx(when))
    assert c.accepted_at is not None and c.warning_at is not None and c.promised_deadline is not None
    assert c.accepted_at < c.warning_at < c.promised_deadline


@pytest.mark.parametrize(
    ("step", "actor"),
    [(Step.ACCEPT, REVIEWER), (Step.ACCEPT, OTHER_REGION_FRONT), (Step.DECIDE, FRONT), (Step.DELIVER, FRONT)],
)
def test_only_the_right_post_may_act(step: Step, actor: Actor) -> None:
    case = {Step.ACCEPT: submitted, Step.DECIDE: under_review, Step.DELIVER: decided}[step]()
    request = STEPS[step].request(actor=actor)
    with pytest.raises(ActorNotPermitted) as e:
        validate(case.view(), request)
    assert "无权" in e.value.message


def test_the_validator_and_the_aggregate_give_the_same_answer() -> None:
    """The workflow validates the case view with the same rules the aggregate runs: one message per rule."""
    bad = [
        (under_review, Decide(actor=REVIEWER, outcome="deny", reason=" ")),
        (under_review, Decide(actor=REVIEWER, outcome="maybe")),
        (under_review, Suspend(actor=REVIEWER, reason="lunch")),
        (lambda: submitted([]), Accept(actor=FRONT)),
        (submitted, Refuse(actor=FRONT, reason="有\x1b[31m颜色")),
    ]
    for build, request in bad:
        case = build()
        with pytest.raises(DomainError) as by_view:
            validate(case.view(), request)
        with pytest.raises(DomainError) as by_aggregate:
            do(case, request, 1)
        assert (by_view.value.code, by_view.value.message) == (by_aggregate.value.code, by_aggregate.value.message)
    validate(under_review().view(), Decide(actor=REVIEWER, outcome="grant"))


def test_chinese_labels_are_accepted_where_codes_are() -> None:
    assert Suspend(actor=REVIEWER, reason="检验检测").reason == "testing"
    assert Decide(actor=REVIEWER, outcome="不予许可", reason="x").outcome == "deny"
    with pytest.raises(InvalidValue, match="应为：hearing（听证）"):
        do(under_review(), Suspend(actor=REVIEWER, reason="随便"), 1)


def test_submission_checks() -> None:
    def submit(**kw: object) -> Case:
        fields = {"case_no": "X", "matter_code": MATTER.code, "applicant": "张三", "actor": FRONT, **kw}
        return Case.submit(SubmitCase(**fields), matter=MATTER, authority=MATTER.authority, ctx=ctx(T0))  # type: ignore[arg-type]

    with pytest.raises(MissingField):
        submit(applicant=" ")
    with pytest.raises(ActorNotPermitted):
        submit(actor=OTHER_REGION_FRONT)
    for bad in ("", "汶川 001/ä", "-X", "A" * 65):
        with pytest.raises(DomainError) as e:
            submit(case_no=bad)
        assert e.value.code in ("FIELD_MISSING", "FIELD_INVALID") and "办件编号" in e.value.message
    for bad in ("A" * 101, "某\x1b[31m店", "某\u202e店", "某\u200b店", "某\x00店"):
        with pytest.raises(InvalidValue, match="申请人"):
            submit(applicant=bad)
    with pytest.raises(InvalidValue):
        submitted(["不是材料"])
    c = submitted()
    assert c.id == case_id(c.case_no)


def test_decision_and_refusal_reasons() -> None:
    with pytest.raises(MissingField):
        do(under_review(), Decide(actor=REVIEWER, outcome="deny", reason=""), 1)
    with pytest.raises(MissingField):
        do(submitted(), Refuse(actor=FRONT, reason=""), 1)
    with pytest.raises(IllegalTransition):
        do(awaiting_correction(), Refuse(actor=FRONT, reason="理由"), 1)
    with pytest.raises(InvalidValue):
        do(under_review(), Decide(actor=REVIEWER, outcome="grant"), -1)
    c = do(under_review(), Decide(actor=REVIEWER, outcome="deny", reason="场所不符合要求"), 1)
    assert c.view().decision == "deny" and c.view().decision_reason == "场所不符合要求"
