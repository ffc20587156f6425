"""The service calendar: working days (工作日) on the Chinese public-holiday calendar, and natural days.

Its data ships in ``data/calendar.json`` (seeded from the ``chinesecalendar`` package); years
published later are recorded as events (``CalendarBook.YearPublished``, loaded from a small YAML
file of the State Council's notice) and laid over it, so every process counts on the same days.
A year without published data is never guessed silently: either ``CalendarDataMissing`` is raised
or, when the caller allows it, the answer is flagged ``provisional`` (weekends only, no holidays).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from domain.errors import CalendarDataMissing, DomainError, InvalidValue
from domain.events import Recorded

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


# ---- calendar years as data ------------------------------------------------------------------------


class CalendarFileInvalid(DomainError):
    code = "CALENDAR_FILE_INVALID"


@dataclass(frozen=True)
class YearArrangement:
    """One year's public holidays and make-up working days (调休), as the State Council publishes them."""

    year: int
    holidays: dict[date, str]
    workdays: dict[date, str]
    source: str

    def content_hash(self) -> str:
        text = json.dumps(
            {
                "year": self.year,
                "holidays": {d.isoformat(): n for d, n in sorted(self.holidays.items())},
                "workdays": {d.isoformat(): n for d, n in sorted(self.workdays.items())},
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def parse_year_file(text: str, *, source_name: str = "<file>") -> YearArrangement:
    """The documented YAML (docs/data-formats.md, "Calendar year files"); every error named, nothing half-read.

    ``year``, ``source`` (the notice), ``holidays``: a list of ``{name, from, to}`` (inclusive
    ranges), ``workdays``: a list of ``{date, name}`` (weekend days worked in exchange)."""
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"第{mark.line + 1}行" if mark is not None else ""
        raise CalendarFileInvalid(f"{source_name}{where}不是有效的 YAML：{getattr(e, 'problem', e)}") from None
    errors: list[str] = []
    if not isinstance(raw, dict):
        raise CalendarFileInvalid(f"{source_name}：应为含 year、source、holidays、workdays 的 YAML 映射")
    year = raw.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise CalendarFileInvalid(f"{source_name}：year 应为 2000—2100 之间的年份，而不是「{year}」", field="year")
    source = str(raw.get("source") or "").strip()
    if not source:
        errors.append("source：须写明依据（如国务院办公厅关于部分节假日安排的通知及文号）")
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}

    def day(value: object, where: str) -> date | None:
        if isinstance(value, date):
            d = value
        else:
            try:
                d = date.fromisoformat(str(value))
            except ValueError:
                errors.append(f"{where}：「{value}」不是日期（YYYY-MM-DD）")
                return None
        if d.year != year:
            errors.append(f"{where}：{d.isoformat()} 不在 {year} 年")
            return None
        return d

    for i, h in enumerate(raw.get("holidays") or []):
        where = f"holidays[{i + 1}]"
        if not isinstance(h, dict) or not str(h.get("name") or "").strip():
            errors.append(f"{where}：须有 name、from、to")
            continue
        start, end = day(h.get("from"), f"{where}.from"), day(h.get("to", h.get("from")), f"{where}.to")
        if start is None or end is None:
            continue
        if end < start:
            errors.append(f"{where}：to（{end}）早于 from（{start}）")
            continue
        d = start
        while d <= end:
            if d in holidays:
                errors.append(f"{where}：{d.isoformat()} 重复列为假日")
            holidays[d] = str(h["name"]).strip()
            d += timedelta(days=1)
    if not holidays:
        errors.append("holidays：至少应有一项")
    for i, w in enumerate(raw.get("workdays") or []):
        where = f"workdays[{i + 1}]"
        if not isinstance(w, dict):
            errors.append(f"{where}：须有 date、name")
            continue
        d2 = day(w.get("date"), f"{where}.date")
        if d2 is None:
            continue
        if d2.weekday() < 5:
            errors.append(f"{where}：{d2.isoformat()} 是工作日，调休上班日应为周末")
        if d2 in holidays:
            errors.append(f"{where}：{d2.isoformat()} 同时列为假日和调休上班日")
        workdays[d2] = str(w.get("name") or "调休上班").strip()
    if errors:
        raise CalendarFileInvalid(f"{source_name} 有 {len(errors)} 处错误，未载入", rows=errors)
    return YearArrangement(year, holidays, workdays, source)


class CalendarBook(Aggregate):
    """The published years, as recorded facts: every process counts days on the same calendar, and a year
    that arrives later (the notice for next year each November) is an event, not a code change."""

    class Event(Recorded):
        pass

    class Opened(Aggregate.Created, Event):
        LABEL = "建立节假日安排记录"

    class YearPublished(Event):
        LABEL = "载入年度节假日安排"
        year: int
        holidays: dict[str, str]
        workdays: dict[str, str]
        source: str
        content_hash: str

        def apply(self, book: CalendarBook) -> None:
            book.years[self.year] = YearArrangement(
                self.year,
                {date.fromisoformat(k): v for k, v in self.holidays.items()},
                {date.fromisoformat(k): v for k, v in self.workdays.items()},
                self.source,
            )
            book.processed_commands.append(self.command_id)

    @staticmethod
    def create_id() -> UUID:
        return CALENDAR_BOOK_ID

    @event(Opened)
    def __init__(self, actor: dict[str, str], at: datetime, command_id: str) -> None:
        self.years: dict[int, YearArrangement] = {}
        self.processed_commands: list[str] = [command_id]

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    def publish(self, arrangement: YearArrangement, *, actor: dict[str, str], at: datetime, command_id: str) -> None:
        """Record a year; the same content again records nothing (a re-load is idempotent)."""
        known = self.years.get(arrangement.year)
        if known is not None and known.content_hash() == arrangement.content_hash():
            return
        self.trigger_event(
            self.YearPublished,
            year=arrangement.year,
            holidays={d.isoformat(): n for d, n in sorted(arrangement.holidays.items())},
            workdays={d.isoformat(): n for d, n in sorted(arrangement.workdays.items())},
            source=arrangement.source,
            content_hash=arrangement.content_hash(),
            actor=actor,
            at=at,
            command_id=command_id,
        )


CALENDAR_BOOK_ID = uuid5(NAMESPACE_URL, "/oneseal/calendar")


def with_years(base: ServiceCalendar, years: dict[int, YearArrangement]) -> ServiceCalendar:
    """The shipped calendar with the recorded years laid over it (a recorded year replaces a shipped one)."""
    if not years:
        return base
    holidays = {d: n for d, n in base._holidays.items() if d.year not in years}
    workdays = {d: n for d, n in base._workdays.items() if d.year not in years}
    for y in years.values():
        holidays.update(y.holidays)
        workdays.update(y.workdays)
    sources = "；".join(f"{y}: {a.source}" for y, a in sorted(years.items()))
    return ServiceCalendar(holidays, workdays, base.years | set(years), f"{base.source}；{sources}")
