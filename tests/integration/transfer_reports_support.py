"""A small transfer programme recorded through the aggregates themselves (the events A's workflows record),
with imported cases before and after the cut-over and three 审管联动 tasks: what the report tests project."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.calendar import DayType, default_calendar
from domain.cases.legacy import ImportRecord
from domain.transfer import LicenceItem, SupervisionTask
from tests.unit.transfer_helpers import (
    ADMIN,
    BUREAU,
    BUREAU_STAFF,
    CUT_OVER,
    JT,
    PLANNED_AT,
    SCJG,
    SCJG_STAFF,
    items,
    programme,
    sign_all,
)

CODE = "513201-SCJG-001"
AS_OF = datetime(2020, 6, 30, 12, tzinfo=UTC)  # 20:00 Beijing, the day before batch 2 cuts over


def bj(day: str, hour: int = 9) -> datetime:
    """A Beijing-time moment as aware UTC."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00").astimezone(UTC)


def case(no: str, department: str, accepted: str, completed: str | None) -> ImportRecord:
    at = bj(accepted)
    return ImportRecord(
        case_no=no,
        matter_code=CODE,
        matter_name="食品经营许可",
        matter_kind="licensing",
        level="county",
        region="马尔康市",
        department=department,
        applicant="测试申请人",
        submitted_at=at,
        accepted_at=at,
        completed_at=bj(completed, 16) if completed else None,
        result="granted" if completed else "",
        promised_days=5,
        day_type="working",
        promised_deadline=default_calendar().deadline(at, 5, DayType.WORKING).at,
        source_hash=no,
    )


CASES = [
    case("TR-B1", SCJG, "2020-05-11", "2020-05-15"),  # 4 working days, on time
    case("TR-B2", SCJG, "2020-05-18", "2020-05-29"),  # 9 working days, late
    case("TR-B0", SCJG, "2020-04-01", "2020-04-03"),  # before the BEFORE window
    case("TR-A1", BUREAU, "2020-06-02", "2020-06-04"),  # 2
    case("TR-A2", BUREAU, "2020-06-08", "2020-06-10"),  # 2
    case("TR-A3", BUREAU, "2020-06-15", "2020-06-18"),  # 3
    case("TR-A4", BUREAU, "2020-06-29", None),  # open
]


def record_programme(app: Any) -> None:
    """Save the programme, its items, a list change and three supervision tasks to ``app``'s store."""
    p = programme()
    its = items(p)
    a, b = its[CODE], its["513201-SCJG-002"]
    a.open_handover(p, actor=ADMIN, at=PLANNED_AT, command_id="handover")
    sign_all(a)
    a.cut_over(p, effective_from=CUT_OVER, actor=ADMIN, at=CUT_OVER, command_id="cut-over")
    p.start_trial(actor=ADMIN, at=CUT_OVER, command_id="trial")
    a.record_trial_figures(week_start=datetime(2020, 6, 1).date(), accepted=4, completed=3, on_time_rate=66.7,
                           overdue=1, avg_working_days=3.0, actor=ADMIN, at=bj("2020-06-08"), command_id="w1")  # fmt: skip
    a.record_trial_figures(week_start=datetime(2020, 6, 8).date(), accepted=2, completed=2, on_time_rate=100.0,
                           overdue=0, avg_working_days=2.0, actor=ADMIN, at=bj("2020-06-15"), command_id="w2")  # fmt: skip
    b.open_handover(p, actor=ADMIN, at=PLANNED_AT, command_id="handover")
    for entry in ("authority", "personnel", "duties"):
        b.sign(entry, actor=SCJG_STAFF, at=PLANNED_AT, command_id=f"sign/{entry}/origin")
    b.sign("authority", actor=BUREAU_STAFF, at=PLANNED_AT, command_id="sign/authority/bureau")
    # The living list: an item added during the trial, then taken off again.
    p.add_item(code="513201-JT-009", name="测试新增事项", department=JT, batch=2, approved_by="马尔康市人民政府",
               reason="试运行中新增", document_no="马府函〔2020〕30号", actor=ADMIN, at=bj("2020-06-10"),
               command_id="add")  # fmt: skip
    c = LicenceItem.catalogue(p, code="513201-JT-009", name="测试新增事项", origin=JT, legal_basis="《测试条例》",
                              actor=ADMIN, at=bj("2020-06-10"), command_id="add/catalogue")  # fmt: skip
    p.remove_item("513201-JT-009", approved_by="马尔康市人民政府", reason="职能调整，不再划转",
                  document_no="马府函〔2020〕31号", actor=ADMIN, at=bj("2020-06-20"), command_id="remove")  # fmt: skip
    c.remove(approved_by="马尔康市人民政府", reason="职能调整，不再划转", actor=ADMIN, at=bj("2020-06-20"),
             command_id="remove")  # fmt: skip
    a.decide("go_live", reason="运行平稳", actor=ADMIN, at=bj("2020-06-25"), command_id="decide")
    tasks = []
    for no, decided in (("TR-S1", "2020-06-04"), ("TR-S2", "2020-06-22"), ("TR-S3", "2020-06-29")):
        tasks.append(SupervisionTask.issue(case_no=no, item=a, decision="grant", decided_by=BUREAU,
                                           decided_at=bj(decided, 10), calendar=default_calendar(),
                                           actor=BUREAU_STAFF, at=bj(decided, 10), command_id=f"push/{no}"))  # fmt: skip
    tasks[0].claim(actor=SCJG_STAFF, at=bj("2020-06-05"), command_id="claim")
    tasks[1].mark_overdue(actor=ADMIN, at=bj("2020-06-25"), command_id="overdue")
    app.save(p, *its.values(), c)
    app.save(*tasks)
    app.import_cases(CASES, batch="transfer-test")
