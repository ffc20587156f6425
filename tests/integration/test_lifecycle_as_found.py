"""The case lifecycle as a new user found it (issue 6): each defect, through the service layer, on both stores."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.calendar import DayType, parse_year_file
from domain.cases.case import promised_deadlines
from domain.cases.model import CaseView, TimeRules
from domain.cases.steps import Accept, Decide, Deliver, Suspend
from domain.errors import DomainError, IllegalTransition, InvalidValue, MissingField
from domain.staff import default_staff
from services.bootstrap import Bootstrap
from services.cases import CaseQuery
from services.errors import ScenarioRefused
from workflows.case import CaseWorkflow

from .conftest import Stack
from .support import FRONT, MATTER, OUTPUT, REVIEWER, new_case_no, record_history, take

pytestmark = pytest.mark.integration
IMPORT_HEADER = (
    "case_no,matter_code,matter_name,matter_kind,level,region,department,applicant,submitted_at,"
    "accepted_at,completed_at,result,promised_days,day_type"
)


def _materials(boot: Bootstrap, code: str) -> list[str]:
    return list(boot.store.catalogue.get(code).materials)


async def test_an_open_imported_case_is_adopted_worked_and_counted_overdue(fresh: Bootstrap, tmp_path: Path) -> None:
    """Defect 2: an open legacy case gets a workflow of its own, a task, its overdue mark, and can be completed."""
    no = f"LEGACY-513221-{new_case_no('ad')}"
    f = tmp_path / "legacy.csv"
    f.write_text(
        f"{IMPORT_HEADER}\n{no},{MATTER},食品经营许可,licensing,county,汶川县,汶川县市场监督管理局,某某,"
        "2020-04-27T09:00:00,2020-04-27T10:00:00,,,5,working\n",
        encoding="utf-8",
    )
    report = await fresh.imports.import_file(f, batch="legacy")
    assert report.adopted == [no] and report.adoption_pending == 0
    handle = (await fresh.temporal()).get_workflow_handle(f"case-{no}", result_type=CaseView)
    for _ in range(100):  # the adopt step, then the warning and overdue timers (their moments are long past)
        names = [e.event for e in fresh.store.history(no)]
        if "BecameOverdue" in names:
            break
        await _sleep()
    assert names == ["Imported", "Adopted", "DeadlineWarned", "BecameOverdue"]
    fresh.projections.ensure_fresh()
    tasks = fresh.cases.worklist(REVIEWER).items
    assert [(t.ref, t.priority, t.label) for t in tasks] == [(no, 2, "审查决定")]
    with pytest.raises(IllegalTransition):  # adopting twice is refused by the step's own rule
        await take(fresh.cases, no, Accept(actor=FRONT))
    await take(fresh.cases, no, Decide(actor=REVIEWER, outcome="grant"))
    await take(fresh.cases, no, Deliver(actor=OUTPUT))
    final = await handle.result()
    assert final.status == "completed" and final.overdue and final.imported and final.adopted
    fresh.projections.ensure_fresh()
    assert fresh.cases.worklist(REVIEWER).total == 0
    row = fresh.cases.search(CaseQuery(case_no=no)).items[0]
    assert row.status == "completed" and row.overdue
    await record_history(handle, "case_adopted")


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.1)


async def test_a_published_year_recomputes_provisional_deadlines(
    fresh: Bootstrap, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Calendar years as data: a deadline counted on an unknown year is recomputed when the year is loaded."""
    code = "513200-JY-001"  # 30 working days: from late November it reaches into 2027
    front, reviewer = default_staff().get("513200-qt-a"), default_staff().get("513200-jy-a")
    no = new_case_no("cal")
    with temporal_env.with_time_skipping_disabled():
        await fresh.cases.submit(
            matter_code=code, applicant="某某学校", materials=_materials(fresh, code), actor=front, case_no=no,
            read_your_writes=False,
        )  # fmt: skip
    accepted = await take(fresh.cases, no, Accept(actor=front))
    assert accepted.promised_deadline is not None and accepted.accepted_at is not None
    assert accepted.deadline_provisional  # this store's calendar does not know that year yet
    year = max(y for y in range(accepted.accepted_at.year, accepted.promised_deadline.year + 1)
               if y not in fresh.store.calendar.years)  # fmt: skip
    text = _year_file(year)
    f = tmp_path / f"{year}.yaml"
    f.write_text(text, encoding="utf-8")
    loaded = await fresh.calendar.load(f)
    assert loaded.recorded and loaded.recomputed == [no]
    again = await fresh.calendar.load(f)  # idempotent: the same content records nothing, nothing to recompute
    assert not again.recorded and again.recomputed == []
    after = fresh.store.get_case(no)
    expected = promised_deadlines(accepted.accepted_at, 30, DayType.WORKING, fresh.store.calendar, TimeRules())
    assert not after.deadline_provisional
    assert after.promised_deadline == expected.promised_deadline != accepted.promised_deadline
    recomputed = fresh.store.history(no)[-1]
    assert (
        recomputed.event == "DeadlineRecomputed"
        and recomputed.details["previous_deadline"] == accepted.promised_deadline
    )
    progress = await (await fresh.temporal()).get_workflow_handle(f"case-{no}").query(CaseWorkflow.status)
    assert progress.next_timer == "warn" and progress.next_timer_at == after.warning_at  # the timers follow
    fresh.projections.ensure_fresh()
    row = fresh.cases.search(CaseQuery(case_no=no)).items[0]
    assert row.promised_deadline == after.promised_deadline and not row.deadline_provisional
    await take(fresh.cases, no, Suspend(actor=reviewer, reason="专家评审"))  # labels accepted where codes are
    await record_history((await fresh.temporal()).get_workflow_handle(f"case-{no}"), "case_deadline_recomputed")


