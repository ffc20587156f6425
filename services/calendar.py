"""Calendar years as data: load a year's published holiday arrangement, then recompute the deadlines that
were counted provisionally because that year was not yet known."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from domain.calendar import YearArrangement, parse_year_file
from domain.cases.steps import RecomputeDeadline
from domain.errors import DomainError
from domain.staff import SYSTEM_ACTOR, Actor
from projections.queries import provisional_open_cases

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap


class CalendarFileUnreadable(DomainError):
    code = "CALENDAR_FILE_UNREADABLE"


@dataclass
class CalendarLoad:
    arrangement: YearArrangement
    recorded: bool
    recomputed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (case_no, why)


class CalendarService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    def years(self) -> list[tuple[int, str]]:
        """Every year the service calendar covers, with where its days come from."""
        self.boot.require_data()
        cal = self.boot.store.calendar
        published = {int(part.split(":", 1)[0]): part.split(":", 1)[1].strip()
                     for part in cal.source.split("；")[1:] if ":" in part}  # fmt: skip
        base = cal.source.split("；", 1)[0]
        return [(y, published.get(y, base)) for y in sorted(cal.years)]

    async def load(self, path: Path, *, actor: Actor = SYSTEM_ACTOR) -> CalendarLoad:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CalendarFileUnreadable(f"无法读取文件 {path}：{e}") from None
        arrangement = parse_year_file(text, source_name=path.name)
        store = self.boot.store
        out = store.publish_calendar_year(
            arrangement,
            actor=actor,
            at=datetime.now(UTC),
            command_id=f"calendar/{arrangement.year}/{arrangement.content_hash()}",
        )
        report = CalendarLoad(arrangement, out.recorded)
        self.boot.projections.ensure_fresh()
        for case_no in provisional_open_cases(self.boot.read_models):
            view = store.get_case(case_no)
            if view.imported and not view.adopted:
                report.skipped.append((case_no, "历史在办件尚未接管"))
                continue
            try:
                await self.boot.cases.step(case_no, RecomputeDeadline(actor=SYSTEM_ACTOR), read_your_writes=False)
            except DomainError as e:
                report.skipped.append((case_no, e.message))
                continue
            report.recomputed.append(case_no)
        if report.recomputed:
            self.boot.projections.ensure_fresh()
        return report
