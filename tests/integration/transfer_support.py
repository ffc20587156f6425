"""Helpers for the transfer integration tests: a small plan over Maerkang matters, staff, waiting for items."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from domain.errors import DomainError
from domain.staff import Actor, default_staff
from domain.transfer import ChecklistEntry, LicenceItem, Milestone
from services.bootstrap import Bootstrap

BUREAU = "马尔康市行政审批局"
JT = "马尔康市交通运输局"
STAFF = default_staff()
ADMIN = STAFF.get("513201-spj-06")
BUREAU_STAFF = STAFF.get("513201-spj-01")
JT_STAFF = STAFF.get("513201-jt-a")
OUTSIDER = STAFF.get("513201-zj-a")  # 住房和城乡建设局: neither party
PREPARED = datetime(2020, 5, 20, 2, tzinfo=UTC)  # business moments of the 2020 programme (all in the past)
SIGNED = datetime(2020, 5, 25, 2, tzinfo=UTC)
DECIDED = datetime(2020, 10, 30, 2, tzinfo=UTC)

# Six items of 交通运输局 in two batches; two people move with them.
ITEMS = [
    ("513201-JT-101", "道路旅客运输站（场）经营许可", 1, "513201-jt-01"),
    ("513201-JT-102", "道路货物运输经营许可", 1, "513201-jt-01"),
    ("513201-JT-103", "出租汽车经营许可", 1, ""),
    ("513201-JT-104", "出租汽车车辆运营证核发", 2, "513201-jt-02"),
    ("513201-JT-105", "公路建设项目施工许可", 2, ""),
    ("513201-JT-106", "占用、挖掘公路或者使公路改线审批", 2, ""),
]


def plan_text(code: str, items: list[tuple[str, str, int, str]] = ITEMS) -> str:
    rows = "\n".join(
        f"  - {{code: {c}, name: {n}, department: {JT}, legal_basis: 《中华人民共和国道路运输条例》, batch: {b}, "
        f"personnel: [{p}]}}"
        for c, n, b, p in items
    )
    return f"""programme:
  code: {code}
  name: 测试划转方案
  bureau: {BUREAU}
  region: 马尔康市
  level: county
  decision_no: 马府发〔2020〕8号
  approved_by: 马尔康市人民政府
  trial_start: 2020-06-01
  trial_end: 2020-10-31
batches:
  - {{no: 1, name: 第一批, cut_over: "2020-06-01T00:00:00+08:00"}}
  - {{no: 2, name: 第二批, cut_over: "2020-07-01T00:00:00+08:00"}}
items:
{rows}
"""


def new_programme() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def write_plan(tmp: Path, code: str, items: list[tuple[str, str, int, str]] = ITEMS) -> Path:
    path = tmp / f"{code}.yaml"
    path.write_text(plan_text(code, items), encoding="utf-8")
    return path


async def milestones(boot: Bootstrap, programme: str, at: datetime = PREPARED) -> None:
    for m in Milestone:
        await boot.transfer.milestone(m.value, actor=ADMIN, document_no=f"马审批〔2020〕{m.value}",
                                      programme=programme, at=at, read_your_writes=False)  # fmt: skip


async def sign_all(boot: Bootstrap, programme: str, code: str, *, skip: tuple[tuple[str, str], ...] = ()) -> None:
    """Both parties sign every entry: in one step per party ("all"), or entry by entry when some are skipped."""
    if not skip:
        for who in (JT_STAFF, BUREAU_STAFF):
            await boot.transfer.sign(code, "all", actor=who, programme=programme, at=SIGNED, read_your_writes=False)
        return
    for e in ChecklistEntry:
        for who, party in ((JT_STAFF, "origin"), (BUREAU_STAFF, "bureau")):
            if (e.value, party) in skip:
                continue
            await boot.transfer.sign(code, e.value, actor=who, programme=programme, at=SIGNED, read_your_writes=False)


async def until(check: object, timeout: float = 30.0) -> None:
    """Poll a condition (the workflows act asynchronously)."""
    assert callable(check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def ready(boot: Bootstrap, programme: str, code: str, status: str) -> LicenceItem:
    """Wait until the item (as stored) reaches ``status``."""
    await until(lambda: boot.transfer.commands.item(programme, code).status.value == status)
    return boot.transfer.commands.item(programme, code)


async def refused(coro: object) -> str:
    try:
        await coro  # type: ignore[misc]
    except DomainError as e:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in e.message), e.message
        return e.code
    raise AssertionError("the step was not refused")


def as_actor(a: Actor) -> Actor:
    return a


async def settled(handle: object) -> int:
    """The workflow's history length once it stopped moving (its own steps ran): refusals must not add to it."""
    from .support import history_length

    last = -1
    while True:
        n = await history_length(handle)  # type: ignore[arg-type]
        if n == last:
            return n
        last = n
        await asyncio.sleep(0.5)
