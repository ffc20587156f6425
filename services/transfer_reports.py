"""Reports of the transfer programme from its read models: ``transfer status`` and the trial-run report.

Like the bulletin, a report never presents stale figures: the read models are brought up to the
store's head first (caught up here when no projector runs, awaited when one does) and the report
states the position it used. Definitions: docs/transfer.md; JSON schemas: docs/data-formats.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from domain.errors import InvalidValue
from domain.transfer.errors import UnknownProgramme
from projections import transfer_report
from projections.transfer_queries import programme_codes, short_department

__all__ = ["FORMATS", "TransferReportService", "short_department"]

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

FORMATS = transfer_report.FORMATS


class TransferReportService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    def _fresh(self) -> dict[str, Any]:
        self.boot.require_data()
        status = self.boot.projections.ensure_fresh()  # the transfer read model and the cases' (before/after)
        return {
            "position": status.position,
            "head": status.head,
            "as_of": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def programme_code(self, programme: str | None) -> str:
        """The programme asked for, or the only one there is."""
        if programme:
            return programme
        codes = programme_codes(self.boot.read_models)
        if len(codes) == 1:
            return codes[0]
        if not codes:
            raise UnknownProgramme("尚未载入任何划转方案：请先运行 oneseal transfer plan FILE", field="programme")
        raise UnknownProgramme(f"有多个划转方案，请用 --programme 指定：{'、'.join(codes)}", field="programme")

    def status(self, programme: str | None = None, *, as_of: datetime | None = None) -> dict[str, Any]:
        source = self._fresh()
        code = self.programme_code(programme)
        return transfer_report.status(self.boot.read_models, code, as_of or datetime.now(UTC), source=source)

    def report(self, programme: str, *, as_of: datetime | None = None, include_demo: bool = False) -> dict[str, Any]:
        source = self._fresh()
        return transfer_report.report(
            self.boot.read_models,
            programme,
            self.boot.store.calendar,
            as_of or datetime.now(UTC),
            include_demo=include_demo,
            source=source,
        )

    def render(self, data: dict[str, Any], fmt: str) -> str | bytes:
        if fmt not in FORMATS:
            raise InvalidValue(f"格式「{fmt}」无效，应为：{'、'.join(FORMATS)}", field="format")
        return transfer_report.render(data, fmt)
