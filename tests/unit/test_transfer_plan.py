"""Plan files: CSV or YAML, every bad value reported with line and field, refused whole, hashed for re-loading."""

from __future__ import annotations

from domain.catalogue import default_catalogue
from domain.staff import default_staff
from domain.transfer import parse_plan
from domain.transfer.plan import load_plan
from tests.unit.transfer_helpers import PLAN_YAML, plan, refused

PLAN_CSV = """\
# code: test-2020
# name: 测试划转方案
# bureau: 马尔康市行政审批局
# region: 马尔康市
# level: county
# decision_no: 马府发〔2020〕1号
# approved_by: 马尔康市人民政府
# trial_start: 2020-06-01
# trial_end: 2020-10-31
# batch: 2 | 第二批 | 2020-07-01T00:00:00+08:00 | seal_announced
# batch: 1 | 第一批 | 2020-06-01T00:00:00+08:00
code,name,department,legal_basis,batch,personnel
513201-JT-001,道路旅客运输经营许可,马尔康市交通运输局,《中华人民共和国道路运输条例》第十条,2,513201-jt-b
513201-SCJG-001,食品经营许可,马尔康市市场监督管理局,《中华人民共和国食品安全法》第三十五条,1,513201-scjg-b
513201-SCJG-002,个体工商户设立登记,马尔康市市场监督管理局,《促进个体工商户发展条例》,1,513201-scjg-b
"""


def parse(text: str, source: str = "p.yaml"):  # type: ignore[no-untyped-def]
    return parse_plan(text, source=source, catalogue=default_catalogue(), staff=default_staff())


def test_the_same_plan_as_csv_or_yaml_in_any_order_has_the_same_content_hash() -> None:
    from_csv = parse(PLAN_CSV, "p.csv")
    assert from_csv.errors == [] and from_csv.plan is not None
    assert from_csv.plan.content_hash == plan().content_hash
    assert from_csv.plan.split() == {"马尔康市交通运输局": {1: 0, 2: 1}, "马尔康市市场监督管理局": {1: 2, 2: 0}}
    assert from_csv.plan.items[0].personnel[0].name == "马尔康市交通运输局审批员乙"
    changed = parse(PLAN_CSV.replace("第三十五条", "第三十六条"), "p.csv")
    assert changed.plan is not None and changed.plan.content_hash != plan().content_hash


def test_a_yaml_plan_with_bad_rows_is_refused_whole_naming_every_line_and_field() -> None:
    bad = (
        PLAN_YAML.replace("level: county", "level: village")
        .replace("trial_end: 2020-10-31", "trial_end: 2020-13-01")
        .replace("department: 马尔康市交通运输局", "department: 马尔康市宣传部")
        .replace("code: 513201-SCJG-002", "code: 513201-SCJG-001")
        .replace("legal_basis: 《促进个体工商户发展条例》", "legal_basis: ''")
        .replace("batch: 2\n", "batch: 7\n")
        .replace(
            "personnel: [513201-scjg-b]\n  - code: 513201-SCJG-001",
            "personnel: [513201-jt-a]\n  - code: 513201-SCJG-001",
        )
    )
    parsed = parse(bad)
    assert parsed.plan is None
    found = {(e.line, e.field) for e in parsed.errors}
    lines = bad.splitlines()

    def line_of(fragment: str, nth: int = 0) -> int:
        return [i for i, line in enumerate(lines, start=1) if fragment in line][nth]

    assert (line_of("level: village"), "level") in found
    assert (line_of("trial_end:"), "trial_end") in found
    assert (line_of("马尔康市宣传部"), "department") in found
    assert (line_of("code: 513201-SCJG-001", 1), "code") in found  # duplicate code, second occurrence
    assert (line_of("legal_basis: ''"), "legal_basis") in found
    assert (line_of("batch: 7"), "batch") in found
    assert (line_of("513201-jt-a"), "personnel") in found  # a 交通运输局 person on a 市场监管局 item
    err = refused(
        "TRANSFER_PLAN_INVALID", load_plan, bad, source="p.yaml", catalogue=default_catalogue(), staff=default_staff()
    )
    assert "整个文件未载入" in err.message and len(err.details["errors"]) == len(parsed.errors) >= 7


