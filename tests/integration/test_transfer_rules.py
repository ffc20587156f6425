"""Bad input and the living list on real Temporal (time skipping), both event stores: refusals write nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.routing import MatterRouting, RoutingCause, routing_id
from domain.staffing import StaffMember, staff_member_id
from domain.transfer import ListChangeKind
from services.bootstrap import Bootstrap
from workflows.transfer_contracts import item_workflow_id, programme_workflow_id

from .support import history_length, record_history
from .transfer_support import (
    ADMIN,
    BUREAU,
    BUREAU_STAFF,
    DECIDED,
    ITEMS,
    JT,
    JT_STAFF,
    OUTSIDER,
    SIGNED,
    STAFF,
    milestones,
    new_programme,
    ready,
    refused,
    settled,
    sign_all,
    until,
    write_plan,
)

pytestmark = pytest.mark.integration
GOVERNMENT = "马尔康市人民政府"


async def test_sign_offs_by_both_parties_gate_the_cut_over_and_decisions_only_in_the_trial(
    fresh: Bootstrap, tmp_path: Path
) -> None:
    boot, t = fresh, fresh.transfer
    code = new_programme()
    item = "513201-JT-101"
    await t.plan(write_plan(tmp_path, code, ITEMS[:1]), actor=ADMIN)
    await milestones(boot, code)
    await ready(boot, code, item, "handover")
    handle = (await boot.temporal()).get_workflow_handle(item_workflow_id(code, item))
    length, head = await settled(handle), boot.head()
    sign = t.sign
    # Neither party; one party for the other; an unknown entry; a decision before the trial: refused, nothing written.
    assert await refused(sign(item, "seal", actor=OUTSIDER, programme=code)) == "TRANSFER_WRONG_PARTY"
    assert await refused(sign(item, "seal", actor=JT_STAFF, party="bureau", programme=code)) == "TRANSFER_WRONG_PARTY"
    assert await refused(sign(item, "coffee", actor=JT_STAFF, programme=code)) == "TRANSFER_ENTRY_UNKNOWN"
    assert await refused(t.decide(item, "live", actor=ADMIN, programme=code)) == "TRANSFER_ILLEGAL_TRANSITION"
    assert (await history_length(handle), boot.head()) == (length, head)
    await sign(item, "seal", actor=JT_STAFF, programme=code, at=SIGNED, read_your_writes=False)
    other = STAFF.get("513201-jt-b")  # another person of the same party: still twice for that party
    assert await refused(sign(item, "seal", actor=other, programme=code)) == "TRANSFER_ALREADY_SIGNED"
    # Every entry but one: the cut-over moment (2020) has long passed, yet the item stays in handover.
    await sign_all(boot, code, item, skip=(("accounts", "bureau"), ("seal", "origin")))
    await asyncio.sleep(0.5)
    assert t.commands.item(code, item).status.value == "handover"
    head = boot.head()
    with pytest.raises(Exception) as e:  # the command itself refuses the cut-over with an open entry
        t.commands.cut_over(code, item, actor=ADMIN, at=datetime.now(UTC), command_id="test/cut-over")
    assert getattr(e.value, "code", "") == "TRANSFER_CHECKLIST_OPEN" and "待审批局签认" in str(e.value)
    assert boot.head() == head and routing_id(item) not in boot.store.repository
    await sign(item, "accounts", actor=BUREAU_STAFF, programme=code, at=SIGNED, read_your_writes=False)
    await ready(boot, code, item, "in_trial")
    await until(lambda: len(t.commands.item(code, item).figures) == 22)  # the weekly snapshots (all in the past)
    # The decision: only inside (or on the last day of) the trial; extend needs a later end date and a reason.
    length, head = await settled(handle), boot.head()
    after = datetime(2020, 11, 2, 2, tzinfo=UTC)
    assert await refused(t.decide(item, "live", actor=ADMIN, programme=code, at=after)) == "TRANSFER_OUTSIDE_TRIAL"
    before = datetime(2020, 5, 30, 2, tzinfo=UTC)
    assert await refused(t.decide(item, "rollback", actor=ADMIN, reason="x", programme=code, at=before)) == (
        "TRANSFER_OUTSIDE_TRIAL"
    )
    assert await refused(t.decide(item, "extend", actor=ADMIN, reason="再看看", programme=code, at=DECIDED)) == (
        "FIELD_MISSING"
    )
    assert await refused(t.decide(item, "maybe", actor=ADMIN, programme=code, at=DECIDED)) == "FIELD_INVALID"
    assert (await history_length(handle), boot.head()) == (length, head)
    await t.decide(item, "rollback", actor=ADMIN, reason="专业性强，退回原部门", programme=code, at=DECIDED,
                   read_your_writes=False)  # fmt: skip
    assert await asyncio.wait_for(handle.result(), 30) == "rolled_back"
    routing: MatterRouting = boot.store.repository.get(routing_id(item))
    assert [c.cause for c in routing.changes] == [RoutingCause.TRANSFER, RoutingCause.ROLL_BACK]
    member: StaffMember = boot.store.repository.get(staff_member_id("513201-jt-01"))
    assert member.department == JT  # back with the item
    await record_history(handle, "transfer_item_rolled_back")


async def test_the_living_list_adds_and_removes_items_during_the_trial_and_winds_back_items_in_flight(
    fresh: Bootstrap, tmp_path: Path
) -> None:
    boot, t = fresh, fresh.transfer
    code = new_programme()
    await t.plan(write_plan(tmp_path, code, ITEMS[:2]), actor=ADMIN)  # JT-101 (王…), JT-102, batch 1
    await milestones(boot, code)
    for c in ("513201-JT-101", "513201-JT-102"):
        await ready(boot, code, c, "handover")
        await sign_all(boot, code, c)
        await ready(boot, code, c, "in_trial")
    # Unknown programme, item or department: refused before anything starts.
    assert await refused(t.add_item("513201-JT-104", actor=ADMIN, department=JT, approved_by=GOVERNMENT,
                                    reason="r", programme="nope")) == "TRANSFER_PROGRAMME_UNKNOWN"  # fmt: skip
    assert await refused(t.add_item("513201-XX-999", actor=ADMIN, department=JT, approved_by=GOVERNMENT,
                                    reason="r", programme=code)) == "TRANSFER_ITEM_UNKNOWN"  # fmt: skip
    assert await refused(t.add_item("513201-JT-104", actor=ADMIN, department="马尔康市不存在局",
                                    approved_by=GOVERNMENT, reason="r", programme=code)) == "TRANSFER_DEPARTMENT_UNKNOWN"  # fmt: skip
    assert await refused(t.remove_item("513201-JT-199", actor=ADMIN, approved_by=GOVERNMENT, reason="r",
                                       programme=code)) == "TRANSFER_ITEM_UNKNOWN"  # fmt: skip
    assert await refused(t.add_item("513201-JT-101", actor=ADMIN, department=JT, approved_by=GOVERNMENT,
                                    reason="r", programme=code)) == "TRANSFER_ITEM_ALREADY_LISTED"  # fmt: skip
    # Added during the trial, into batch 1 (under way): its workflow starts at once; approver recorded.
    during = datetime(2020, 8, 3, 2, tzinfo=UTC)
    await t.add_item("513201-JT-104", actor=ADMIN, department=JT, approved_by=GOVERNMENT, reason="企业办事需求集中",
                     batch=1, personnel=("513201-jt-02",), document_no="马府函〔2020〕30号", programme=code, at=during,
                     read_your_writes=False)  # fmt: skip
    await ready(boot, code, "513201-JT-104", "handover")
    for e in ("authority", "files"):  # partly handed over ...
        await t.sign("513201-JT-104", e, actor=JT_STAFF, programme=code, at=during, read_your_writes=False)
    # ... then taken off the list again: wound back (files returned), no routing was changed.
    await t.remove_item("513201-JT-104", actor=ADMIN, approved_by=GOVERNMENT, reason="上级清单调整，暂缓划转",
                        programme=code, at=during, read_your_writes=False)  # fmt: skip
    added = t.commands.item(code, "513201-JT-104")
    assert added.status.value == "removed" and added.pending_undo == [] and not added.handover_delivered
    assert routing_id("513201-JT-104") not in boot.store.repository
    # An item in its trial removed: routing back to the department at once, its person back with it.
    removed_at = datetime(2020, 9, 1, 2, tzinfo=UTC)
    head = boot.head()
    await t.remove_item("513201-JT-102", actor=ADMIN, approved_by=GOVERNMENT, reason="审管衔接不畅，退回原部门",
                        document_no="马府函〔2020〕41号", programme=code, at=removed_at,
                        read_your_writes=False)  # fmt: skip
    assert boot.head() > head
    gone = t.commands.item(code, "513201-JT-102")
    assert gone.status.value == "removed" and gone.pending_undo == [] and gone.removal["was"] == "in_trial"
    routing: MatterRouting = boot.store.repository.get(routing_id("513201-JT-102"))
    assert [(c.authority.department, c.cause) for c in routing.changes] == [
        (BUREAU, RoutingCause.TRANSFER),
        (JT, RoutingCause.LIST_REMOVAL),
    ]
    assert routing.changes[-1].effective_from == removed_at and routing.changes[-1].approved_by == GOVERNMENT
    client = await boot.temporal()
    item_handle = client.get_workflow_handle(item_workflow_id(code, "513201-JT-102"))
    assert await asyncio.wait_for(item_handle.result(), 30) == "removed"
    # Removing twice: refused, nothing written.
    head = boot.head()
    assert await refused(t.remove_item("513201-JT-102", actor=ADMIN, approved_by=GOVERNMENT, reason="again",
                                       programme=code)) == "TRANSFER_ITEM_ALREADY_REMOVED"  # fmt: skip
    assert boot.head() == head
    # The list's history: planned, added, removed, removed — each with who approved it and why.
    p = t.commands.programme(code)
    assert [(c.kind, c.code, c.approved_by) for c in p.list_history[2:]] == [
        (ListChangeKind.ADDED, "513201-JT-104", GOVERNMENT),
        (ListChangeKind.REMOVED, "513201-JT-104", GOVERNMENT),
        (ListChangeKind.REMOVED, "513201-JT-102", GOVERNMENT),
    ]
    assert p.list_history[-1].reason == "审管衔接不畅，退回原部门"
    await record_history(item_handle, "transfer_item_removed")
    # The remaining item goes live; the programme closes with one live item and two removed.
    await t.decide("513201-JT-101", "live", actor=ADMIN, programme=code, at=DECIDED, read_your_writes=False)
    handle = client.get_workflow_handle(programme_workflow_id(code))
    final = await asyncio.wait_for(handle.result(), 30)
    assert final["status"] == "closed"
    await record_history(client.get_workflow_handle(item_workflow_id(code, "513201-JT-101")), "transfer_item_live")