def _year_file(year: int) -> str:
    """A test arrangement for ``year`` (not the real notice): New Year, a long Spring break, one make-up Saturday."""
    jan1 = date(year, 1, 1)
    saturday = next(jan1 + timedelta(days=i) for i in range(20, 40) if (jan1 + timedelta(days=i)).weekday() == 5)
    return (
        f"year: {year}\nsource: 测试用节假日安排（非正式通知）\nholidays:\n"
        f"  - {{name: 元旦, from: {year}-01-01, to: {year}-01-03}}\n"
        f"  - {{name: 春节, from: {year}-01-04, to: {year}-01-15}}\n"
        f"workdays:\n  - {{date: {saturday.isoformat()}, name: 春节调休}}\n"
    )


def test_a_year_file_is_refused_whole_with_every_error_named() -> None:
    bad = "year: 2027\nholidays:\n  - {name: 元旦, from: 2027-01-03, to: 2027-01-01}\n  - {name: x, from: 2026-05-01}\nworkdays:\n  - {date: 2027-01-05, name: 调休}\n"
    with pytest.raises(DomainError) as e:
        parse_year_file(bad, source_name="2027.yaml")
    assert e.value.code == "CALENDAR_FILE_INVALID"
    rows = e.value.details["rows"]
    assert any("source" in r for r in rows) and any("早于" in r for r in rows)
    assert any("不在 2027 年" in r for r in rows) and any("应为周末" in r for r in rows)


async def test_delivering_a_completed_case_again_says_it_is_complete(stack: Stack) -> None:
    """Defect 8: not CASE_NOT_FOUND, but that the case has ended."""
    no = new_case_no(stack.kind)
    with stack.env.with_time_skipping_disabled():
        await stack.service.submit(
            matter_code=MATTER, applicant="某某", materials=_materials(stack.boot, MATTER), actor=FRONT, case_no=no,
            read_your_writes=False,
        )  # fmt: skip
    await take(stack.service, no, Accept(actor=FRONT))
    await take(stack.service, no, Decide(actor=REVIEWER, outcome="grant"))
    await take(stack.service, no, Deliver(actor=OUTPUT))
    await stack.client.get_workflow_handle(f"case-{no}").result()
    with pytest.raises(IllegalTransition, match="已结束（已办结），不能再办理「出件」"):
        await take(stack.service, no, Deliver(actor=OUTPUT))


