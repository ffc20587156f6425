"""Shared set-up for the transfer unit tests: a small plan over matters the demo catalogue has."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.catalogue import default_catalogue
from domain.errors import DomainError
from domain.staff import Actor, default_staff
from domain.transfer import ChecklistEntry, LicenceItem, Milestone, Plan, TransferProgramme, load_plan

BUREAU = "马尔康市行政审批局"
SCJG = "马尔康市市场监督管理局"
JT = "马尔康市交通运输局"
ADMIN = Actor("513201-admin", "改革办管理员", "马尔康市人民政府办公室", "reviewer", "马尔康市")
BUREAU_STAFF = Actor("513201-spj-t1", "审批局测试员", BUREAU, "reviewer", "马尔康市")
SCJG_STAFF = default_staff().get("513201-scjg-a")
JT_STAFF = default_staff().get("513201-jt-a")
OUTSIDER = default_staff().get("513201-zj-a")  # 住房和城乡建设局: neither party
PLANNED_AT = datetime(2020, 4, 20, 2, tzinfo=UTC)
CUT_OVER = datetime(2020, 5, 31, 16, tzinfo=UTC)  # 2020-06-01 00:00 Beijing time

PLAN_YAML = """\
# a small programme over three Maerkang licensing matters of the demo catalogue
programme:
  code: test-2020
  name: 测试划转方案
  bureau: 马尔康市行政审批局
  region: 马尔康市
  level: county
  decision_no: 马府发〔2020〕1号
  approved_by: 马尔康市人民政府
  trial_start: 2020-06-01
  trial_end: 2020-10-31
batches:
  - {no: 1, name: 第一批, cut_over: "2020-06-01T00:00:00+08:00"}
  - {no: 2, name: 第二批, cut_over: "2020-07-01T00:00:00", gates: [seal_announced]}
items:
  - code: 513201-SCJG-001
    name: 食品经营许可
    department: 马尔康市市场监督管理局
    legal_basis: 《中华人民共和国食品安全法》第三十五条
    batch: 1
    personnel: [513201-scjg-b]
  - code: 513201-SCJG-002
    name: 个体工商户设立登记
    department: 马尔康市市场监督管理局
    legal_basis: 《促进个体工商户发展条例》
    batch: 1
    personnel: [513201-scjg-b]
  - code: 513201-JT-001
    name: 道路旅客运输经营许可
    department: 马尔康市交通运输局
    legal_basis: 《中华人民共和国道路运输条例》第十条
    batch: 2
    personnel: [513201-jt-b]
"""


def plan() -> Plan:
    return load_plan(PLAN_YAML, source="test.yaml", catalogue=default_catalogue(), staff=default_staff())


def programme(*, milestones: bool = True) -> TransferProgramme:
    p = TransferProgramme.from_plan(plan(), actor=ADMIN, at=PLANNED_AT, command_id="plan")
    p.open_batch(1, actor=ADMIN, at=PLANNED_AT, command_id="open-1")
    if milestones:
        for m in Milestone:
            p.record_milestone(m, document_no=f"马审批〔2020〕{m.value}", actor=ADMIN, at=PLANNED_AT, command_id=m)
    return p


def items(p: TransferProgramme) -> dict[str, LicenceItem]:
    return {
        i.code: LicenceItem.from_plan(p, i, actor=ADMIN, at=PLANNED_AT, command_id=f"plan/{i.code}")
        for i in plan().items
    }


def sign_all(item: LicenceItem, origin: Actor = SCJG_STAFF) -> None:
    for e in ChecklistEntry:
        item.sign(e, actor=origin, at=PLANNED_AT, command_id=f"sign/{e}/origin")
        item.sign(e, actor=BUREAU_STAFF, at=PLANNED_AT, command_id=f"sign/{e}/bureau")


def in_trial(code: str = "513201-SCJG-001") -> tuple[TransferProgramme, LicenceItem]:
    p = programme()
    item = items(p)[code]
    item.open_handover(p, actor=ADMIN, at=PLANNED_AT, command_id="handover")
    sign_all(item)
    item.cut_over(p, effective_from=CUT_OVER, actor=ADMIN, at=CUT_OVER, command_id="cut-over")
    return p, item


def refused(expected: str, call: object, *args: object, **kwargs: object) -> DomainError:
    """Call and expect a refusal with this stable code and a Chinese message."""
    assert callable(call)
    with pytest.raises(DomainError) as e:
        call(*args, **kwargs)
    assert e.value.code == expected, e.value
    assert any("\u4e00" <= ch <= "\u9fff" for ch in e.value.message)
    return e.value
