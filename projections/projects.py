"""The ``projects`` projection: project facts, the months each project was handled in, and one worklist
row per open TASK (each reviewing department's opinion, 督办 of the silent ones, the lead's decision).

It follows ``Project`` events only (other processes' events in the shared log are passed over) and is
applied a batch at a time in the runner's transaction, like the cases projection. Each project row keeps
a small JSON state (the stage leads, the open stage's department tasks) from which its task rows are
rewritten; ``tests/integration/test_parallel_projection.py`` checks them against the domain's own
``open_tasks`` for every project of the April 2020 scenario.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite

from domain.parallel.project import Project
from domain.parallel.statistics import month_of
from domain.parallel.values import Stage, format_yi, from_fen
from domain.parallel.view import TaskKind, task_id, who_acts
from projections.decoder import EventDecoder, StoredEvent, StoredRow
from projections.project_tables import PROJECTS_TABLES, project_facts, project_months, project_tasks
from projections.queries import Page
from projections.runner import ReadModelTimeout, wait_for_position

NAME = "projects"
FACT_COLUMNS = tuple(c.name for c in project_facts.c)
Row = dict[str, Any]


def _dt(value: Any) -> datetime | None:
    """A transcoded datetime (``{"_type_": …, "_data_": iso}``), iso text or a datetime → naive UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(value["_data_"] if isinstance(value, dict) else value)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _aware(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass
class _Batch:
    rows: dict[str, Row]
    stored: set[str]
    touched: set[str]
    months: dict[tuple[str, str], tuple[Any, ...]]


Handler = Callable[[_Batch, StoredEvent, Row, dict[str, Any], dict[str, Any]], None]


class ProjectsProjection:
    name = NAME
    tables = PROJECTS_TABLES

    def __init__(self) -> None:
        P = Project
        self._handlers: dict[type[Any], Handler] = {
            P.StageAccepted: self._on_accepted,
            P.OpinionGiven: self._on_answered,
            P.DeemedConsent: self._on_answered,
            P.CorrectionRequested: self._on_correction,
            P.CorrectionNoticeIssued: self._on_notice,
            P.Supplemented: self._on_supplemented,
            P.Escalated: self._on_escalated,
            P.StageDecided: self._on_decided,
            P.ReformTargetWarned: self._on_warned,
            P.ReformTargetOverdue: self._on_overdue,
        }
        self.decoder = EventDecoder(follows=(Project,), handled=[P.Registered, *self._handlers])

    def decode(self, notification: Any) -> StoredEvent | None:
        return self.decoder.decode(notification)

    def decode_rows(self, rows: Sequence[StoredRow]) -> list[StoredEvent]:
        return self.decoder.decode_rows(rows)

    # ---- batch I/O ----------------------------------------------------------------------------

    def apply_batch(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        ids = {e.aggregate_id for e in events}
        rows: dict[str, Row] = {}
        id_list = list(ids)
        for i in range(0, len(id_list), 500):
            for r in conn.execute(select(project_facts).where(project_facts.c.project_id.in_(id_list[i : i + 500]))):
                rows[r.project_id] = dict(r._mapping)
        batch = _Batch(rows=rows, stored=set(rows), touched=set(), months={})
        for e in events:
            self.apply(batch, e)
        self._write(conn, batch)

    def _write(self, conn: Connection, b: _Batch) -> None:
        if not b.touched:
            return
        ins = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        rows = [b.rows[i] for i in sorted(b.touched)]
        new = [r for r in rows if r["project_id"] not in b.stored]
        old = [r for r in rows if r["project_id"] in b.stored]
        if new:
            conn.execute(project_facts.insert(), new)
        for r in old:
            conn.execute(
                project_facts.update()
                .where(project_facts.c.project_id == r["project_id"])
                .values({k: v for k, v in r.items() if k != "project_id"})
            )
        codes = [r["code"] for r in old]
        for i in range(0, len(codes), 500):
            conn.execute(delete(project_tasks).where(project_tasks.c.ref.in_(codes[i : i + 500])))
        tasks = [t for r in rows for t in task_rows(r)]
        if tasks:
            conn.execute(project_tasks.insert(), tasks)
        if b.months:
            cols = ("project_id", "month", "level", "region", "investment_fen", "demo")
            stmt = ins(project_months).on_conflict_do_nothing(index_elements=["project_id", "month"])
            conn.execute(stmt, [dict(zip(cols, v, strict=True)) for v in b.months.values()])

    # ---- one event ----------------------------------------------------------------------------

    def apply(self, b: _Batch, e: StoredEvent) -> None:
        s = e.state
        pid = e.aggregate_id
        if e.type is Project.Registered:
            if pid in b.rows:
                return  # already applied
            b.rows[pid] = self._registered(e, s)
            b.touched.add(pid)
            return
        row = b.rows.get(pid)
        if row is None or e.version <= row["version"]:
            return  # already applied: a re-delivered event changes nothing
        row["version"] = e.version
        b.touched.add(pid)
        state = json.loads(row["state"])
        self._handlers[e.type](b, e, row, s, state)
        row["state"] = json.dumps(state, ensure_ascii=False, sort_keys=True)

    @staticmethod
    def _registered(e: StoredEvent, s: dict[str, Any]) -> Row:
        leads = {p["stage"]: p["lead_department"] for p in s["stages"]}
        return {
            "project_id": e.aggregate_id,
            "code": s["code"],
            "name": s["name"],
            "owner": s["owner"],
            "investment_fen": int(s["investment_fen"]),
            "level": s["level"],
            "region": s["region"],
            "status": "registered",
            "stage": None,
            "stage_status": None,
            "lead_department": None,
            "registered_at": _dt(s["at"]),
            "stage_opened_at": None,
            "stage_due_at": None,
            "stages_decided": 0,
            "last_decided_at": None,
            "reform_warned": False,
            "reform_overdue": False,
            "demo": bool(s.get("demo", False)),
            "batch": s.get("batch") or "",
            "state": json.dumps({"leads": leads, "tasks": {}}, ensure_ascii=False, sort_keys=True),
            "version": e.version,
        }

    def _on_accepted(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any], st: dict[str, Any]) -> None:
        at = _dt(s["at"])
        row.update(
            status="in_progress",
            stage=s["stage"],
            stage_status="under_review",
            lead_department=st["leads"][s["stage"]],
            stage_opened_at=at,
            stage_due_at=_dt(s["due_at"]),
        )
        st["tasks"] = {
            t["department"]: {"status": "reviewing", "due_at": _iso(_dt(t["due_at"])), "opened_at": _iso(at)}
            for t in s["tasks"]
        }
        st["decide_opened_at"] = None

    def _on_answered(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any], st: dict[str, Any]) -> None:
        st["tasks"][s["department"]].update(status="answered", escalated_at=None)
        if all(t["status"] == "answered" for t in st["tasks"].values()):
            st["decide_opened_at"] = _iso(_dt(s["at"]))

    def _on_correction(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any], st: dict[str, Any]) -> None:
        st["tasks"][s["department"]].update(status="correction", escalated_at=None)

    def _on_notice(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any], st: dict[str, Any]) -> None:
        row["stage_status"] = "suspended"

    def _on_supplemented(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any], st: dict[str, Any]) -> None:
        at = _iso(_dt(s["at"]))
        for t in s["tasks"]:
            st["tasks"][t["department"]] = {"status": "reviewing", "due_at": _iso(_dt(t["due_at"])), "opened_at": at}
        row.update(stage_status="under_review", stage_due_at=_dt(s["due_at"]))

    def _on_escalated(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any], st: dict[str, Any]) -> None:
        st["tasks"][s["department"]]["escalated_at"] = _iso(_dt(s["at"]))

    def _on_decided(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any], st: dict[str, Any]) -> None:
        at = _dt(s["at"])
        assert at is not None
        denied = s["outcome"] == "denied"
        row.update(
            stage_status=s["outcome"],
            stages_decided=row["stages_decided"] + 1,
            last_decided_at=at,
            stage_due_at=None,
        )
        if denied:
            row["status"] = "denied"
        elif s["stage"] == Stage.COMPLETION_ACCEPTANCE.value:
            row["status"] = "completed"
        st["tasks"], st["decide_opened_at"] = {}, None
        month = month_of(at.replace(tzinfo=UTC))
        b.months.setdefault(
            (row["project_id"], month),
            (row["project_id"], month, row["level"], row["region"], row["investment_fen"], bool(row["demo"])),
        )

    def _on_warned(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any], st: dict[str, Any]) -> None:
        row["reform_warned"] = True

    def _on_overdue(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any], st: dict[str, Any]) -> None:
        row["reform_overdue"] = True


