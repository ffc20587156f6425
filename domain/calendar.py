"""The service calendar: working days (工作日) on the Chinese public-holiday calendar, and natural days.

Its data ships in ``data/calendar.json`` (seeded from the ``chinesecalendar`` package). A year
without published data is never guessed silently: either ``CalendarDataMissing`` is raised or,
when the caller allows it, the answer is flagged ``provisional`` (weekends only, no holidays).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from domain.errors import CalendarDataMissing, InvalidValue

SHANGHAI = ZoneInfo("Asia/Shanghai")
_DATA = Path(__file__).with_name("data") / "calendar.json"


class DayType(StrEnum):
    WORKING = "working"
    NATURAL = "natural"

    @property
    def label(self) -> str:
        return "工作日" if self is DayType.WORKING else "自然日"


@dataclass(frozen=True)
class Deadline:
    """A moment by which something must happen; ``provisional`` when a year's holidays were unknown."""

    at: datetime
    provisional: bool = False


class ServiceCalendar:
    def __init__(self, holidays: dict[date, str], workdays: dict[date, str], years: set[int], source: str) -> None:
        self._holidays = holidays
        self._workdays = workdays
        self.years = years
        self.source = source
        self._add_cache: dict[tuple[date, int, DayType, bool], tuple[date, bool]] = {}

    @classmethod
    def from_file(cls, path: Path = _DATA) -> ServiceCalendar:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            holidays={date.fromisoformat(k): v for k, v in raw["holidays"].items()},
            workdays={date.fromisoformat(k): v for k, v in raw["workdays"].items()},
            years=set(raw["years"]),
            source=raw["source"],
        )

    def covers(self, day: date) -> bool:
        return day.year in self.years

    def _check(self, day: date, allow_provisional: bool) -> bool:
        """Return True when the answer for ``day`` is provisional; raise if that is not allowed."""
        if self.covers(day):
            return False
        if allow_provisional:
            return True
        raise CalendarDataMissing(
            f"{day.year}年的节假日安排尚未收录（当前数据：{min(self.years)}—{max(self.years)}年），无法按工作日计算期限",
            year=day.year,
        )

    def is_working_day(self, day: date, *, allow_provisional: bool = False) -> bool:
        self._check(day, allow_provisional)
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        return day.weekday() < 5

    def holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)

    def add_days(
        self, start: date, days: int, day_type: DayType, *, allow_provisional: bool = False
    ) -> tuple[date, bool]:
        """The ``days``-th counted day after ``start`` (the start day itself does not count).

        Returns the date and whether any day on the way was provisional.
        """
        key = (start, days, day_type, allow_provisional)
        cached = self._add_cache.get(key)
        if cached is None:
            cached = self._add_cache[key] = self._add_days(start, days, day_type, allow_provisional)
        return cached

    def _add_days(self, start: date, days: int, day_type: DayType, allow_provisional: bool) -> tuple[date, bool]:
        if days < 0:
            raise InvalidValue(f"期限天数不能为负数：{days}", field="days")
        if day_type is DayType.NATURAL:
            return start + timedelta(days=days), False  # holidays do not matter for natural days
        provisional = False
        current, counted = start, 0
        while counted < days:
            current += timedelta(days=1)
            provisional |= self._check(current, allow_provisional)
            if self.is_working_day(current, allow_provisional=True):
                counted += 1
        return current, provisional

    def count_days(self, start: date, end: date, day_type: DayType, *, allow_provisional: bool = False) -> int:
        """Counted days in ``[start, end)``: used to measure a suspension."""
        if end <= start:
            return 0
        if day_type is DayType.NATURAL:
            return (end - start).days
        n, current = 0, start
        while current < end:
            self._check(current, allow_provisional)
            if self.is_working_day(current, allow_provisional=True):
                n += 1
            current += timedelta(days=1)
        return n

    def deadline(self, start: datetime, days: int, day_type: DayType, *, allow_provisional: bool = True) -> Deadline:
        """End (local midnight, Asia/Shanghai) of the ``days``-th counted day after ``start``'s local date."""
        local_start = to_local(start).date()
        end_day, provisional = self.add_days(local_start, days, day_type, allow_provisional=allow_provisional)
        return Deadline(end_of_day(end_day), provisional)


def to_local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidValue("时间必须带时区", field="at")
    return moment.astimezone(SHANGHAI)


def end_of_day(day: date) -> datetime:
    """Local midnight after ``day``, as an aware datetime in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI).astimezone(ZoneInfo("UTC"))


@lru_cache(maxsize=1)
def default_calendar() -> ServiceCalendar:
    return ServiceCalendar.from_file()
