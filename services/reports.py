"""Reports from the read models: the monthly bulletin and the monthly statistics.

A report never presents stale figures as the month's: before it reads, the read models are
brought up to the store's head (caught up here when no projector runs, awaited when one does),
or the report is refused with their position; every bulletin states the position it used.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from domain.errors import InvalidValue
from projections.bulletin import bulletin as compute_bulletin
from projections.bulletin import render as render_bulletin
from projections.queries import monthly_statistics

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

FORMATS = ("md", "html", "json", "xlsx", "csv")


def check_month(month: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
        raise InvalidValue(f"月份「{month}」格式应为 YYYY-MM，如 2020-04", code="MONTH_INVALID", field="month")
    return month


class ReportService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    def _fresh(self) -> dict[str, Any]:
        self.boot.require_data()
        status = self.boot.projections.ensure_fresh()  # every read model the bulletin reads: cases, projects
        return {
            "position": status.position,
            "head": status.head,
            "as_of": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def bulletin(self, month: str, region: str | None = None, *, include_demo: bool = False) -> dict[str, Any]:
        check_month(month)
        if region:
            self.boot.directory.check_region(region)
        source = self._fresh()
        return compute_bulletin(self.boot.read_models, month, region, include_demo=include_demo, source=source)

    def render(self, data: dict[str, Any], fmt: str) -> str | bytes:
        if fmt not in FORMATS:
            raise InvalidValue(f"格式「{fmt}」无效，应为：{'、'.join(FORMATS)}", field="format")
        return render_bulletin(data, fmt)

    def totals(self, month: str, *, include_demo: bool = False) -> tuple[int, int]:
        """Prefecture-wide accepted and completed in the month."""
        wide = self.bulletin(month, include_demo=include_demo)["prefecture_wide"]
        return int(wide["accepted"]), int(wide["completed"])

    def stats(self, month: str, region: str | None = None, *, include_demo: bool = False) -> list[dict[str, Any]]:
        check_month(month)
        if region:
            self.boot.directory.check_region(region)
        self._fresh()
        return monthly_statistics(self.boot.read_models, month, region=region, include_demo=include_demo)
