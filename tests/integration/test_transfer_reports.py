"""The transfer read models on SQLite and PostgreSQL event stores: real stored events projected into the
tables; progress counts, outstanding sign-offs by party, behind schedule, trial figures, BEFORE/AFTER from
the case read models, the list-change history, 审管联动 tasks (overdue) in the worklist; the CLI's status
and report and its refusal of an unknown programme. No Temporal: the events come from the aggregates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from sqlalchemy import Engine, select

from domain.calendar import default_calendar
from domain.cases.application import CaseApplication
from domain.transfer import programme_id
from projections.queries import worklist_for
from projections.runner import ProjectionRunner, make_engine
from projections.transfer import TransferProjection
from projections.transfer_report import render, report, status
from projections.transfer_tables import TRANSFER_TABLES
from services.projections import PROJECTIONS
from tests.unit.transfer_helpers import ADMIN, SCJG

from .test_projections import Stores
from .test_projections import stores as stores  # the fixture, shared
from .transfer_reports_support import AS_OF, CODE, record_programme

pytestmark = pytest.mark.integration
ONESEAL = str(Path(sys.executable).parent / "oneseal")


def project_all(app: Any, engine: Engine, batch_size: int = 1000) -> None:
    for make in PROJECTIONS.values():
        ProjectionRunner(app, engine, make(), batch_size=batch_size).catch_up()


def snapshot(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in TRANSFER_TABLES}


def test_the_transfer_read_models_from_stored_events(stores: Stores) -> None:
    record_programme(stores.app)
    engine = make_engine(stores.read_model_url)
    project_all(stores.app, engine, batch_size=7)  # batches cut aggregates' events anywhere
    data = report(engine, "test-2020", default_calendar(), AS_OF)

    g = data["progress"]
    assert (g["items"], g["listed"], g["cut_over"], g["cut_over_share"]) == (4, 3, 1, 33.3)
    counts = {s["status"]: (s["count"], s["share"]) for s in g["by_status"] if s["count"]}
    assert counts == {"scheduled": (1, 25.0), "handover": (1, 25.0), "live": (1, 25.0), "removed": (1, 25.0)}
    assert g["outcomes"] == {"live": 1, "trial_extended": 0, "rolled_back": 0, "removed": 1}
    assert [(b["batch"], b["items"], b["cut_over"]) for b in g["by_batch"]] == [(1, 2, 1), (2, 1, 0), (None, 1, 0)]
    scjg = next(d for d in g["by_department"] if d["department"] == SCJG)
    assert (scjg["items"], scjg["cut_over"], scjg["cut_over_share"], scjg["batches"]) == (2, 1, 50.0, {"1": 2})

    c = data["checklist"]  # 513201-SCJG-002: origin signed 3 of 7, bureau 1 of 7
    assert c["by_party"] == {"origin": 4, "bureau": 6} and c["items_in_handover"] == 1
    assert [(i["code"], i["origin_open"], i["bureau_open"]) for i in c["items"]] == [("513201-SCJG-002", 4, 6)]

    assert [(b["code"], b["status"]) for b in data["behind_schedule"]] == [("513201-SCJG-002", "handover")]

    t = data["trial_figures"]
    assert t["total"] == {"weeks": 2, "accepted": 6, "completed": 5, "overdue": 1, "on_time_rate": 80.0,
                          "avg_working_days": 2.6}  # fmt: skip

    ba = data["before_after"]
    [item] = ba["by_item"]
    assert item["code"] == CODE
    assert {k: item["before"][k] for k in ("accepted", "completed", "avg_working_days", "on_time_rate", "cases_per_month")} == {
        "accepted": 2, "completed": 2, "avg_working_days": 6.5, "on_time_rate": 50.0, "cases_per_month": 2.0}  # fmt: skip
    assert {k: item["after"][k] for k in ("accepted", "completed", "avg_working_days", "on_time_rate", "cases_per_month")} == {
        "accepted": 4, "completed": 3, "avg_working_days": 2.3, "on_time_rate": 100.0, "cases_per_month": 4.1}  # fmt: skip
    assert ba["by_department"][0]["after"] == {k: v for k, v in item["after"].items() if k not in ("from", "to")}
    assert ba["total"]["items"] == 1

    [added, removed] = data["list_changes"]
    assert (added["kind"], added["code"], added["approved_by"], added["reason"], added["document_no"]) == (
        "added", "513201-JT-009", "马尔康市人民政府", "试运行中新增", "马府函〔2020〕30号")  # fmt: skip
    assert (removed["kind"], removed["reason"], removed["actor_name"]) == (
        "removed",
        "职能调整，不再划转",
        "改革办管理员",
    )

    s = data["supervision"]
    assert s["total"] == {"issued": 3, "claimed": 1, "claimed_late": 0, "open": 2, "overdue": 1}
    assert [o["case_no"] for o in s["overdue"]] == ["TR-S2"]
    later = datetime(2020, 7, 2, tzinfo=UTC)  # TR-S3's deadline (end of 1 July) has passed: unclaimed = overdue
    assert status(engine, "test-2020", later)["supervision"]["overdue"] == 2

    # The supervising department's worklist shows its open claim tasks, the overdue one first.
    work = worklist_for(engine, SCJG, "reviewer", "马尔康市").items
    claims = [(w.ref, w.priority, w.kind) for w in work if w.kind == "supervision"]
    assert claims == [("TR-S2", 2, "supervision"), ("TR-S3", 0, "supervision")]

    md = render(data, "md")
    assert isinstance(md, str) and "试运行情况报告" in md and "## 六、划转前后对比" in md
    # Batch 2 rescheduled later, projected on its own: its item not yet cut over moves with it.
    p = stores.app.repository.get(programme_id("test-2020"))
    p.reschedule_batch(2, cut_over=datetime(2020, 7, 5, 16, tzinfo=UTC), reason="场地改造延期", actor=ADMIN,
                       at=datetime(2020, 6, 28, tzinfo=UTC), command_id="reschedule")  # fmt: skip
    stores.app.save(p)
    project_all(stores.app, engine)
    jt = report(engine, "test-2020", default_calendar(), datetime(2020, 7, 2, tzinfo=UTC))["behind_schedule"]
    assert [b["code"] for b in jt] == ["513201-SCJG-002"]  # JT-001 is no longer due on 1 July
    assert status(engine, "test-2020", AS_OF)["programme"]["batches"][1]["cut_over"] == "2020-07-05T16:00:00+00:00"
    # A rebuild from the first event in one batch gives the same rows (exactly once, whatever the batches).
    before = snapshot(engine)
    runner = ProjectionRunner(stores.app, engine, TransferProjection(), batch_size=1000)
    runner.rebuild()
    assert snapshot(engine) == before


def test_cli_status_and_report_and_the_unknown_programme(tmp_path: Path) -> None:
    app = CaseApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "events.db")}
    )
    record_programme(app)
    env = {**os.environ, "ONESEAL_DATA_DIR": str(tmp_path), "COLUMNS": "80", "ONESEAL_TEMPORAL_ADDRESS": "127.0.0.1:1"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ONESEAL, *args], env=env, capture_output=True, text=True, timeout=120)

    r = cli("transfer", "status")  # the only programme: no --programme needed
    assert r.returncode == 0, r.stderr
    assert "测试划转方案" in r.stdout and "市场监督管理局" in r.stdout and "1/2" in r.stdout
    assert max(cell_len(line) for line in r.stdout.splitlines()) <= 80, r.stdout
    r = cli("transfer", "status", "--programme", "test-2020", "--json")
    data = json.loads(r.stdout)
    assert data["schema"] == "oneseal.transfer-status/1" and data["progress"]["outcomes"]["live"] == 1

    r = cli("report", "transfer", "--programme", "test-2020", "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["schema"] == "oneseal.transfer-report/1" and rep["list_changes"][0]["code"] == "513201-JT-009"
    assert sorted((i["code"], i["status"]) for i in rep["items"]) == [
        ("513201-JT-001", "scheduled"), ("513201-JT-009", "removed"), ("513201-SCJG-001", "live"),
        ("513201-SCJG-002", "handover")]  # fmt: skip
    r = cli("report", "transfer", "--programme", "test-2020", "--format", "html")
    assert r.returncode == 0 and "<h1>测试划转方案试运行情况报告</h1>" in r.stdout
    out = tmp_path / "report.xlsx"
    r = cli("report", "transfer", "--programme", "test-2020", "--format", "xlsx", "-o", str(out))
    assert r.returncode == 0, r.stderr
    from openpyxl import load_workbook

    assert load_workbook(out).sheetnames == [
        "报告",
        "进度",
        "事项",
        "试运行数据",
        "划转前后对比",
        "清单调整",
        "审管联动",
    ]

    for args in (
        ("report", "transfer", "--programme", "nowhere-2020"),
        ("transfer", "status", "--programme", "nowhere"),
    ):
        r = cli(*args)
        assert r.returncode == 2 and "TRANSFER_PROGRAMME_UNKNOWN" in r.stderr, r.stderr
        assert "划转方案「nowhere" in r.stderr and "test-2020" in r.stderr
    r = cli("report", "transfer", "--programme", "test-2020", "--format", "pdf")
    assert r.returncode == 2 and "格式" in r.stderr