def test_a_csv_plan_names_its_bad_lines_too() -> None:
    bad = (
        PLAN_CSV.replace("# batch: 1 | 第一批 | 2020-06-01T00:00:00+08:00", "# batch: 1 | 第一批 | 六月一日").replace(
            "《促进个体工商户发展条例》,1,513201-scjg-b", "《促进个体工商户发展条例》,1,513201-nobody"
        )
        + "513201-GA-001,居民身份证换领,马尔康市公安局,《居民身份证法》,1,\n"
    )
    parsed = parse(bad, "p.csv")
    assert [(e.line, e.field) for e in parsed.errors] == [(11, "cut_over"), (15, "personnel"), (16, "code")]
    assert "未找到工作人员「513201-nobody」" in parsed.errors[1].reason
    assert "不是行政许可事项" in parsed.errors[2].reason
    assert str(parsed.errors[0]).startswith("第11行字段「cut_over」")


def test_unknown_fields_and_broken_yaml_are_reported_with_their_line() -> None:
    typo = PLAN_YAML.replace("    legal_basis: 《促进", "    legal_bais: 《促进")
    errors = parse(typo).errors
    line = next(i for i, text in enumerate(typo.splitlines(), start=1) if "legal_bais" in text)
    assert {(e.line, e.field) for e in errors} == {(line, "legal_bais"), (line - 3, "legal_basis")}
    assert "未知字段" in errors[-1].reason or "未知字段" in errors[0].reason
    broken = parse("programme: [unclosed\n")
    assert broken.plan is None and broken.errors[0].reason.startswith("YAML 格式错误")


def test_batches_must_keep_their_cut_overs_in_order() -> None:
    swapped = PLAN_YAML.replace('cut_over: "2020-07-01T00:00:00"', 'cut_over: "2020-05-01T00:00:00"')
    errors = parse(swapped).errors
    assert [(e.field, "须晚于第1批" in e.reason) for e in errors] == [("cut_over", True)]


def test_the_shipped_maerkang_plan_has_177_items_of_20_departments_in_two_batches() -> None:
    from datetime import date

    from domain.catalogue import MatterKind
    from domain.transfer.plan import read_plan_file, shipped_plan

    catalogue, staff = default_catalogue(), default_staff()
    p = read_plan_file(shipped_plan("maerkang-2020"), catalogue=catalogue, staff=staff)
    assert (p.code, p.bureau, p.trial_start, p.trial_end) == (
        "maerkang-2020",
        "马尔康市行政审批局",
        date(2020, 6, 1),
        date(2020, 10, 31),
    )
    split = p.split()
    assert len(p.items) == 177 and len(split) == 20 and [b.no for b in p.batches] == [1, 2]
    assert sum(v[1] for v in split.values()) == 90 and sum(v[2] for v in split.values()) == 87
    assert all(min(v.values()) == 0 for v in split.values())  # each department moves in one batch
    # every item is a catalogued Maerkang licensing matter, so cases can be submitted for it
    for item in p.items:
        matter = catalogue.get(item.code)
        assert (matter.kind, matter.authority.department, matter.authority.region) == (
            MatterKind.LICENSING,
            item.department,
            "马尔康市",
        )
        assert item.personnel and all(staff.get(x.user_id).department == item.department for x in item.personnel)
    maerkang_licensing = {
        m.code
        for m in catalogue.matters.values()
        if m.authority.region == "马尔康市" and m.kind is MatterKind.LICENSING
    }
    # Maerkang's licensing matters are the 177 plan items plus the parallel-approval stage matters of
    # investment projects (routed by the same policy, but not part of this programme's list).
    from domain.data.generate_demo import PARALLEL_TEMPLATES

    parallel = {f"513201-{t[0]}" for t in PARALLEL_TEMPLATES}
    assert maerkang_licensing - parallel == {i.code for i in p.items}
    bureau_reviewers = [a for a in staff.all() if a.department == p.bureau and a.post == "reviewer"]
    assert len(bureau_reviewers) >= 6