def task_rows(row: Row) -> list[Row]:
    """The open staff tasks of a project row: the same tasks as ``domain.parallel.view.open_tasks``."""
    if row["status"] in ("completed", "denied") or row["stage_status"] != "under_review":
        return []
    st = json.loads(row["state"]) if isinstance(row["state"], str) else row["state"]
    stage, lead, region = Stage(row["stage"]), row["lead_department"], row["region"]
    base = 2 if row["reform_overdue"] else 1 if row["reform_warned"] else 0
    out: list[Row] = []

    def add(kind: TaskKind, department: str, opened: Any, due: Any, priority: int, reviewing: str = "") -> None:
        tid = task_id(row["code"], stage, kind, reviewing)
        assignments = who_acts(kind, region, lead, department)
        # 督办 names the department it chases: a supervisor may chase several in one project.
        label = f"{kind.label}·{stage.label}" + (f"·{reviewing}" if kind is TaskKind.SUPERVISE else "")
        label = label[:40]
        for a in assignments:
            out.append(
                {
                    "task_id": tid if len(assignments) == 1 else f"{tid}@{a.post}",
                    "kind": "project",
                    "ref": row["code"],
                    "title": row["name"],
                    "task": kind.value,
                    "label": label,
                    "department": a.department,
                    "post": a.post,
                    "region": a.region,
                    "assignee": None,
                    "opened_at": _dt(opened),
                    "due_at": _dt(due),
                    "priority": max(base, priority),
                }
            )

    tasks = st["tasks"]
    for department, t in tasks.items():
        if t["status"] == "reviewing":
            escalated = t.get("escalated_at")
            add(TaskKind.OPINION, department, t["opened_at"], t["due_at"], 2 if escalated else 0, department)
            if escalated:
                add(TaskKind.SUPERVISE, lead, escalated, None, 2, department)
    if tasks and all(t["status"] == "answered" for t in tasks.values()):
        due = row["stage_due_at"]
        add(TaskKind.DECIDE, lead, st.get("decide_opened_at") or row["stage_opened_at"], due, 0)
    return out


