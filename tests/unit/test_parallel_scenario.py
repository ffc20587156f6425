"""The April 2020 scenario reproduces the bulletin's parallel-approval figures from the aggregates' own state."""

from __future__ import annotations

from collections import Counter
from datetime import UTC
from decimal import Decimal

import pytest

from domain.catalogue import Level
from domain.parallel import ProjectCode, ProjectStatus
from domain.parallel.scenario import (
    COUNTY_WEIGHTS,
    PREFECTURE_INVESTMENT,
    ScenarioRun,
    april_2020,
    generate,
)
from domain.parallel.statistics import handled_in_month, month_figures, month_of
from domain.parallel.view import ProjectView


@pytest.fixture(scope="module")
def run() -> ScenarioRun:
    return april_2020()


@pytest.fixture(scope="module")
def views(run: ScenarioRun) -> list[ProjectView]:
    return [p.view() for p in run.projects]


def test_the_bulletin_figures_of_april_2020(views: list[ProjectView]) -> None:
    f = month_figures(views, "2020-04")
    assert (f.total.projects, f.total.investment, f.total.investment_yi) == (522, Decimal("5869214700.00"), "58.69")
    assert (f.prefecture.projects, f.prefecture.investment, f.prefecture.investment_yi) == (
        11,
        PREFECTURE_INVESTMENT,
        "1.82",
    )
    assert (f.counties.projects, f.counties.investment_yi) == (511, "56.87")
    assert set(f.by_region) == {"阿坝州", *COUNTY_WEIGHTS}
    assert sum(r.projects for r in f.by_region.values()) == 522


def test_projects_not_decided_in_april_do_not_count(run: ScenarioRun, views: list[ProjectView]) -> None:
    assert len(views) == 552
    outside = [v for v in views if not handled_in_month(v, "2020-04")]
    assert len(outside) == 30
    still_open = [v for v in outside if v.current_stage and v.current_stage.opened_at is not None]
    assert len(still_open) == 18 and all(month_of(v.current_stage.opened_at) == "2020-04" for v in still_open)  # type: ignore[union-attr]
    assert [r.handled_in_april for r in run.records] == [handled_in_month(v, "2020-04") for v in views]


def test_a_project_counts_once_and_months_are_cut_in_beijing_time(views: list[ProjectView]) -> None:
    april = [v for v in views if handled_in_month(v, "2020-04")]
    twice = [v for v in april if sum(1 for s in v.stages if s.decided_at and month_of(s.decided_at) == "2020-04") > 1]
    assert len(twice) == 2  # counted once each in the 522
    early = [
        v
        for v in april
        if any(s.decided_at and month_of(s.decided_at) == "2020-04" and s.decided_at.astimezone(UTC).month == 3
               for s in v.stages)
    ]  # fmt: skip
    assert len(early) == 1  # decided 07:30 on 1 April Beijing time = 31 March UTC
    assert Counter(v.status for v in april)[ProjectStatus.DENIED] == 4


def test_the_scenario_is_deterministic_and_every_code_is_valid() -> None:
    first, second = generate(), generate()
    assert first == second
    codes = [r.code for r in first]
    assert len(set(codes)) == len(codes)
    for r in first:
        code = ProjectCode.parse(r.code)
        code.check_region(r.region)
        assert code.year == r.registered_at.year
        assert (r.level is Level.PREFECTURE) == (r.region == "阿坝州")
        assert r.investment > 0 and r.investment == r.investment.quantize(Decimal(100))
