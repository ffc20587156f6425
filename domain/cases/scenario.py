"""Seed scenarios: a month of cases generated deterministically from a seed, as a legacy import file.

``aba-2020-04`` reproduces the April 2020 bulletin of Aba prefecture: prefecture level 19,219
accepted / 19,035 completed, the 13 counties/cities together 67,026 / 66,610, spread over regions,
departments and matters of the demo catalogue and over the working days of April 2020 (from the
service calendar). Every case is accepted in April; the completed ones are completed in April;
the rest are still open or were withdrawn at month end. A few applications refused at intake
(never accepted) are added, as in real life; they do not count in the bulletin.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from domain.calendar import SHANGHAI, ServiceCalendar, default_calendar
from domain.cases.case import Case
from domain.cases.legacy import IMPORT_COLUMNS
from domain.catalogue import Catalogue, Matter, default_catalogue


@dataclass(frozen=True)
class Scenario:
    name: str
    month: date
    prefecture: tuple[int, int]  # accepted, completed
    counties: tuple[int, int]
    county_weights: dict[str, int]
    seed: int = 20200430


ABA_2020_04 = Scenario(
    name="aba-2020-04",
    month=date(2020, 4, 1),
    prefecture=(19_219, 19_035),
    counties=(67_026, 66_610),
    county_weights={
        "马尔康市": 16,
        "汶川县": 12,
        "九寨沟县": 9,
        "茂县": 9,
        "松潘县": 8,
        "理县": 7,
        "金川县": 7,
        "小金县": 7,
        "若尔盖县": 7,
        "阿坝县": 6,
        "红原县": 5,
        "黑水县": 5,
        "壤塘县": 4,
    },
)
SCENARIOS = {ABA_2020_04.name: ABA_2020_04}

# How often each kind of matter is asked for, relative to one another (public services dominate).
MATTER_WEIGHTS = {
    "SB-001": 30,
    "YB-001": 28,
    "GA-001": 22,
    "GA-002": 10,
    "RS-001": 6,
    "MZ-002": 8,
    "SCJG-002": 12,
    "SCJG-001": 8,
    "WJ-002": 4,
    "JT-001": 3,
    "ZJ-001": 2,
    "ZRZY-001": 2,
    "WJ-001": 1,
    "SW-001": 1,
    "JY-001": 1,
    "MZ-001": 1,
}


def split(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Largest-remainder apportionment: the parts add up to ``total`` exactly."""
    w = sum(weights.values())
    raw = {k: total * v / w for k, v in weights.items()}
    parts = {k: int(x) for k, x in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - parts[k], reverse=True)[: total - sum(parts.values())]:
        parts[k] += 1
    return parts


def working_days(month: date, calendar: ServiceCalendar) -> list[date]:
    days, d = [], month
    while d.month == month.month:
        if calendar.is_working_day(d):
            days.append(d)
        d += timedelta(days=1)
    return days


