"""The weekly trial figures from the case read model: the bureau's cases of the matter in the window, nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count
from pathlib import Path

from sqlalchemy import insert

from projections.cases import CasesProjection
from projections.runner import ensure_schema, make_engine
from projections.tables import case_facts
from projections.transfer_figures import trial_figures

BUREAU, ORIGIN, MATTER = "马尔康市行政审批局", "马尔康市交通运输局", "513201-JT-101"
WEEK = date(2020, 6, 8)  # Monday
_n = count(1)


def naive(t: datetime | None) -> datetime | None:
    return None if t is None else t.astimezone(UTC).replace(tzinfo=None)


def case(
    accepted: datetime, completed: datetime | None = None, *, on_time: bool = True, department: str = BUREAU,
    matter: str = MATTER,
) -> dict[str, object]:  # fmt: skip
    n = next(_n)
    return {
        "case_id": f"c{n:030d}", "case_no": f"T-{n}", "matter_code": matter, "matter_name": "x",
        "matter_kind": "licensing", "department": department, "level": "county", "region": "马尔康市",
        "applicant": "a", "submitted_at": naive(accepted), "accepted_at": naive(accepted),
        "completed_at": naive(completed), "on_time": on_time if completed else None, "suspended_days": 0,
        "status": "completed" if completed else "under_review", "warned": False, "overdue": False,
        "imported": True, "demo": False, "deadline_provisional": False, "version": 1,
    }  # fmt: skip


def test_a_weeks_figures_count_the_bureaus_cases_of_the_matter_in_that_week(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    ensure_schema(engine, CasesProjection(), "Cases")
    t = lambda d, h=2: datetime(2020, 6, d, h, tzinfo=UTC)  # noqa: E731
    rows = [
        case(t(8), t(10)),  # Mon → Wed: 2 working days, on time
        case(t(9), t(15), on_time=False),  # completed the next week: not this week's completion
        case(t(1), t(12), on_time=False),  # accepted the week before, completed late this week (9 working days)
        case(t(10)),  # still open
        case(t(7, 15), t(8)),  # Sunday 23:00 Beijing (before the week): counts as completed only
        case(t(9), t(10), department=ORIGIN),  # the department's own case: not the bureau's
        case(t(9), t(10), matter="513201-JT-102"),  # another matter
    ]
    with engine.begin() as conn:
        conn.execute(insert(case_facts), rows)
    f = trial_figures(engine, matter_code=MATTER, department=BUREAU, region="马尔康市", start=WEEK,
                      end=date(2020, 6, 15))  # fmt: skip
    assert f.week_start == WEEK
    assert (f.accepted, f.completed, f.overdue) == (3, 3, 1)
    assert f.on_time_rate == round(100 * 2 / 3, 1)
    assert f.avg_working_days == round((2 + 9 + 0) / 3, 2)  # working days in [accepted day, completed day)
    empty = trial_figures(engine, matter_code=MATTER, department=BUREAU, region="马尔康市", start=date(2020, 7, 6),
                          end=date(2020, 7, 13))  # fmt: skip
    assert (empty.accepted, empty.completed, empty.on_time_rate, empty.avg_working_days) == (0, 0, None, None)
