"""Pure rules of the read models: month cut in Beijing time, stored time format, the bulletin's rounding."""

from __future__ import annotations

import pytest

from projections.bulletin import percent, rate
from projections.cases import month_of, ts


@pytest.mark.parametrize(
    ("utc", "month"),
    [
        ("2020-04-30 15:59:59.999999", "2020-04"),
        ("2020-04-30 16:00:00.000000", "2020-05"),  # midnight of 1 May in Beijing
        ("2020-12-31 16:00:00.000000", "2021-01"),
        ("2020-02-29 16:30:00.000000", "2020-03"),  # leap year
        ("2020-04-01 00:00:00.000000", "2020-04"),
    ],
)
def test_months_are_cut_in_beijing_time(utc: str, month: str) -> None:
    assert month_of(utc) == month


def test_stored_times_are_naive_utc_with_microseconds() -> None:
    assert ts({"_type_": "datetime_iso", "_data_": "2020-04-30T16:00:00+00:00"}) == "2020-04-30 16:00:00.000000"
    assert ts({"_type_": "datetime_iso", "_data_": "2020-04-30T16:00:00.5+00:00"}) == "2020-04-30 16:00:00.500000"
    assert ts({"_type_": "datetime_iso", "_data_": "2020-05-01T00:00:00+08:00"}) == "2020-04-30 16:00:00.000000"
    assert ts(None) is None


@pytest.mark.parametrize(
    ("num", "den", "printed"),
    [(85645, 86245, 99.3), (19035, 19219, 99.0), (66610, 67026, 99.4), (1, 8, 12.5), (1, 2000, 0.1), (3, 3, 100.0)],
)
def test_rates_are_one_decimal_half_up(num: int, den: int, printed: float) -> None:
    assert percent(num, den) == printed


def test_a_rate_carries_its_numerator_and_denominator() -> None:
    assert rate(85645, 86245) == {"percent": 99.3, "numerator": 85645, "denominator": 86245}
    assert rate(0, 0) == {"percent": None, "numerator": 0, "denominator": 0}
