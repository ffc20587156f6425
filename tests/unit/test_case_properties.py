"""Property tests (hypothesis): the Case aggregate driven through random steps, actors and times
against a small reference model of its legal transitions; and the working-day calendar's arithmetic.

After every step: replaying the recorded events gives the same case; a promised deadline moves earlier
only through a recorded rule (DeadlineRecomputed, which names the deadline it replaced); a closed case
accepts nothing and records nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain.calendar import SHANGHAI, DayType, default_calendar
from domain.cases.case import Case, StepContext
from domain.cases.model import CaseStatus, TimeRules
from domain.cases.steps import (
    Accept,
    Complete,
    Decide,
    Deliver,
    MarkOverdue,
    Notice,
    RecomputeDeadline,
    Refuse,
    Resume,
    StepRequest,
    SubmitCase,
    Supplement,
    Suspend,
    Warn,
    Withdraw,
)
from domain.catalogue import default_catalogue
from domain.errors import DomainError
from domain.staff import SYSTEM_ACTOR, default_staff

CAL, RULES = default_calendar(), TimeRules()
MATTER = default_catalogue().get("513221-SCJG-001")
STAFF = default_staff()
FRONT = STAFF.get("513221-qt-a")
OUTPUT = STAFF.get("513221-cj-a")
REVIEWER = next(a for a in STAFF.all() if a.department == "汶川县市场监督管理局")
STRANGER = STAFF.get("513222-qt-a")  # another county's front desk: may take no step on this case
ACTORS = [FRONT, OUTPUT, REVIEWER, STRANGER, SYSTEM_ACTOR]
T0 = datetime(2024, 3, 4, 2, tzinfo=UTC)  # a Monday morning in Shanghai, inside the shipped calendar

S = CaseStatus
# The reference model: which status each step leaves from, and where it goes (None: status unchanged).
LEGAL: dict[str, tuple[frozenset[CaseStatus], CaseStatus | None]] = {
    "notice": (frozenset({S.SUBMITTED}), S.AWAITING_CORRECTION),
    "supplement": (frozenset({S.AWAITING_CORRECTION}), S.SUBMITTED),
    "accept": (frozenset({S.SUBMITTED}), S.UNDER_REVIEW),
    "refuse": (frozenset({S.SUBMITTED, S.AWAITING_CORRECTION}), S.REFUSED),
    "suspend": (frozenset({S.UNDER_REVIEW}), S.SUSPENDED),
    "resume": (frozenset({S.SUSPENDED}), S.UNDER_REVIEW),
    "decide": (frozenset({S.UNDER_REVIEW}), S.DECIDED),
    "deliver": (frozenset({S.DECIDED}), S.DELIVERED),
    "complete": (frozenset({S.DELIVERED}), S.COMPLETED),
    "withdraw": (frozenset({S.SUBMITTED, S.AWAITING_CORRECTION, S.UNDER_REVIEW, S.SUSPENDED}), S.WITHDRAWN),
    "warn": (frozenset({S.UNDER_REVIEW, S.DECIDED}), None),
    "mark_overdue": (frozenset({S.UNDER_REVIEW, S.DECIDED, S.DELIVERED}), None),
    "recompute_deadline": (frozenset({S.UNDER_REVIEW, S.SUSPENDED, S.DECIDED, S.DELIVERED}), None),
}
CLOSED = {S.COMPLETED, S.REFUSED, S.WITHDRAWN}
POST = {"notice": FRONT, "supplement": FRONT, "accept": FRONT, "refuse": FRONT, "withdraw": FRONT,
        "suspend": REVIEWER, "resume": REVIEWER, "decide": REVIEWER, "deliver": OUTPUT}  # fmt: skip


def request(step: str, actor: Any, case: Case) -> StepRequest:
    missing = case.missing_materials or [MATTER.materials[-1]]
    return {
        "notice": lambda: Notice(actor=actor, materials=missing),
        "supplement": lambda: Supplement(actor=actor, materials=missing),
        "accept": lambda: Accept(actor=actor),
        "refuse": lambda: Refuse(actor=actor, reason="不属于本机关职权范围"),
        "suspend": lambda: Suspend(actor=actor, reason="testing", note="送检"),
        "resume": lambda: Resume(actor=actor),
        "decide": lambda: Decide(actor=actor, outcome="grant"),
        "deliver": lambda: Deliver(actor=actor),
        "complete": lambda: Complete(actor=actor),
        "withdraw": lambda: Withdraw(actor=actor, reason="申请人撤回"),
        "warn": lambda: Warn(actor=actor),
        "mark_overdue": lambda: MarkOverdue(actor=actor),
        "recompute_deadline": lambda: RecomputeDeadline(actor=actor),
    }[step]()


class CaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0
        self.now = T0
        self.log: list[Any] = []  # every event the case recorded, in order
        self.status = S.SUBMITTED  # the reference model's status
        self.deadline: datetime | None = None

    def ctx(self) -> StepContext:
        self.n += 1
        return StepContext(at=self.now, command_id=f"cmd-{self.n}", calendar=CAL, rules=RULES)

    def collect(self) -> list[Any]:
        events = list(self.case.collect_events())
        self.log += events
        return events

    @initialize(complete=st.booleans())
    def submit(self, complete: bool) -> None:
        materials = list(MATTER.materials) if complete else list(MATTER.materials[:-1])
        req = SubmitCase(case_no="P1", matter_code=MATTER.code, applicant="张三", provided_materials=materials,
                         actor=FRONT)  # fmt: skip
        self.case = Case.submit(req, matter=MATTER, authority=MATTER.authority, ctx=self.ctx())
        self.collect()

    @rule(hours=st.integers(min_value=0, max_value=24 * 12))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @precondition(lambda self: self.status not in CLOSED)
    @rule(data=st.data())
    def a_step_the_model_allows(self, data: st.DataObject) -> None:
        """Mostly what staff would do: a step legal in the status, by the post that takes it."""
        step = data.draw(st.sampled_from(sorted(s for s, (sources, _) in LEGAL.items() if self.status in sources)))
        self.take(step, POST.get(step, SYSTEM_ACTOR))

    @rule(step=st.sampled_from(sorted(LEGAL)), actor=st.sampled_from(ACTORS))
    def take(self, step: str, actor: Any) -> None:
        """Anything, by anyone: refused unless the model allows it."""
        before = self.case.view()
        try:
            self.case.take(request(step, actor, self.case), self.ctx())
        except DomainError:
            assert not self.collect(), "a refused step recorded something"
            assert self.case.view() == before, "a refused step changed the case"
            return
        events = self.collect()
        sources, target = LEGAL[step]
        assert self.status in sources, f"{step} was taken from {self.status}, which the model forbids"
        assert actor is not STRANGER, "another county's clerk took a step"
        if step == "deliver":  # 出件, then 办结 by the system: the workflow's next command
            self.status = S.DELIVERED
        elif target is not None:
            self.status = target
        assert self.case.view().status is self.status
        new = self.case.view().promised_deadline
        if self.deadline is not None and new is not None and new < self.deadline:
            recomputed = [e for e in events if type(e).__name__ == "DeadlineRecomputed"]
            assert recomputed and recomputed[-1].previous_deadline == self.deadline, (
                f"deadline moved earlier by {step} without a recorded rule"
            )
        self.deadline = new if new is not None else self.deadline

    @precondition(lambda self: self.status in CLOSED)
    @rule(step=st.sampled_from(sorted(LEGAL)), actor=st.sampled_from(ACTORS))
    def a_closed_case_accepts_nothing(self, step: str, actor: Any) -> None:
        try:
            self.case.take(request(step, actor, self.case), self.ctx())
        except DomainError:
            pass
        else:
            raise AssertionError(f"a closed case ({self.status}) accepted {step}")
        assert not self.collect()

    @invariant()
    def replaying_the_log_gives_the_same_case(self) -> None:
        replayed: Any = None
        for event in self.log:
            replayed = event.mutate(replayed)
        assert replayed.view() == self.case.view()
        assert replayed.version == self.case.version == len(self.log)

    @invariant()
    def the_model_and_the_case_agree_on_the_status(self) -> None:
        assert self.case.view().status is self.status


CaseMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestCaseMachine = CaseMachine.TestCase


# ---- calendar arithmetic ---------------------------------------------------------------------------

FIRST, LAST = date(min(CAL.years), 1, 1), date(max(CAL.years), 8, 31)  # room for 60 working days


@settings(max_examples=300, deadline=None)
@given(start=st.dates(min_value=FIRST, max_value=LAST), n=st.integers(min_value=0, max_value=60))
def test_adding_n_working_days_then_counting_them_back_gives_n(start: date, n: int) -> None:
    end, provisional = CAL.add_days(start, n, DayType.WORKING)
    assert not provisional
    # add_days counts the days after ``start`` up to ``end``; count_days counts [a, b): the same days.
    assert CAL.count_days(start + timedelta(days=1), end + timedelta(days=1), DayType.WORKING) == n
    assert end >= start + timedelta(days=n)  # never fewer calendar days than working days


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(FIRST.year, 1, 1), max_value=datetime(LAST.year, 8, 31), timezones=st.just(UTC)
    ),
    n=st.integers(min_value=1, max_value=60),
)
def test_no_deadline_lands_on_a_holiday_or_a_rest_day(start: datetime, n: int) -> None:
    deadline = CAL.deadline(start, n, DayType.WORKING)
    last_day = (deadline.at.astimezone(SHANGHAI) - timedelta(days=1)).date()  # a deadline is the midnight after it
    assert CAL.is_working_day(last_day), (start, n, last_day)
    assert CAL.holiday_name(last_day) is None or last_day in CAL._workdays  # a holiday only if made a workday