def generate_csv(
    scenario: Scenario, catalogue: Catalogue | None = None, calendar: ServiceCalendar | None = None
) -> str:
    catalogue = catalogue or default_catalogue()
    calendar = calendar or default_calendar()
    rng = random.Random(scenario.seed)
    days = working_days(scenario.month, calendar)
    month_end = datetime.combine(days[-1] + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(IMPORT_COLUMNS)
    plan: list[tuple[str, int, int]] = [("阿坝州", *scenario.prefecture)]
    acc = split(scenario.counties[0], scenario.county_weights)
    done = split(scenario.counties[1], {k: acc[k] for k in acc})
    plan += [(region, acc[region], min(done[region], acc[region])) for region in scenario.county_weights]
    assert sum(p[2] for p in plan[1:]) == scenario.counties[1]
    seq = 0
    for region, accepted, completed in plan:
        matters = [m for m in catalogue.matters.values() if m.authority.region == region]
        counts = split(accepted, {m.code: MATTER_WEIGHTS.get(m.code.split("-", 1)[1], 1) for m in matters})
        cases: list[tuple[Matter, datetime]] = []
        for m in matters:
            for _ in range(counts[m.code]):
                day = rng.choice(days)
                moment = datetime.combine(day, time(9), tzinfo=SHANGHAI) + timedelta(minutes=rng.randrange(0, 510))
                cases.append((m, moment))
        # The latest acceptances are the ones still open at month end.
        cases.sort(key=lambda c: c[1])
        open_count = accepted - completed
        for i, (m, accepted_at) in enumerate(cases):
            seq += 1
            submitted_at = accepted_at - timedelta(minutes=rng.randrange(5, 90))
            is_done = i < len(cases) - open_count
            if is_done:
                deadline = calendar.deadline(accepted_at, m.promised_days, m.day_type).at
                latest = min(deadline if rng.random() < 0.985 else month_end, month_end) - timedelta(minutes=1)
                span = max(60.0, (latest - accepted_at).total_seconds())
                completed_at = accepted_at + timedelta(seconds=rng.uniform(60, span))
                if completed_at >= month_end:
                    completed_at = month_end - timedelta(minutes=1)
                result = "granted" if rng.random() < 0.97 else "denied"
            else:
                completed_at, result = None, ""
                if rng.random() < 0.1:  # withdrawn after acceptance: accepted, not completed
                    completed_at = min(
                        accepted_at + timedelta(hours=rng.randrange(1, 48)), month_end - timedelta(minutes=1)
                    )
                    result = "withdrawn"
            w.writerow(
                _row(
                    f"LEGACY-{m.code.split('-')[0]}-202004-{seq:06d}",
                    m,
                    submitted_at,
                    accepted_at,
                    completed_at,
                    result,
                )
            )
        for _ in range(max(1, accepted // 400)):  # refused at intake: never accepted, not counted
            seq += 1
            m = rng.choice(matters)
            submitted_at = datetime.combine(rng.choice(days), time(10), tzinfo=SHANGHAI)
            w.writerow(
                _row(
                    f"LEGACY-{m.code.split('-')[0]}-202004-{seq:06d}",
                    m,
                    submitted_at,
                    None,
                    submitted_at + timedelta(hours=2),
                    "refused",
                )
            )
    return out.getvalue()


def _row(
    case_no: str, m: Matter, submitted: datetime, accepted: datetime | None, completed: datetime | None, result: str
) -> list[str]:
    return [
        case_no,
        m.code,
        m.name,
        m.kind.value,
        m.authority.level.value,
        m.authority.region,
        m.authority.department,
        f"申请人{case_no[-6:]}",
        submitted.isoformat(timespec="seconds"),
        accepted.isoformat(timespec="seconds") if accepted else "",
        completed.isoformat(timespec="seconds") if completed else "",
        result,
        str(m.promised_days),
        m.day_type.value,
    ]


def live_cases(
    catalogue: Catalogue, calendar: ServiceCalendar, n: int, *, seed: int = 7, start: datetime | None = None
) -> Iterator[Case]:
    """``n`` cases taken through the Case aggregate itself (no Temporal), their events pending: a
    realistic event stream for projection tests and benchmarks (the caller saves them)."""
    from domain.cases.case import StepContext
    from domain.cases.model import TimeRules
    from domain.cases.steps import (
        Accept,
        Complete,
        Decide,
        Deliver,
        MarkOverdue,
        Notice,
        Refuse,
        Resume,
        SubmitCase,
        Supplement,
        Suspend,
        Warn,
        Withdraw,
    )  # fmt: skip
    from domain.staff import SYSTEM_ACTOR, Post, default_staff, service_centre

    rng = random.Random(seed)
    rules = TimeRules()
    posts = {(a.department, a.post, a.region): a for a in default_staff().all()}
    matters = list(catalogue.matters.values())
    t0 = start or datetime(2020, 3, 31, 17, tzinfo=UTC)  # 1 April 01:00 in Beijing; UTC like workflow.now()
    for i in range(n):
        m = rng.choice(matters)
        region, dept = m.authority.region, m.authority.department
        front = posts[(service_centre(region), Post.FRONT_DESK.value, region)]
        reviewer = posts[(dept, Post.REVIEWER.value, region)]
        output = posts[(service_centre(region), Post.OUTPUT_WINDOW.value, region)]
        at = t0 + timedelta(minutes=7 * i)
        cid = f"seed-{seed}-{i}"

        def ctx(moment: datetime, k: int) -> StepContext:
            return StepContext(at=moment, command_id=f"{cid}/{k}", calendar=calendar, rules=rules)  # noqa: B023

        correction = rng.random() < 0.15
        provided = list(m.materials[:-1] if correction else m.materials)
        c = Case.submit(
            SubmitCase(case_no=f"S{seed}-{i:07d}", matter_code=m.code, applicant=f"申请人{i}",
                       provided_materials=provided, actor=front),
            matter=m, authority=m.authority, ctx=ctx(at, 1),
        )  # fmt: skip
        if correction:
            c.notice(Notice(actor=front, materials=[m.materials[-1]]), ctx(at + timedelta(minutes=5), 2))
            c.supplement(Supplement(actor=front, materials=[m.materials[-1]]), ctx(at + timedelta(days=1), 3))
        fate = rng.random()
        if fate < 0.02:
            c.refuse(Refuse(actor=front, reason="不属于受理范围"), ctx(at + timedelta(days=1, hours=1), 4))
            yield c
            continue
        accepted = at + timedelta(days=1, hours=2)
        c.accept(Accept(actor=front), ctx(accepted, 5))
        if fate < 0.05:
            c.withdraw(Withdraw(actor=front, reason="申请人撤回"), ctx(accepted + timedelta(hours=3), 6))
        elif fate >= 0.12:
            if fate < 0.2:
                c.suspend(Suspend(actor=reviewer, reason="testing"), ctx(accepted + timedelta(hours=4), 7))
                c.resume(Resume(actor=reviewer), ctx(accepted + timedelta(days=2), 8))
            late = fate > 0.97
            decided = (
                (c.promised_deadline + timedelta(hours=1))
                if late and c.promised_deadline
                else (accepted + timedelta(days=rng.uniform(0.1, 3)))
            )
            if late and c.warning_at is not None:
                c.warn(Warn(actor=SYSTEM_ACTOR), ctx(max(c.warning_at, accepted), 9))
                c.mark_overdue(MarkOverdue(actor=SYSTEM_ACTOR), ctx(decided, 10))
            outcome = "grant" if rng.random() < 0.97 else "deny"
            c.decide(Decide(actor=reviewer, outcome=outcome, reason="不符合条件"), ctx(decided, 11))
            c.deliver(Deliver(actor=output), ctx(decided + timedelta(hours=1), 12))
            c.complete(Complete(actor=SYSTEM_ACTOR), ctx(decided + timedelta(hours=1), 13))
        yield c
