"""Reports of the transfer programme from its read models: ``transfer status`` and the trial-run report.

Like the bulletin, a report never presents stale figures: the read models are brought up to the
store's head first (caught up here when no projector runs, awaited when one does) and the report
states the position it used. Definitions: docs/transfer.md; JSON schemas: docs/data-formats.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from domain.errors import InvalidValue
from domain.identity import Principal
from domain.identity.roles import TRANSFER_VIEW_ROLES, Role
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

    def check_viewer(self, p: Principal, region: str | None = None) -> None:
        """Read-only transfer views: a role that may see them (``TRANSFER_VIEW_ROLES``), within the user's regions."""
        from services.identity import Forbidden

        if not p.has(*TRANSFER_VIEW_ROLES):
            allowed = "、".join(Role(r).label for r in sorted(TRANSFER_VIEW_ROLES))
            raise Forbidden(f"您的角色无权查看划转进度（应为：{allowed}）", field="role")
        if region is not None and not (p.scope.all_regions or region in p.scope.regions):
            raise Forbidden(f"划转方案所在的{region}不在您的工作范围（{p.scope.describe()}）内", field="programme")

    def visible_programmes(self, p: Principal) -> list[str]:
        self.check_viewer(p)
        from projections.transfer_queries import programme_regions

        regions = programme_regions(self.boot.read_models)
        return [c for c, r in regions.items() if p.scope.all_regions or r in p.scope.regions]

    def status_for(self, p: Principal, programme: str | None = None) -> dict[str, Any]:
        """``status`` for a signed-in user: refused unless their role and region allow it."""
        self.check_viewer(p)
        code = programme or next(iter(self.visible_programmes(p)), None)
        if code is None:
            raise UnknownProgramme("您的工作范围内没有划转方案", field="programme")
        data = self.status(code)
        self.check_viewer(p, data["programme"]["region"])
        return data

    def report_for(self, p: Principal, programme: str, fmt: str) -> str | bytes:
        self.check_viewer(p)
        if fmt not in FORMATS:
            self.render({}, fmt)
        data = self.report(programme)
        self.check_viewer(p, data["programme"]["region"])
        return self.render(data, fmt)

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
