"""A licence item's handover, cut-over, trial figures, end-of-trial decision and clean wind-back."""

from __future__ import annotations

from datetime import UTC, date, datetime

from eventsourcing.application import Application

from domain.staff import default_staff
from domain.staffing import StaffMember, StaffRoster
from domain.transfer import (
    ChecklistEntry,
    Decision,
    ItemStatus,
    LicenceItem,
    Milestone,
    Party,
    TransferProgramme,
    UndoStep,
    item_id,
    outcomes,
    personnel_to_move,
    personnel_to_return,
    trial_weeks,
    week_start_of,
)
from tests.unit.transfer_helpers import (
    ADMIN,
    BUREAU,
    BUREAU_STAFF,
    CUT_OVER,
    OUTSIDER,
    PLANNED_AT,
    SCJG,
    SCJG_STAFF,
    in_trial,
    items,
    programme,
    refused,
    sign_all,
)

IN_TRIAL = datetime(2020, 9, 15, 2, tzinfo=UTC)
LAST_DAY = datetime(2020, 10, 31, 15, 59, tzinfo=UTC)  # 23:59 Beijing time on the trial's last day
AFTER = datetime(2020, 10, 31, 16, 0, tzinfo=UTC)  # 2020-11-01 00:00 Beijing time


def in_handover() -> tuple[TransferProgramme, LicenceItem]:
    p = programme()
    item = items(p)["513201-SCJG-001"]
    item.open_handover(p, actor=ADMIN, at=PLANNED_AT, command_id="handover")
    return p, item


def test_a_plan_row_becomes_a_scheduled_item_with_its_people_and_legal_basis() -> None:
    p = programme()
    item = items(p)["513201-SCJG-001"]
    assert item.id == item_id("test-2020", "513201-SCJG-001")
    assert (item.status, item.status.label, item.batch) == (ItemStatus.SCHEDULED, "已排批次", 1)
    assert item.planned_cut_over == CUT_OVER and item.authority.department == SCJG
    assert item.legal_basis.startswith("《中华人民共和国食品安全法》") and item.supervisor == SCJG
    assert [p.user_id for p in item.personnel] == ["513201-scjg-b"]
    jt = items(p)["513201-JT-001"]
    refused("TRANSFER_ILLEGAL_TRANSITION", jt.open_handover, p, actor=ADMIN, at=PLANNED_AT, command_id="h")  # batch 2


def test_each_entry_needs_both_parties_and_nobody_signs_for_the_other_or_twice() -> None:
    _, item = in_handover()
    assert len(item.open_entries()) == 2 * len(ChecklistEntry) == 14
    item.sign("personnel", actor=SCJG_STAFF, at=PLANNED_AT, command_id="s1")
    assert item.checklist[ChecklistEntry.PERSONNEL][Party.ORIGIN].actor["user_id"] == SCJG_STAFF.user_id
    assert (ChecklistEntry.PERSONNEL, Party.BUREAU) in item.open_entries()
    e = refused(
        "TRANSFER_WRONG_PARTY",
        item.sign,
        "personnel",
        actor=SCJG_STAFF,
        party=Party.BUREAU,
        at=PLANNED_AT,
        command_id="s2",
    )
    assert "不能代替审批局签认" in e.message
    refused("TRANSFER_WRONG_PARTY", item.sign, "seal", actor=OUTSIDER, at=PLANNED_AT, command_id="s3")
    refused(
        "TRANSFER_ALREADY_SIGNED",
        item.sign,
        "personnel",
        actor=default_staff().get("513201-scjg-b"),
        at=PLANNED_AT,
        command_id="s4",
    )  # another person of the same party
    refused("TRANSFER_ENTRY_UNKNOWN", item.sign, "coffee", actor=SCJG_STAFF, at=PLANNED_AT, command_id="s5")
    item.sign("personnel", actor=BUREAU_STAFF, party="bureau", at=PLANNED_AT, command_id="s6")
    assert ChecklistEntry.PERSONNEL not in {e for e, _ in item.open_entries()}
    assert len(item.collect_events()) == 5  # catalogued, scheduled, handover opened + the two good sign-offs


