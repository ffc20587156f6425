"""The matter catalogue, the staff directory and the regions: what people pick from, checked in one place."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from domain.catalogue import Matter
from domain.errors import InvalidValue
from domain.staff import Actor

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

PREFECTURE = "阿坝州"
COUNTY_ORDER = ["马尔康市", "汶川县", "理县", "茂县", "松潘县", "九寨沟县", "金川县", "小金县", "黑水县", "壤塘县",
                "阿坝县", "若尔盖县", "红原县"]  # fmt: skip


class DirectoryService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    def regions(self) -> list[str]:
        """The prefecture first, then the counties in the bulletin's order, then any others."""
        known = set(self.boot.store.catalogue.regions())
        order = [PREFECTURE, *COUNTY_ORDER]
        return [r for r in order if r in known] + sorted(known - set(order))

    def check_region(self, region: str) -> str:
        regions = self.regions()
        if region not in regions:
            raise InvalidValue(f"地区「{region}」无效，应为：{'、'.join(regions)}", field="region")
        return region

    def matters(self, region: str | None = None) -> list[Matter]:
        """The catalogue's matters, each with the authority competent NOW (after any recorded transfer)."""
        if region:
            self.check_region(region)
        routed = self.boot.store.routing.routed_codes()
        now = datetime.now(UTC)
        out = []
        for m in self.boot.store.catalogue.matters.values():
            if m.code in routed:
                m = replace(m, authority=self.boot.routing.competent_authority(m.code, now))
            if not region or m.authority.region == region:
                out.append(m)
        return out

    def matter(self, code: str) -> Matter:
        """One matter, with the authority competent now."""
        m = self.boot.store.catalogue.get(code)
        return replace(m, authority=self.boot.routing.competent_authority(code))

    def staff(self, region: str | None = None) -> list[Actor]:
        if region:
            self.check_region(region)
        return [a for a in self.boot.store.staff.all() if not region or a.region == region]

    def actor(self, user_id: str) -> Actor:
        return self.boot.store.staff.get(user_id)
