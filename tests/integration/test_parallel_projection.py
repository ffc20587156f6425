"""The projects read model on SQLite and PostgreSQL: the bulletin's parallel section and the task worklist
from the events equal what the aggregates say (the April 2020 projects), loading is idempotent, a rebuild
gives the same rows; and the CLI's refusals and its project view, without Temporal."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from sqlalchemy import Engine, select

from domain.cases.application import CaseApplication
from domain.parallel import month_figures, open_tasks
from domain.parallel.commands import ProjectCommands
from domain.parallel.project import Project
from domain.parallel.scenario import april_2020
from projections.bulletin import bulletin, render
from projections.cases import CasesProjection
from projections.project_tables import project_facts, project_months, project_tasks
from projections.projects import ProjectsProjection
from projections.runner import ProjectionRunner, ensure_schema, make_engine

from .test_projections import Stores
from .test_projections import stores as stores  # the fixture, shared

pytestmark = pytest.mark.integration
ONESEAL = str(Path(sys.executable).parent / "oneseal")


@pytest.fixture(scope="module")
def driven() -> list[Project]:
    return april_2020().projects


@pytest.fixture
def scenario(driven: list[Project]) -> list[Project]:
    """Fresh copies, each with its pending events: saving an aggregate empties them."""
    return copy.deepcopy(driven)


def snapshot(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in (project_facts, project_months, project_tasks)}  # fmt: skip


def test_the_projects_read_model_equals_the_aggregates(stores: Stores, scenario: list[Project]) -> None:
    out = ProjectCommands.over(stores.app).record(scenario)
    assert (out.added, out.already_present) == (552, 0)
    again = ProjectCommands.over(stores.app).record(scenario)  # loading twice adds nothing
    assert (again.added, again.already_present, again.notification_id) == (0, 552, None)
    engine = make_engine(stores.read_model_url)
    ensure_schema(engine, CasesProjection(), stores.app.name)  # the bulletin reads both read models
    runner = ProjectionRunner(stores.app, engine, ProjectsProjection(), batch_size=997)  # batches cut projects
    runner.catch_up()
    data = bulletin(engine, "2020-04")
    p = data["parallel_approval"]
    f = month_figures((x.view() for x in scenario), "2020-04")
    assert p["prefecture_wide"] == {"projects": 522, "investment_yuan": "5869214700.00", "investment_yi": "58.69"}
    assert p["prefecture_level"] == {"projects": 11, "investment_yuan": "181963400.00", "investment_yi": "1.82"}
    assert p["counties"]["projects"] == f.counties.projects == 511
    assert {r["region"]: (r["projects"], r["investment_yuan"]) for r in p["by_county"]} == {
        region: (line.projects, f"{line.investment:.2f}") for region, line in f.by_region.items() if region != "阿坝州"
    }
    march = bulletin(engine, "2020-03")["parallel_approval"]["prefecture_wide"]
    assert march["projects"] == month_figures((x.view() for x in scenario), "2020-03").total.projects
    # One worklist row per open task, each naming who may act: the same tasks as the domain's own query.
    expected = set()
    for x in scenario:
        for w in open_tasks(x.view()):
            for a in w.assignments:
                tid = w.task_id if len(w.assignments) == 1 else f"{w.task_id}@{a.post}"
                expected.add((tid, a.department, a.post, a.region, w.due_at.replace(tzinfo=None) if w.due_at else None))
    with engine.connect() as conn:
        rows = {(r.task_id, r.department, r.post, r.region, r.due_at) for r in conn.execute(select(project_tasks))}
    assert rows == expected and len(rows) > 0
    before = snapshot(engine)
    runner.rebuild()
    assert snapshot(engine) == before


def test_cli_refuses_bad_projects_and_shows_one_at_80_columns(tmp_path: Path, scenario: list[Project]) -> None:
    """Refusals need no Temporal: the service checks every rule before it starts a workflow."""
    env = {**os.environ, "ONESEAL_DATA_DIR": str(tmp_path), "COLUMNS": "80", "ONESEAL_TEMPORAL_ADDRESS": "127.0.0.1:1",
           "ONESEAL_READ_YOUR_WRITES_TIMEOUT": "0.2"}  # fmt: skip
    app = CaseApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "events.db")}
    )
    ProjectCommands.over(app).record(scenario[:30])
    head = app.recorder.max_notification_id()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ONESEAL, *args], env=env, capture_output=True, text=True, timeout=120)

    base = [
        "parallel",
        "submit",
        "--name",
        "测试项目",
        "--owner",
        "测试单位",
        "--region",
        "汶川县",
        "--as",
        "513221-qt-a",
    ]
    for code, investment, expected in (
        ("2026-513221-47-01-00001", "1000000", "PROJECT_CODE_INVALID"),  # 23 characters
        ("2026-513221-47-01-000001", "-5", "PROJECT_INVESTMENT_INVALID"),
        ("2026-513221-47-01-000001", "一百万", "PROJECT_INVESTMENT_INVALID"),
    ):
        r = cli(*base, "--code", code, "--investment", investment)
        assert r.returncode == 2 and expected in r.stderr, (code, investment, r.stderr)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in r.stderr)  # a Chinese message for staff
    taken = next(x for x in scenario[:30] if x.region == "马尔康市")
    r = cli(*base[:-4], "--region", "马尔康市", "--as", "513201-qt-a", "--code", taken.code, "--investment", "1000000")
    assert r.returncode == 2 and "PROJECT_ALREADY_EXISTS" in r.stderr
    assert app.recorder.max_notification_id() == head  # nothing written
    # show: the stages, each department's opinion and deadline, readable at 80 columns.
    shown = next(x.view() for x in scenario if x.view().status == "in_progress" and x.view().stages[0].tasks)
    r = cli("parallel", "show", shown.code)
    assert r.returncode == 0, r.stderr
    assert all(cell_len(line) <= 80 for line in r.stdout.splitlines())  # Chinese characters are 2 cells
    s = shown.stages[0]
    for t in s.tasks:
        assert t.department[:6] in r.stdout and t.due_day in r.stdout
    assert "立项用地规划许可" in r.stdout and "办理时间线" in r.stdout
    listed = cli("parallel", "list", "--region", "阿坝州", "--json")
    assert listed.returncode == 0 and {p["region"] for p in json.loads(listed.stdout)} == {"阿坝州"}
    # Every bulletin format carries the section.
    engine = make_engine(f"sqlite:///{tmp_path / 'read_models.db'}")
    data = bulletin(engine, "2020-04")
    assert "●全州并联审批工作情况" in str(render(data, "md")) and "全州并联审批工作情况" in str(render(data, "html"))
    assert str(render(data, "csv")).splitlines()[-1].startswith("parallel_approval,")
    assert json.loads(str(render(data, "json")))["parallel_approval"]["prefecture_wide"]["projects"] >= 1
    assert bytes(render(data, "xlsx"))[:2] == b"PK"
