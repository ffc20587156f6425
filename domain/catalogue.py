"""The matter catalogue (政务服务事项目录) and the one place that says who handles a matter, as of a moment."""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from domain.calendar import DayType
from domain.errors import CatalogueInvalid, UnknownMatter

_DATA = Path(__file__).with_name("data") / "catalogue.csv"
CATALOGUE_COLUMNS = (
    "code",
    "name",
    "kind",
    "department",
    "level",
    "region",
    "statutory_days",
    "promised_days",
    "day_type",
    "materials",
)


class MatterKind(StrEnum):
    LICENSING = "licensing"
    PUBLIC_SERVICE = "public_service"

    @property
    def label(self) -> str:
        return "行政许可" if self is MatterKind.LICENSING else "公共服务"


class Level(StrEnum):
    PREFECTURE = "prefecture"
    COUNTY = "county"

    @property
    def label(self) -> str:
        return "州级" if self is Level.PREFECTURE else "县（市）级"


@dataclass(frozen=True)
class Authority:
    """The competent authority: a department at a level in a region."""

    department: str
    level: Level
    region: str


@dataclass(frozen=True)
class Matter:
    code: str
    name: str
    kind: MatterKind
    authority: Authority
    statutory_days: int
    promised_days: int
    day_type: DayType
    materials: tuple[str, ...]


@dataclass(frozen=True)
class AuthorityChange:
    """From ``effective_from`` on, ``matter_code`` is handled by ``authority`` (e.g. after 划转 to the bureau)."""

    matter_code: str
    effective_from: datetime
    authority: Authority
    reason: str = ""


@dataclass
class Catalogue:
    version: str
    matters: dict[str, Matter]
    _changes: dict[str, list[AuthorityChange]] = field(default_factory=dict)

    def get(self, code: str) -> Matter:
        try:
            return self.matters[code]
        except KeyError:
            raise UnknownMatter(f"事项目录中没有编码为「{code}」的事项", matter_code=code) from None

    def record_authority_change(self, change: AuthorityChange) -> None:
        """Plug-in point for the transfer of licensing items: later changes win from their moment on."""
        self.get(change.matter_code)
        if change.effective_from.tzinfo is None:
            raise CatalogueInvalid("划转生效时间必须带时区", field="effective_from")
        changes = self._changes.setdefault(change.matter_code, [])
        changes.append(change)
        changes.sort(key=lambda c: c.effective_from)

    def competent_authority(self, code: str, at: datetime) -> Authority:
        """Who handles this matter at this moment: the only routing rule the rest of the system uses."""
        matter = self.get(code)
        changes = self._changes.get(code, [])
        i = bisect_right([c.effective_from for c in changes], at)
        return changes[i - 1].authority if i else matter.authority

    def regions(self) -> list[str]:
        return sorted({m.authority.region for m in self.matters.values()})

    @classmethod
    def from_csv_text(cls, text: str, *, source: str = "<text>") -> Catalogue:
        """Parse and validate; any bad line refuses the whole file, naming line and field."""
        version = ""
        lines = text.splitlines()
        # A leading "# version: X" comment carries the catalogue's version.
        body_start = 0
        for i, line in enumerate(lines):
            if line.startswith("#"):
                if line.lstrip("# ").startswith("version:"):
                    version = line.split(":", 1)[1].strip()
                body_start = i + 1
                continue
            break
        if not version:
            raise CatalogueInvalid(f"{source}：缺少版本行（# version: …）", line=1, field="version")
        reader = csv.DictReader(io.StringIO("\n".join(lines[body_start:])))
        header = tuple(reader.fieldnames or ())
        if header != CATALOGUE_COLUMNS:
            raise CatalogueInvalid(
                f"{source} 第{body_start + 1}行：表头应为 {','.join(CATALOGUE_COLUMNS)}",
                line=body_start + 1,
                field="header",
            )
        matters: dict[str, Matter] = {}
        for offset, row in enumerate(reader):
            line_no = body_start + 2 + offset
            matter = _parse_row(row, line_no, source)
            if matter.code in matters:
                raise CatalogueInvalid(
                    f"{source} 第{line_no}行字段「code」有误：事项编码「{matter.code}」重复",
                    line=line_no,
                    field="code",
                )
            matters[matter.code] = matter
        if not matters:
            raise CatalogueInvalid(f"{source}：目录为空", line=body_start + 1, field="code")
        return cls(version=version, matters=matters)

    @classmethod
    def from_file(cls, path: Path = _DATA) -> Catalogue:
        return cls.from_csv_text(path.read_text(encoding="utf-8"), source=path.name)


def _parse_row(row: dict[str, str | None], line_no: int, source: str) -> Matter:
    def bad(field_name: str, reason: str) -> CatalogueInvalid:
        return CatalogueInvalid(
            f"{source} 第{line_no}行字段「{field_name}」有误：{reason}", line=line_no, field=field_name
        )

    values: dict[str, str] = {}
    for name in CATALOGUE_COLUMNS:
        value = (row.get(name) or "").strip()
        if not value:
            raise bad(name, "不能为空")
        values[name] = value
    if None in row:
        raise bad("materials", "列数多于表头")

    def enum(field_name: str, enum_cls: type[StrEnum]) -> StrEnum:
        try:
            return enum_cls(values[field_name])
        except ValueError:
            allowed = "|".join(e.value for e in enum_cls)
            raise bad(field_name, f"「{values[field_name]}」不是 {allowed} 之一") from None

    def days(field_name: str) -> int:
        try:
            n = int(values[field_name])
        except ValueError:
            raise bad(field_name, f"「{values[field_name]}」不是整数") from None
        if n <= 0:
            raise bad(field_name, "必须为正整数")
        return n

    statutory, promised = days("statutory_days"), days("promised_days")
    if promised > statutory:
        raise bad("promised_days", f"承诺时限（{promised}）不能长于法定时限（{statutory}）")
    materials = tuple(m.strip() for m in values["materials"].split("|") if m.strip())
    if len(set(materials)) != len(materials):
        raise bad("materials", "材料名称重复")
    return Matter(
        code=values["code"],
        name=values["name"],
        kind=MatterKind(enum("kind", MatterKind)),
        authority=Authority(values["department"], Level(enum("level", Level)), values["region"]),
        statutory_days=statutory,
        promised_days=promised,
        day_type=DayType(enum("day_type", DayType)),
        materials=materials,
    )


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    return Catalogue.from_file()