# ---- queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectRow:
    """One project in a list: what it is, where it stands."""

    code: str
    name: str
    owner: str
    investment_fen: int
    level: str
    region: str
    status: str
    stage: str | None
    stage_status: str | None
    lead_department: str | None
    registered_at: datetime
    stage_due_at: datetime | None
    stages_decided: int
    reform_warned: bool
    reform_overdue: bool
    demo: bool

    @property
    def investment(self) -> Decimal:
        return from_fen(self.investment_fen)

    @property
    def investment_yi(self) -> str:
        return format_yi(self.investment)


@dataclass(frozen=True)
class ProjectQuery:
    region: str | None = None
    statuses: tuple[str, ...] = ()
    include_demo: bool = True
    limit: int = 200


def search_projects(engine: Engine, q: ProjectQuery) -> Page[ProjectRow]:
    """Newest registrations first."""
    c = project_facts.c
    cond = []
    if q.region:
        cond.append(c.region == q.region)
    if q.statuses:
        cond.append(c.status.in_(q.statuses))
    if not q.include_demo:
        cond.append(c.demo.is_(False))
    where = and_(True, *cond)
    fields = [f for f in ProjectRow.__dataclass_fields__]
    page = select(*(c[f] for f in fields)).where(where).order_by(c.registered_at.desc(), c.code).limit(q.limit)
    with engine.connect() as conn:
        items = [ProjectRow(**_plain(dict(zip(fields, r, strict=True)))) for r in conn.execute(page)]
        total = int(conn.execute(select(func.count()).select_from(project_facts).where(where)).scalar_one())
    return Page(items, total)


@dataclass(frozen=True)
class ParallelLine:
    """Projects handled in a month and their total investment, exact in fen."""

    projects: int = 0
    investment_fen: int = 0

    def plus(self, other: ParallelLine) -> ParallelLine:
        return ParallelLine(self.projects + other.projects, self.investment_fen + other.investment_fen)

    def to_json(self) -> dict[str, Any]:
        amount = from_fen(self.investment_fen)
        return {"projects": self.projects, "investment_yuan": f"{amount:.2f}", "investment_yi": format_yi(amount)}


def parallel_lines(
    engine: Engine, month: str, region: str | None = None, *, include_demo: bool = False
) -> dict[tuple[str, str], ParallelLine]:
    """(level, region) → projects handled in ``month`` and their investment (docs/bulletin.md)."""
    if not inspect(engine).has_table(project_months.name):
        return {}  # the projects projection never ran on this database: no project is known
    m = project_months.c
    q = (
        select(m.level, m.region, func.count(), func.sum(m.investment_fen))
        .where(m.month == month)
        .group_by(m.level, m.region)
    )
    if region:
        q = q.where(m.region == region)
    if not include_demo:
        q = q.where(m.demo.is_(False))
    with engine.connect() as conn:
        return {(lv, r): ParallelLine(int(n), int(fen or 0)) for lv, r, n, fen in conn.execute(q)}


def wait_for_project(engine: Engine, notification_id: int | None, code: str, version: int, timeout: float) -> None:
    """Read-your-writes: return once the projects read model shows what this step just saved."""
    if notification_id:
        wait_for_position(engine, NAME, int(notification_id), timeout)
        return
    deadline = time.monotonic() + timeout
    q = select(project_facts.c.version).where(project_facts.c.code == code)
    while True:
        with engine.connect() as conn:
            found = conn.execute(q).scalar_one_or_none()
        if found is not None and found >= version:
            return
        if time.monotonic() > deadline:
            raise ReadModelTimeout(f"读模型在 {timeout:.0f} 秒内未显示项目「{code}」的最新状态：投影进程是否在运行？")
        time.sleep(0.05)


def foreign_projects(engine: Engine, own_batches: tuple[str, ...]) -> int:
    """Projects neither driven as a demonstration nor loaded by one of ``own_batches`` (a scenario's)."""
    c = project_facts.c
    q = select(func.count()).select_from(project_facts).where(c.demo.is_(False), c.batch.not_in(own_batches))
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def open_loaded_projects(engine: Engine, batch: str) -> list[str]:
    """Projects a scenario loaded that are still open (their workflow takes them over: adopt)."""
    c = project_facts.c
    q = select(c.code).where(c.batch == batch, c.status.in_(("registered", "in_progress"))).order_by(c.code)
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(q)]
