"""Loading the matter catalogue: the shipped demo, bad files refused naming line and field, routing in time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.calendar import DayType
from domain.catalogue import Authority, AuthorityChange, Catalogue, Level, MatterKind, default_catalogue
from domain.errors import CatalogueInvalid, UnknownMatter
from domain.staff import Post, default_staff, service_centre

HEADER = "code,name,kind,department,level,region,statutory_days,promised_days,day_type,materials"
GOOD = "513221-X-1,测试许可,licensing,汶川县测试局,county,汶川县,20,5,working,申请书|身份证明"


def parse(*rows: str, version: str = "# version: t1") -> Catalogue:
    return Catalogue.from_csv_text("\n".join([version, HEADER, *rows]), source="t.csv")


def test_demo_catalogue_covers_the_prefecture_and_13_counties() -> None:
    cat = default_catalogue()
    assert cat.version
    assert len(cat.regions()) == 14 and "阿坝州" in cat.regions() and "马尔康市" in cat.regions()
    kinds = {m.kind for m in cat.matters.values()}
    assert kinds == {MatterKind.LICENSING, MatterKind.PUBLIC_SERVICE}
    assert {m.authority.level for m in cat.matters.values()} == {Level.PREFECTURE, Level.COUNTY}
    assert any(m.day_type is DayType.NATURAL for m in cat.matters.values())
    depts = {m.authority.department for m in cat.matters.values() if m.authority.region == "阿坝州"}
    assert {"阿坝州市场监督管理局", "阿坝州医疗保障局", "阿坝州水务局"} <= depts


def test_every_demo_matter_has_staff_for_every_post() -> None:
    staff = default_staff().all()
    posts = {(a.department, a.post, a.region) for a in staff}
    for m in default_catalogue().matters.values():
        a = m.authority
        assert (a.department, Post.REVIEWER.value, a.region) in posts
        assert (service_centre(a.region), Post.FRONT_DESK.value, a.region) in posts
        assert (service_centre(a.region), Post.OUTPUT_WINDOW.value, a.region) in posts


def test_good_row_parses() -> None:
    m = parse(GOOD).get("513221-X-1")
    assert m.authority == Authority("汶川县测试局", Level.COUNTY, "汶川县")
    assert m.materials == ("申请书", "身份证明") and m.promised_days == 5


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        (GOOD.replace("licensing", "licence"), "kind", "licensing|public_service"),
        (GOOD.replace(",county,", ",province,"), "level", "prefecture|county"),
        (GOOD.replace(",20,5,", ",20,x,"), "promised_days", "不是整数"),
        (GOOD.replace(",20,5,", ",5,20,"), "promised_days", "不能长于法定时限"),
        (GOOD.replace("working", "lunar"), "day_type", "working|natural"),
        (GOOD.replace("测试许可", ""), "name", "不能为空"),
        (GOOD.replace("申请书|身份证明", "申请书|申请书"), "materials", "重复"),
    ],
)
def test_bad_row_is_refused_naming_line_and_field(row: str, field: str, fragment: str) -> None:
    with pytest.raises(CatalogueInvalid) as e:
        parse(GOOD.replace("X-1", "X-0"), row)
    assert e.value.details == {"line": 4, "field": field}
    assert "第4行" in e.value.message and f"「{field}」" in e.value.message and fragment in e.value.message
    assert e.value.code == "CATALOGUE_INVALID"


def test_duplicate_code_missing_version_and_bad_header_are_refused() -> None:
    with pytest.raises(CatalogueInvalid, match="重复"):
        parse(GOOD, GOOD)
    with pytest.raises(CatalogueInvalid, match="版本"):
        parse(GOOD, version="# just a comment")
    with pytest.raises(CatalogueInvalid, match="表头"):
        Catalogue.from_csv_text("# version: 1\ncode,name\n" + GOOD)


def test_unknown_matter_has_a_stable_code() -> None:
    with pytest.raises(UnknownMatter) as e:
        default_catalogue().get("NOPE")
    assert e.value.code == "MATTER_UNKNOWN" and "NOPE" in e.value.message


def test_competent_authority_as_of_a_moment() -> None:
    cat = parse(GOOD)
    bureau = Authority("汶川县行政审批局", Level.COUNTY, "汶川县")
    moved = datetime(2020, 6, 1, tzinfo=UTC)
    cat.record_authority_change(AuthorityChange("513221-X-1", moved, bureau, "相对集中行政许可权划转"))
    assert cat.competent_authority("513221-X-1", datetime(2020, 5, 31, tzinfo=UTC)).department == "汶川县测试局"
    assert cat.competent_authority("513221-X-1", moved) == bureau
    with pytest.raises(UnknownMatter):
        cat.record_authority_change(AuthorityChange("NOPE", moved, bureau))