def test_cut_over_waits_for_every_sign_off_and_for_the_batchs_milestones() -> None:
    p, item = in_handover()
    for e in ChecklistEntry:
        item.sign(e, actor=SCJG_STAFF, at=PLANNED_AT, command_id=f"o/{e}")
    err = refused(
        "TRANSFER_CHECKLIST_OPEN", item.cut_over, p, effective_from=CUT_OVER, actor=ADMIN, at=CUT_OVER, command_id="c"
    )
    assert "待审批局签认" in err.message and len(err.details["open"]) == 7
    for e in ChecklistEntry:
        item.sign(e, actor=BUREAU_STAFF, at=PLANNED_AT, command_id=f"b/{e}")
    bare = programme(milestones=False)
    for m in (Milestone.HALL_READY, Milestone.PROCESSES_REENGINEERED):
        bare.record_milestone(m, document_no="x", actor=ADMIN, at=PLANNED_AT, command_id=m)
    err = refused(
        "TRANSFER_MILESTONE_MISSING",
        item.cut_over,
        bare,
        effective_from=CUT_OVER,
        actor=ADMIN,
        at=CUT_OVER,
        command_id="c",
    )
    assert "审批专用章启用公告" in err.message
    item.cut_over(p, effective_from=CUT_OVER, actor=ADMIN, at=CUT_OVER, command_id="c")
    assert item.status is ItemStatus.IN_TRIAL and item.authority.department == BUREAU
    assert (item.trial_start, item.trial_end) == (date(2020, 6, 1), date(2020, 10, 31))


def test_an_item_removed_from_the_list_cannot_cut_over() -> None:
    p, item = in_handover()
    sign_all(item)
    p.remove_item(item.code, approved_by="马尔康市人民政府", reason="调整", actor=ADMIN, at=PLANNED_AT, command_id="rm")
    refused(
        "TRANSFER_ITEM_ALREADY_REMOVED",
        item.cut_over,
        p,
        effective_from=CUT_OVER,
        actor=ADMIN,
        at=CUT_OVER,
        command_id="c",
    )


def test_people_move_at_cut_over_unless_an_earlier_item_already_took_them() -> None:
    _, item = in_trial()
    roster = StaffRoster.build(default_staff())
    assert [a.user_id for a in personnel_to_move(item, roster)] == ["513201-scjg-b"]
    member = StaffMember.enrol(roster.get("513201-scjg-b"), source="seed", actor=ADMIN, at=CUT_OVER, command_id="e")
    member.reassign(
        department=BUREAU,
        post="reviewer",
        region="马尔康市",
        reason="人随事走",
        source=item.code,
        actor=ADMIN,
        at=CUT_OVER,
        command_id="m",
    )
    assert personnel_to_move(item, StaffRoster.build(default_staff(), [member])) == []


def test_weekly_trial_figures_are_recorded_once_per_service_calendar_week_inside_the_trial() -> None:
    _, item = in_trial()
    weeks = trial_weeks(item.trial_start, item.trial_end)
    assert weeks[0] == date(2020, 6, 1) and weeks[-1] == date(2020, 10, 26) and len(weeks) == 22
    assert week_start_of(datetime(2020, 6, 7, 16, 30, tzinfo=UTC)) == date(2020, 6, 8)  # Monday 00:30 Beijing
    good = dict(accepted=12, completed=10, on_time_rate=100.0, overdue=0, avg_working_days=2.5)
    item.record_trial_figures(week_start=date(2020, 6, 8), **good, actor=ADMIN, at=IN_TRIAL, command_id="w1")
    assert item.figures[date(2020, 6, 8)].accepted == 12
    refused(
        "TRANSFER_WEEK_RECORDED",
        item.record_trial_figures,
        week_start=date(2020, 6, 8),
        **good,
        actor=ADMIN,
        at=IN_TRIAL,
        command_id="w2",
    )
    refused(
        "FIELD_INVALID",
        item.record_trial_figures,
        week_start=date(2020, 6, 9),
        **good,
        actor=ADMIN,
        at=IN_TRIAL,
        command_id="w3",
    )
    refused(
        "TRANSFER_OUTSIDE_TRIAL",
        item.record_trial_figures,
        week_start=date(2020, 11, 2),
        **good,
        actor=ADMIN,
        at=IN_TRIAL,
        command_id="w4",
    )
    refused(
        "FIELD_INVALID",
        item.record_trial_figures,
        week_start=date(2020, 6, 15),
        **{**good, "on_time_rate": 130.0},
        actor=ADMIN,
        at=IN_TRIAL,
        command_id="w5",
    )


