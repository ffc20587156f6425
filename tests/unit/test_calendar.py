"""Calendar arithmetic on real dates of the Chinese public-holiday calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.calendar import DayType, ServiceCalendar, default_calendar
from domain.errors import CalendarDataMissing

CAL = default_calendar()


@pytest.mark.parametrize("day", [date(2020, 5, d) for d in range(1, 6)])
def test_may_day_2020_is_off(day: date) -> None:
    assert not CAL.is_working_day(day)


def test_may_day_2020_make_up_days_are_worked() -> None:
    assert CAL.is_working_day(date(2020, 4, 26))  # Sunday
    assert CAL.is_working_day(date(2020, 5, 9))  # Saturday
    assert date(2020, 4, 26).weekday() == 6 and date(2020, 5, 9).weekday() == 5


def test_national_day_and_mid_autumn_2020() -> None:
    assert all(not CAL.is_working_day(date(2020, 10, d)) for d in range(1, 9))
    assert CAL.is_working_day(date(2020, 9, 27)) and CAL.is_working_day(date(2020, 10, 10))
    assert not CAL.is_working_day(date(2020, 10, 11))  # an ordinary Sunday
    assert CAL.holiday_name(date(2020, 10, 1)) == "国庆节"


def test_working_days_skip_the_may_holiday() -> None:
    # Thursday 30 April 2020 + 1 working day: 1–5 May are off, so Wednesday 6 May.
    assert CAL.add_days(date(2020, 4, 30), 1, DayType.WORKING) == (date(2020, 5, 6), False)
    # Friday 24 April + 2: Sunday 26 April is a make-up working day.
    assert CAL.add_days(date(2020, 4, 24), 2, DayType.WORKING)[0] == date(2020, 4, 27)
    # Across National Day: 30 September + 1 working day = Friday 9 October.
    assert CAL.add_days(date(2020, 9, 30), 1, DayType.WORKING)[0] == date(2020, 10, 9)


def test_natural_days_ignore_holidays() -> None:
    assert CAL.add_days(date(2020, 4, 30), 15, DayType.NATURAL) == (date(2020, 5, 15), False)


def test_count_days_for_a_suspension() -> None:
    # [28 Apr, 8 May): 28, 29, 30 Apr, 6, 7 May are working days.
    assert CAL.count_days(date(2020, 4, 28), date(2020, 5, 8), DayType.WORKING) == 5
    assert CAL.count_days(date(2020, 4, 28), date(2020, 5, 8), DayType.NATURAL) == 10
    assert CAL.count_days(date(2020, 5, 8), date(2020, 4, 28), DayType.WORKING) == 0


def test_deadline_is_local_midnight_after_the_last_day() -> None:
    # Accepted 10:00 Shanghai on 24 April 2020; 5 working days: 26, 27, 28, 29, 30 April.
    d = CAL.deadline(datetime(2020, 4, 24, 2, tzinfo=UTC), 5, DayType.WORKING)
    assert d.at == datetime(2020, 4, 30, 16, tzinfo=UTC) and not d.provisional


def test_an_unpublished_year_is_refused_or_flagged_never_guessed() -> None:
    year = max(CAL.years) + 1
    with pytest.raises(CalendarDataMissing) as e:
        CAL.is_working_day(date(year, 1, 5))
    assert e.value.code == "CALENDAR_YEAR_MISSING" and str(year) in e.value.message
    with pytest.raises(CalendarDataMissing):
        CAL.add_days(date(year - 1, 12, 30), 5, DayType.WORKING)
    day, provisional = CAL.add_days(date(year - 1, 12, 30), 5, DayType.WORKING, allow_provisional=True)
    assert provisional and day.year == year
    assert CAL.deadline(datetime(year - 1, 12, 30, tzinfo=UTC), 5, DayType.WORKING).provisional


def test_calendar_data_is_versioned() -> None:
    assert CAL.source.startswith("chinesecalendar ")
    assert {2020, 2026} <= CAL.years
    assert isinstance(CAL, ServiceCalendar)