@pytest.mark.parametrize(
    ("applicant", "case_no", "code"),
    [
        ("某" * 101, None, "FIELD_INVALID"),
        ("某某\x1b[31m餐饮", None, "FIELD_INVALID"),
        ("某某\u202e餐饮", None, "FIELD_INVALID"),
        ("某\u200b某", None, "FIELD_INVALID"),
        ("某某", "汶川 001/ä", "FIELD_INVALID"),
        ("某某", "", "FIELD_MISSING"),
    ],
)
async def test_bad_names_and_numbers_start_nothing(
    stack: Stack, applicant: str, case_no: str | None, code: str
) -> None:
    """Defect 5: refused with a clear message before any workflow starts; an empty number is not 'automatic'."""
    with pytest.raises(DomainError) as e, stack.env.with_time_skipping_disabled():
        await stack.service.submit(
            matter_code=MATTER, applicant=applicant, materials=[], actor=FRONT, case_no=case_no,
            read_your_writes=False,
        )  # fmt: skip
    assert e.value.code == code and e.value.message
    if case_no:
        with pytest.raises(RPCError):
            await stack.client.get_workflow_handle(f"case-{case_no}").describe()


async def test_typos_are_refused_with_the_valid_values(stack: Stack) -> None:
    """Defect 6: unknown regions, statuses, reasons, outcomes: refused in Chinese with the list of valid values."""
    with pytest.raises(InvalidValue, match="地区「不存在县」无效，应为：阿坝州、马尔康市"):
        stack.boot.reports.bulletin("2020-04", "不存在县")
    with pytest.raises(InvalidValue, match="地区「不存在县」无效"):
        stack.service.search(CaseQuery(region="不存在县"))
    with pytest.raises(InvalidValue, match="月份「2020-4」格式应为 YYYY-MM"):
        stack.boot.reports.bulletin("2020-4")
    no = new_case_no(stack.kind)
    with stack.env.with_time_skipping_disabled():
        await stack.service.submit(
            matter_code=MATTER, applicant="某某", materials=_materials(stack.boot, MATTER), actor=FRONT, case_no=no,
            read_your_writes=False,
        )  # fmt: skip
    await take(stack.service, no, Accept(actor=FRONT))
    with pytest.raises(InvalidValue, match="中止计时事由「随便」无效，应为：hearing（听证）"):
        await take(stack.service, no, Suspend(actor=REVIEWER, reason="随便"))
    with pytest.raises(InvalidValue, match="决定结果「maybe」无效"):
        await take(stack.service, no, Decide(actor=REVIEWER, outcome="maybe"))
    with pytest.raises(MissingField):
        await take(stack.service, no, Decide(actor=REVIEWER, outcome="不予许可"))
    decided = await take(stack.service, no, Decide(actor=REVIEWER, outcome="不予许可", reason="场所不符合要求"))
    assert decided.decision == "deny" and decided.decision_reason == "场所不符合要求"


async def test_a_report_catches_up_before_it_counts(fresh: Bootstrap, tmp_path: Path) -> None:
    """Defect 11: with no projector running, the bulletin brings the read models to the store's head first."""
    f = tmp_path / "month.csv"
    rows = [
        f"R-{i},{MATTER},食品经营许可,licensing,county,汶川县,汶川县市场监督管理局,某某,2020-04-0{i}T09:00:00,"
        f"2020-04-0{i}T10:00:00,2020-04-0{i}T16:00:00,granted,5,working"
        for i in range(1, 4)
    ]
    f.write_text("\n".join([IMPORT_HEADER, *rows]) + "\n", encoding="utf-8")
    await fresh.imports.import_file(f, adopt=False)
    data = fresh.reports.bulletin("2020-04")
    assert data["prefecture_wide"]["accepted"] == 3 and data["prefecture_wide"]["completed"] == 3
    assert data["source"]["position"] == data["source"]["head"] == fresh.head()


async def test_a_drive_refuses_a_data_directory_with_real_cases(
    fresh: Bootstrap, temporal_env: WorkflowEnvironment
) -> None:
    """Defect 7: demonstration cases never land in a real month."""
    with temporal_env.with_time_skipping_disabled():
        await fresh.cases.submit(
            matter_code=MATTER, applicant="真实申请人", materials=_materials(fresh, MATTER), actor=FRONT,
            read_your_writes=False,
        )  # fmt: skip
    with pytest.raises(ScenarioRefused, match="1 件不是演示场景生成的办件"):
        await fresh.scenarios.drive("aba-2020-04", 0.0001)
