"""The Maerkang 2020 scenario's generated cases: deterministic, on the right side of each cut-over, importable,
and telling the story the outcome says (the bureau faster on most items, slower on the two it gives back)."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from domain.calendar import SHANGHAI, default_calendar
from domain.cases.legacy import IMPORT_COLUMNS, parse_import
from domain.catalogue import default_catalogue
from domain.staff import default_staff
from domain.transfer import Decision
from domain.transfer import maerkang as mk
from domain.transfer.plan import Plan, read_plan_file, shipped_plan


@cache
def plan() -> Plan:
    return read_plan_file(shipped_plan(mk.NAME), catalogue=default_catalogue(), staff=default_staff())


@cache
def cases() -> tuple[mk.GeneratedCase, ...]:
    return tuple(mk.generate_cases(plan(), default_catalogue(), default_calendar()))


def test_the_plan_has_177_items_of_20_departments_in_two_batches_and_every_chosen_outcome_is_one_of_them() -> None:
    p = plan()
    assert len(p.items) == 177 and len(p.split()) == 20 and [b.no for b in p.batches] == [1, 2]
    codes = {i.code for i in p.items}
    assert set(mk.ROLLED_BACK) <= codes and set(mk.EXTENDED) <= codes
    assert not set(mk.ROLLED_BACK) & set(mk.EXTENDED)
    decisions = [mk.outcome_of(c)[0] for c in codes]
    assert decisions.count(Decision.ROLL_BACK) == 2 and decisions.count(Decision.EXTEND) == 6
    assert decisions.count(Decision.GO_LIVE) == 169
    assert all(mk.outcome_of(c)[1] for c in codes)  # every decision carries its reason


def test_the_same_seed_gives_the_same_file_and_another_seed_another() -> None:
    again = mk.generate_cases(plan(), default_catalogue(), default_calendar())
    assert mk.to_csv(again) == mk.to_csv(cases())
    other = mk.generate_cases(plan(), default_catalogue(), default_calendar(), seed=1)
    assert mk.to_csv(other) != mk.to_csv(cases())


def test_volumes_are_those_of_a_county_level_city_and_every_item_has_cases_on_both_sides() -> None:
    all_cases = cases()
    months = 17  # 2019-06 .. 2020-10
    assert 300 * months <= len(all_cases) <= 700 * months
    codes = {(c.row[1], c.during) for c in all_cases}
    covered = {code for code, _ in codes}
    assert len(covered) == 177
    both = {code for code in covered if (code, True) in codes and (code, False) in codes}
    assert len(both) >= 150


def test_before_cases_are_the_origin_departments_and_trial_cases_the_bureaus_split_at_each_batchs_cut_over() -> None:
    p = plan()
    origin = {i.code: i.department for i in p.items}
    cut = {i.code: next(b.cut_over for b in p.batches if b.no == i.batch) for i in p.items}
    end = datetime(2020, 11, 1, tzinfo=SHANGHAI)
    for c in cases():
        r = dict(zip(IMPORT_COLUMNS, c.row, strict=True))
        moment = datetime.fromisoformat(r["accepted_at"] or r["submitted_at"])
        if c.during:
            assert r["department"] == p.bureau and cut[r["matter_code"]] <= moment < end, r
        else:
            assert r["department"] == origin[r["matter_code"]] and moment < cut[r["matter_code"]], r
            assert moment >= datetime(2019, 6, 1, tzinfo=SHANGHAI)


def test_the_file_passes_the_historical_import_without_an_error_and_every_case_is_closed() -> None:
    parsed = parse_import(mk.to_csv(cases()), default_catalogue(), default_calendar())
    # the bureau has no matter of its own in the catalogue (it gets them by routing changes): named, not refused
    assert parsed.errors == [] and parsed.unknown == {"department": {plan().bureau}}
    assert len(parsed.records) == len(cases())
    assert all(r.result for r in parsed.records)  # nothing open: nothing to adopt, no workflow per case


def test_the_bureau_is_faster_and_more_on_time_on_most_items_and_slower_on_the_two_it_gives_back() -> None:
    s = mk.summarise(cases(), default_calendar())
    both = [i.code for i in plan().items if (i.code, True) in s and (i.code, False) in s]
    faster = [c for c in both if s[c, True].working_days < s[c, False].working_days]
    assert len(faster) >= 0.9 * len(both)
    total = {d: sum(v.completed for (code, dd), v in s.items() if dd is d) for d in (False, True)}
    on_time = {d: sum(v.on_time for (code, dd), v in s.items() if dd is d) for d in (False, True)}
    assert on_time[True] / total[True] > on_time[False] / total[False] + 0.03
    for code in mk.ROLLED_BACK:
        assert s[code, True].working_days > s[code, False].working_days