def test_a_decision_is_taken_inside_the_trial_or_on_its_last_day_and_refused_after() -> None:
    _, item = in_trial()
    refused("TRANSFER_OUTSIDE_TRIAL", item.decide, Decision.GO_LIVE, actor=ADMIN, at=AFTER, command_id="d0")
    refused(
        "FIELD_INVALID",
        item.decide,
        "extend",
        reason="数据不足",
        new_end=date(2020, 10, 1),
        actor=ADMIN,
        at=IN_TRIAL,
        command_id="d1",
    )
    refused("FIELD_MISSING", item.decide, "roll_back", reason="", actor=ADMIN, at=IN_TRIAL, command_id="d2")
    item.decide(
        "extend", reason="办件量不足以评估", new_end=date(2020, 12, 31), actor=ADMIN, at=LAST_DAY, command_id="d3"
    )
    assert (item.status, item.status.label, item.trial_end) == (
        ItemStatus.TRIAL_EXTENDED,
        "延长试运行",
        date(2020, 12, 31),
    )
    item.decide(Decision.GO_LIVE, actor=ADMIN, at=AFTER, command_id="d4")  # inside the extended window
    assert item.status is ItemStatus.LIVE and [d for d, _, _ in item.decisions] == [Decision.EXTEND, Decision.GO_LIVE]
    refused(
        "TRANSFER_ILLEGAL_TRANSITION",
        item.decide,
        Decision.ROLL_BACK,
        reason="x",
        actor=ADMIN,
        at=AFTER,
        command_id="d5",
    )


def test_a_roll_back_lists_what_must_be_undone_and_routing_returns_when_that_step_is_done() -> None:
    _, item = in_trial()
    item.decide(Decision.ROLL_BACK, reason="原部门监管衔接不畅", actor=ADMIN, at=IN_TRIAL, command_id="rb")
    assert item.status.label == "已回退原部门"
    assert item.pending_undo == [UndoStep.ROUTING_BACK, UndoStep.PERSONNEL_BACK, UndoStep.RETURN_HANDOVER]
    assert item.authority.department == BUREAU  # until the routing change is recorded
    item.mark_undone(UndoStep.ROUTING_BACK, actor=ADMIN, at=IN_TRIAL, command_id="u1")
    assert item.authority.department == SCJG and UndoStep.ROUTING_BACK not in item.pending_undo
    refused("TRANSFER_ILLEGAL_TRANSITION", item.mark_undone, "routing_back", actor=ADMIN, at=IN_TRIAL, command_id="u2")


def test_removing_an_item_in_handover_winds_back_only_what_was_handed_over() -> None:
    _, item = in_handover()
    item.sign("files", actor=SCJG_STAFF, at=PLANNED_AT, command_id="s")
    item.remove(approved_by="马尔康市人民政府", reason="上级取消该事项", actor=ADMIN, at=PLANNED_AT, command_id="rm")
    assert item.status is ItemStatus.REMOVED and item.removal is not None and item.removal["was"] == "handover"
    assert item.pending_undo == [UndoStep.RETURN_HANDOVER]
    refused(
        "TRANSFER_ITEM_ALREADY_REMOVED",
        item.remove,
        approved_by="x",
        reason="y",
        actor=ADMIN,
        at=PLANNED_AT,
        command_id="rm2",
    )
    refused("TRANSFER_ITEM_ALREADY_REMOVED", item.sign, "seal", actor=SCJG_STAFF, at=PLANNED_AT, command_id="s2")


