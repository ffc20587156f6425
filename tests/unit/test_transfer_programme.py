"""The transfer programme: batches in order, milestones once, the trial's start, the living list, closing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from eventsourcing.application import Application

from domain.errors import ERRORS_BY_CODE
from domain.transfer import (
    Batch,
    ItemStatus,
    ListChangeKind,
    Milestone,
    ProgrammeStatus,
    TransferProgramme,
    programme_id,
)
from tests.unit.transfer_helpers import ADMIN, JT, PLANNED_AT, SCJG, plan, programme, refused

TRIAL_DAY = datetime(2020, 6, 1, 1, tzinfo=UTC)


def test_a_plan_becomes_a_programme_with_its_list_batches_and_bureau() -> None:
    p = TransferProgramme.from_plan(plan(), actor=ADMIN, at=PLANNED_AT, command_id="plan")
    assert p.id == programme_id("test-2020") and p.status is ProgrammeStatus.PLANNED
    assert p.status.label == "方案已定"
    assert [b.no for b in p.batches] == [1, 2] and p.batch(2).gates == (Milestone.SEAL_ANNOUNCED,)
    assert p.batch(2).cut_over == datetime(2020, 6, 30, 16, tzinfo=UTC)  # naive plan times are Beijing time
    assert [e.code for e in p.listed()] == ["513201-SCJG-001", "513201-SCJG-002", "513201-JT-001"]
    assert [c.kind for c in p.list_history] == [ListChangeKind.PLANNED] * 3
    assert p.list_history[0].approved_by == "马尔康市人民政府" and p.list_history[0].document_no == "马府发〔2020〕1号"
    assert p.authority.department == "马尔康市行政审批局"
    assert [e.code for e in p.items_of(JT)] == ["513201-JT-001"]
    refused("TRANSFER_DEPARTMENT_UNKNOWN", p.items_of, "马尔康市教育局")
    refused("TRANSFER_BATCH_UNKNOWN", p.batch, 3)


def test_reloading_the_same_plan_is_a_no_op_and_another_plan_under_the_same_code_is_refused() -> None:
    p = TransferProgramme.from_plan(plan(), actor=ADMIN, at=PLANNED_AT, command_id="plan")
    assert p.check_reload(plan().content_hash) is True
    refused("TRANSFER_PLAN_CONFLICT", p.check_reload, replace(plan(), name="另一方案").content_hash + "x")


def test_batches_open_in_order_and_the_first_one_starts_the_handover() -> None:
    p = TransferProgramme.from_plan(plan(), actor=ADMIN, at=PLANNED_AT, command_id="plan")
    refused("TRANSFER_ILLEGAL_TRANSITION", p.open_batch, 2, actor=ADMIN, at=PLANNED_AT, command_id="open-2")
    p.open_batch(1, actor=ADMIN, at=PLANNED_AT, command_id="open-1")
    assert p.status is ProgrammeStatus.HANDOVER and p.is_batch_open(1) and not p.is_batch_open(2)
    refused("TRANSFER_ILLEGAL_TRANSITION", p.open_batch, 1, actor=ADMIN, at=PLANNED_AT, command_id="open-1-again")
    p.open_batch(1, actor=ADMIN, at=PLANNED_AT, command_id="open-1")  # a retry of the same command: no-op
    assert len(p.collect_events()) == 2


def test_each_milestone_is_recorded_once_with_document_and_gates_its_batches() -> None:
    p = programme(milestones=False)
    assert p.missing_gates(2) == [Milestone.SEAL_ANNOUNCED]
    refused("TRANSFER_MILESTONE_MISSING", p.check_gates, 1)
    refused(
        "FIELD_MISSING", p.record_milestone, "hall_ready", document_no=" ", actor=ADMIN, at=PLANNED_AT, command_id="m0"
    )
    refused(
        "TRANSFER_MILESTONE_UNKNOWN",
        p.record_milestone,
        "party",
        document_no="x",
        actor=ADMIN,
        at=PLANNED_AT,
        command_id="m1",
    )
    p.record_milestone(
        Milestone.SEAL_ANNOUNCED, document_no="马审批公告〔2020〕1号", actor=ADMIN, at=PLANNED_AT, command_id="m2"
    )
    p.check_gates(2)
    assert p.milestones[Milestone.SEAL_ANNOUNCED].document_no == "马审批公告〔2020〕1号"
    assert p.milestones[Milestone.SEAL_ANNOUNCED].actor["user_id"] == ADMIN.user_id
    e = refused(
        "TRANSFER_MILESTONE_RECORDED",
        p.record_milestone,
        "seal_announced",
        document_no="另一个",
        actor=ADMIN,
        at=PLANNED_AT,
        command_id="m3",
    )
    assert "审批专用章启用公告" in e.message
    assert Milestone.HALL_READY.label == "场地改造完成"


def test_the_trial_starts_on_its_date_once_every_milestone_is_done() -> None:
    p = programme(milestones=False)
    refused("TRANSFER_MILESTONE_MISSING", p.start_trial, actor=ADMIN, at=TRIAL_DAY, command_id="t")
    for m in Milestone:
        p.record_milestone(m, document_no="文号", actor=ADMIN, at=PLANNED_AT, command_id=m)
    refused("TRANSFER_ILLEGAL_TRANSITION", p.start_trial, actor=ADMIN, at=TRIAL_DAY - timedelta(days=1), command_id="t")
    p.start_trial(actor=ADMIN, at=TRIAL_DAY, command_id="t")
    assert p.status is ProgrammeStatus.TRIAL and p.status.label == "试运行中"


def test_the_living_list_records_who_approved_each_change_and_refuses_twice() -> None:
    p = programme()
    p.remove_item(
        "513201-JT-001",
        approved_by="马尔康市人民政府",
        reason="上级清单调整",
        document_no="马府函〔2020〕9号",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="rm",
    )
    assert not p.is_listed("513201-JT-001") and len(p.listed()) == 2
    change = p.list_history[-1]
    assert (change.kind, change.code, change.approved_by, change.reason) == (
        ListChangeKind.REMOVED,
        "513201-JT-001",
        "马尔康市人民政府",
        "上级清单调整",
    )
    assert change.department == JT and change.actor["user_id"] == ADMIN.user_id
    refused(
        "TRANSFER_ITEM_ALREADY_REMOVED",
        p.remove_item,
        "513201-JT-001",
        approved_by="x",
        reason="y",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="rm-2",
    )
    refused(
        "TRANSFER_ITEM_UNKNOWN",
        p.remove_item,
        "513201-XX-999",
        approved_by="x",
        reason="y",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="rm-3",
    )
    refused(
        "TRANSFER_ITEM_ALREADY_LISTED",
        p.add_item,
        code="513201-SCJG-001",
        name="食品经营许可",
        department=SCJG,
        batch=1,
        approved_by="x",
        reason="y",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="add-0",
    )
    refused(
        "TRANSFER_DEPARTMENT_UNKNOWN",
        p.add_item,
        code="513201-X-1",
        name="某许可",
        department=p.bureau,
        batch=None,
        approved_by="x",
        reason="y",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="add-1",
    )
    # a removed item can come back, in a batch added for items that join during the trial
    p.add_batch(
        Batch(3, "第三批（动态调整）", datetime(2020, 8, 31, 16, tzinfo=UTC)),
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="b3",
    )
    p.add_item(
        code="513201-JT-001",
        name="道路旅客运输经营许可",
        department=JT,
        batch=3,
        approved_by="马尔康市人民政府",
        reason="重新列入",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="add-2",
    )
    assert p.is_listed("513201-JT-001") and p.items["513201-JT-001"].batch == 3
    assert [c.kind for c in p.list_history[-2:]] == [ListChangeKind.REMOVED, ListChangeKind.ADDED]


def test_batches_stay_in_order_when_added_or_rescheduled() -> None:
    p = programme()
    refused(
        "FIELD_INVALID",
        p.add_batch,
        Batch(3, "第三批", datetime(2020, 6, 15, tzinfo=UTC)),
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="b3",
    )
    refused(
        "FIELD_INVALID",
        p.reschedule_batch,
        2,
        cut_over=datetime(2020, 5, 1, tzinfo=UTC),
        reason="延后",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="r2",
    )
    p.reschedule_batch(
        2,
        cut_over=datetime(2020, 7, 14, 16, tzinfo=UTC),
        reason="场地改造延期",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="r2",
    )
    assert p.batch(2).cut_over == datetime(2020, 7, 14, 16, tzinfo=UTC)


def test_closing_waits_for_every_listed_item_to_be_decided() -> None:
    p = programme()
    p.start_trial(actor=ADMIN, at=TRIAL_DAY, command_id="t")
    outcomes = {
        "513201-SCJG-001": ItemStatus.LIVE,
        "513201-SCJG-002": ItemStatus.TRIAL_EXTENDED,
        "513201-JT-001": ItemStatus.ROLLED_BACK,
    }
    e = refused("TRANSFER_ITEMS_UNDECIDED", p.close, outcomes, actor=ADMIN, at=TRIAL_DAY, command_id="close")
    assert e.details["items"] == ["513201-SCJG-002"]
    p.close({**outcomes, "513201-SCJG-002": ItemStatus.LIVE}, actor=ADMIN, at=TRIAL_DAY, command_id="close")
    assert p.status is ProgrammeStatus.CLOSED
    refused(
        "TRANSFER_ILLEGAL_TRANSITION",
        p.add_item,
        code="513201-X-2",
        name="某许可",
        department=SCJG,
        batch=None,
        approved_by="x",
        reason="y",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="late-add",
    )
    # the list stays alive after closing: a live item can still be handed back
    p.remove_item(
        "513201-SCJG-001",
        approved_by="马尔康市人民政府",
        reason="法律修改",
        actor=ADMIN,
        at=TRIAL_DAY,
        command_id="late-rm",
    )
    assert not p.is_listed("513201-SCJG-001")


def test_the_programme_survives_the_event_store() -> None:
    app = Application()
    p = programme()
    p.remove_item(
        "513201-JT-001", approved_by="马尔康市人民政府", reason="调整", actor=ADMIN, at=TRIAL_DAY, command_id="rm"
    )
    app.save(p)
    again = app.repository.get(programme_id("test-2020"))
    assert isinstance(again, TransferProgramme)
    assert again.batches == p.batches and again.trial_end == p.trial_end and again.milestones == p.milestones
    assert again.list_history == p.list_history and again.status is ProgrammeStatus.HANDOVER
    assert again.has_processed("rm")


def test_every_transfer_error_code_is_registered() -> None:
    codes = [c for c in ERRORS_BY_CODE if c.startswith("TRANSFER_")]
    assert len(codes) >= 20 and all(ERRORS_BY_CODE[c].code == c for c in codes)
