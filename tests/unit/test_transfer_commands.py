"""TransferCommands on an in-memory store: one save per step (item + routing + people), exactly once, nothing on refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.cases.application import CaseApplication
from domain.errors import DomainError
from domain.routing import MatterRouting, RoutingCause, routing_id
from domain.staffing import StaffMember, staff_member_id
from domain.transfer import ChecklistEntry, Milestone, load_plan
from domain.transfer.commands import TransferCommands
from tests.unit.transfer_helpers import BUREAU, PLAN_YAML, SCJG, SCJG_STAFF

BUREAU_STAFF = CaseApplication().staff.get("513201-spj-01")
ADMIN = CaseApplication().staff.get("513201-spj-06")
AT = datetime(2020, 5, 20, 2, tzinfo=UTC)
DECIDED = datetime(2020, 10, 30, 2, tzinfo=UTC)
FOOD, SOLE = "513201-SCJG-001", "513201-SCJG-002"  # both of batch 1, both move 513201-scjg-b


def setup() -> tuple[CaseApplication, TransferCommands]:
    app = CaseApplication()
    c = TransferCommands.over(app)
    plan = load_plan(PLAN_YAML, source="t.yaml", catalogue=app.catalogue, staff=app.staff)
    c.load_plan(plan, actor=ADMIN, at=AT, command_id="plan")
    c.open_batch("test-2020", 1, actor=ADMIN, at=AT, command_id="open-1")
    for m in Milestone:
        c.record_milestone("test-2020", m.value, document_no="x", actor=ADMIN, at=AT, command_id=f"m/{m.value}")
    return app, c


def hand_over(c: TransferCommands, code: str) -> None:
    c.open_handover("test-2020", code, actor=ADMIN, at=AT, command_id=f"h/{code}")
    c.sign("test-2020", code, "all", actor=SCJG_STAFF, at=AT, command_id=f"s/{code}/o")
    c.sign("test-2020", code, "all", actor=BUREAU_STAFF, at=AT, command_id=f"s/{code}/b")


def refused(code: str, call: object, *args: object, **kw: object) -> None:
    assert callable(call)
    with pytest.raises(DomainError) as e:
        call(*args, **kw)
    assert e.value.code == code, e.value


def test_a_plan_is_recorded_once_and_another_plan_under_its_code_is_refused() -> None:
    app, c = setup()
    head = app.recorder.max_notification_id()
    plan = load_plan(PLAN_YAML, source="t.yaml", catalogue=app.catalogue, staff=app.staff)
    again = c.load_plan(plan, actor=ADMIN, at=AT, command_id="plan-again")
    assert not again.recorded and app.recorder.max_notification_id() == head
    other = load_plan(PLAN_YAML.replace("测试划转方案", "另一方案"), source="t.yaml", catalogue=app.catalogue)
    refused("TRANSFER_PLAN_CONFLICT", c.load_plan, other, actor=ADMIN, at=AT, command_id="plan-other")
    assert len(c.items("test-2020")) == 3


def test_cut_over_saves_item_routing_and_people_together_once_and_refuses_whole_with_an_open_entry() -> None:
    app, c = setup()
    c.open_handover("test-2020", FOOD, actor=ADMIN, at=AT, command_id="h")
    c.sign("test-2020", FOOD, "all", actor=SCJG_STAFF, at=AT, command_id="s/o")
    refused("TRANSFER_ALREADY_SIGNED", c.sign, "test-2020", FOOD, "all", actor=SCJG_STAFF, at=AT, command_id="s/o2")
    head = app.recorder.max_notification_id()
    refused("TRANSFER_CHECKLIST_OPEN", c.cut_over, "test-2020", FOOD, actor=ADMIN, at=AT, command_id="c0")
    assert app.recorder.max_notification_id() == head and routing_id(FOOD) not in app.repository
    c.sign("test-2020", FOOD, ChecklistEntry.SEAL.value, actor=BUREAU_STAFF, at=AT, command_id="s/b1")
    c.sign("test-2020", FOOD, "all", actor=BUREAU_STAFF, at=AT, command_id="s/b")
    out = c.cut_over("test-2020", FOOD, actor=ADMIN, at=AT, command_id="c1")
    assert out.recorded and out.state.status == "in_trial"
    # One save: the item's CutOver, the routing stream (opened + changed) and the person (enrolled + moved).
    saved = app.recorder.select_notifications(start=head + 1, limit=100)
    assert len({n.originator_id for n in saved if n.id > head + 2}) == 3
    routing: MatterRouting = app.repository.get(routing_id(FOOD))
    assert routing.current.department == BUREAU and routing.changes[0].source == "transfer:test-2020"
    member: StaffMember = app.repository.get(staff_member_id("513201-scjg-b"))
    assert member.department == BUREAU
    again = c.cut_over("test-2020", FOOD, actor=ADMIN, at=AT, command_id="c1")  # a retried activity
    assert not again.recorded


def test_a_person_shared_by_two_items_goes_back_only_with_the_last_of_them() -> None:
    app, c = setup()
    for code in (FOOD, SOLE):
        hand_over(c, code)
        c.cut_over("test-2020", code, actor=ADMIN, at=AT, command_id=f"c/{code}")

    def where() -> str:
        member: StaffMember = app.repository.get(staff_member_id("513201-scjg-b"))
        return member.department

    assert where() == BUREAU
    c.decide("test-2020", FOOD, "roll_back", reason="退回", actor=ADMIN, at=DECIDED, command_id="d1")
    assert where() == BUREAU  # still needed by the other item at the bureau
    assert c.item("test-2020", FOOD).pending_undo == []
    c.remove_item("test-2020", SOLE, approved_by="马尔康市人民政府", reason="移出", actor=ADMIN, at=DECIDED,
                  command_id="r1")  # fmt: skip
    assert where() == SCJG
    routing: MatterRouting = app.repository.get(routing_id(SOLE))
    assert [c.cause for c in routing.changes] == [RoutingCause.TRANSFER, RoutingCause.LIST_REMOVAL]
    head = app.recorder.max_notification_id()
    refused("TRANSFER_ITEM_ALREADY_REMOVED", c.remove_item, "test-2020", SOLE, approved_by="x", reason="y",
            actor=ADMIN, at=DECIDED, command_id="r2")  # fmt: skip
    assert app.recorder.max_notification_id() == head