def test_removing_an_item_in_trial_winds_back_routing_people_and_handover_then_it_may_return() -> None:
    p, item = in_trial()
    p.remove_item(
        item.code, approved_by="马尔康市人民政府", reason="法律修改", actor=ADMIN, at=IN_TRIAL, command_id="p-rm"
    )
    item.remove(approved_by="马尔康市人民政府", reason="法律修改", actor=ADMIN, at=IN_TRIAL, command_id="rm")
    assert item.removal is not None and item.removal["was"] == "in_trial"
    assert item.pending_undo == [UndoStep.ROUTING_BACK, UndoStep.PERSONNEL_BACK, UndoStep.RETURN_HANDOVER]
    p.add_item(
        code=item.code,
        name=item.name,
        department=SCJG,
        batch=None,
        approved_by="马尔康市人民政府",
        reason="重新列入",
        actor=ADMIN,
        at=IN_TRIAL,
        command_id="p-add",
    )
    refused(
        "TRANSFER_ILLEGAL_TRANSITION",
        item.relist,
        p,
        approved_by="x",
        reason="y",
        actor=ADMIN,
        at=IN_TRIAL,
        command_id="re",
    )
    for step in list(item.pending_undo):
        item.mark_undone(step, actor=ADMIN, at=IN_TRIAL, command_id=f"u/{step}")
    item.relist(p, approved_by="马尔康市人民政府", reason="重新列入", actor=ADMIN, at=IN_TRIAL, command_id="re")
    assert item.status is ItemStatus.CATALOGUED and item.authority.department == SCJG and item.checklist == {}


def test_people_go_back_only_when_no_other_item_at_the_bureau_needs_them() -> None:
    p = programme()
    both = items(p)
    food, trader = both["513201-SCJG-001"], both["513201-SCJG-002"]
    for code, item in (("a", food), ("b", trader)):
        item.open_handover(p, actor=ADMIN, at=PLANNED_AT, command_id=f"h{code}")
        sign_all(item)
        item.cut_over(p, effective_from=CUT_OVER, actor=ADMIN, at=CUT_OVER, command_id=f"c{code}")
    member = StaffMember.enrol(
        default_staff().get("513201-scjg-b"), source="seed", actor=ADMIN, at=CUT_OVER, command_id="e"
    )
    member.reassign(
        department=BUREAU,
        post="reviewer",
        region="马尔康市",
        reason="人随事走",
        source="x",
        actor=ADMIN,
        at=CUT_OVER,
        command_id="m",
    )
    roster = StaffRoster.build(default_staff(), [member])
    food.decide(Decision.ROLL_BACK, reason="试运行问题", actor=ADMIN, at=IN_TRIAL, command_id="rb")
    assert personnel_to_return(food, [food, trader], roster) == []  # 个体工商户登记 still needs them
    trader.decide(Decision.ROLL_BACK, reason="试运行问题", actor=ADMIN, at=IN_TRIAL, command_id="rb")
    assert [a.user_id for a in personnel_to_return(food, [food, trader], roster)] == ["513201-scjg-b"]
    assert outcomes([food, trader]) == {food.code: ItemStatus.ROLLED_BACK, trader.code: ItemStatus.ROLLED_BACK}


def test_the_item_survives_the_event_store() -> None:
    _, item = in_trial()
    item.record_trial_figures(
        week_start=date(2020, 6, 1),
        accepted=3,
        completed=0,
        on_time_rate=None,
        overdue=0,
        avg_working_days=None,
        actor=ADMIN,
        at=IN_TRIAL,
        command_id="w",
    )
    item.decide("extend", reason="样本不足", new_end=date(2020, 11, 30), actor=ADMIN, at=IN_TRIAL, command_id="x")
    app = Application()
    app.save(item)
    again = app.repository.get(item.id)
    assert isinstance(again, LicenceItem)
    for name in ("status", "checklist", "figures", "trial_start", "trial_end", "authority", "personnel", "decisions"):
        assert getattr(again, name) == getattr(item, name), name
