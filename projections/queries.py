"""Read-side queries for lists and worklists: they read the read models, never Temporal or the raw store.

Results are typed rows (``CaseRow``, ``WorkItem``, ``Page``), times aware UTC datetimes.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, Table, and_, func, literal_column, or_, select, union_all

from projections.project_tables import project_tasks
from projections.runner import ReadModelTimeout, wait_for_position
from projections.tables import case_facts, case_tasks, worklist_done
from projections.transfer_tables import transfer_tasks

# Every process's open-task table (same shape, ``projections.tables.task_table``); the worklist is their union.
TASK_TABLES: list[Table] = [case_tasks, project_tasks, transfer_tasks]

T = TypeVar("T")


def _aware(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in " T":
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class CaseRow:
    """One case in a list: what it is, where it stands, who acts next."""

    case_no: str
    matter_code: str
    matter_name: str
    matter_kind: str
    department: str
    level: str
    region: str
    applicant: str
    status: str
    submitted_at: datetime
    accepted_at: datetime | None
    completed_at: datetime | None
    promised_deadline: datetime | None
    current_task: str | None
    task_department: str | None
    task_post: str | None
    warned: bool
    overdue: bool
    imported: bool
    demo: bool
    deadline_provisional: bool

    @classmethod
    def of(cls, row: Any) -> CaseRow:
        m = row._mapping
        return cls(**{f: _aware(m[f]) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class WorkItem:
    """One open task of a post (AB岗: holder and backup see the same list), of any process."""

    task_id: str
    kind: str
    ref: str
    title: str
    task: str
    label: str
    department: str
    post: str
    region: str
    opened_at: datetime
    due_at: datetime | None
    priority: int  # 0 normal, 1 warned, 2 overdue

    @classmethod
    def of(cls, row: Any) -> WorkItem:
        m = row._mapping
        return cls(**{f: _aware(m[f]) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    next_cursor: str | None = None


@dataclass(frozen=True)
class CaseQuery:
    """Filters of a case search; every one optional. ``cursor`` continues a previous page."""

    case_no: str | None = None  # prefix
    applicant: str | None = None  # substring
    matter_code: str | None = None
    region: str | None = None
    department: str | None = None
    statuses: tuple[str, ...] = ()
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    overdue: bool | None = None
    include_demo: bool = True
    regions: tuple[str, ...] = ()  # a user's scope: only these regions (empty: no limit)
    departments: tuple[str, ...] = ()  # … and only these departments (empty: no limit)
    limit: int = 200
    cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _cursor(row: CaseRow) -> str:
    key = f"{row.submitted_at.replace(tzinfo=None).isoformat(sep=' ', timespec='microseconds')}|{row.case_no}"
    return base64.urlsafe_b64encode(key.encode()).decode()


def search_cases(engine: Engine, q: CaseQuery) -> Page[CaseRow]:
    """Newest submissions first; a stable cursor (submission time, case number) pages through."""
    c = case_facts.c
    cond = []
    if q.case_no:
        cond.append(c.case_no.startswith(q.case_no, autoescape=True))
    if q.applicant:
        cond.append(c.applicant.contains(q.applicant, autoescape=True))
    if q.matter_code:
        cond.append(c.matter_code == q.matter_code)
    if q.region:
        cond.append(c.region == q.region)
    if q.department:
        cond.append(c.department == q.department)
    if q.statuses:
        cond.append(c.status.in_(q.statuses))
    if q.submitted_from:
        cond.append(c.submitted_at >= q.submitted_from.astimezone(UTC).replace(tzinfo=None))
    if q.submitted_to:
        cond.append(c.submitted_at < q.submitted_to.astimezone(UTC).replace(tzinfo=None))
    if q.overdue is not None:
        cond.append(c.overdue.is_(q.overdue))
    if not q.include_demo:
        cond.append(c.demo.is_(False))
    if q.regions:
        cond.append(c.region.in_(q.regions))
    if q.departments:
        cond.append(c.department.in_(q.departments))
    where = and_(*cond) if cond else and_(True)
    page = select(case_facts).where(where)
    if q.cursor:
        try:
            at_text, case_no = base64.urlsafe_b64decode(q.cursor.encode()).decode().split("|", 1)
            at = datetime.fromisoformat(at_text)
        except ValueError:
            from domain.errors import InvalidValue

            raise InvalidValue("分页游标无效", field="cursor") from None
        page = page.where(or_(c.submitted_at < at, and_(c.submitted_at == at, c.case_no < case_no)))
    page = page.order_by(c.submitted_at.desc(), c.case_no.desc()).limit(q.limit + 1)
    with engine.connect() as conn:
        rows = [CaseRow.of(r) for r in conn.execute(page)]
        total = int(conn.execute(select(func.count()).select_from(case_facts).where(where)).scalar_one())
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return Page(rows, total, _cursor(rows[-1]) if more and rows else None)


def worklist_for(engine: Engine, department: str, post: str, region: str, limit: int = 200) -> Page[WorkItem]:
    """Open tasks of a post across every process, most urgent first (overdue, warned, then by due time)."""
    cols = [c.name for c in WorkItem.__dataclass_fields__.values()]  # type: ignore[attr-defined]
    parts = [
        select(*(t.c[c] for c in cols)).where(t.c.department == department, t.c.post == post, t.c.region == region)
        for t in TASK_TABLES
    ]
    mine = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    q = (
        select(mine)
        .order_by(
            mine.c.priority.desc(), mine.c.due_at.is_(None), mine.c.due_at, mine.c.opened_at, literal_column("task_id")
        )
        .limit(limit)
    )
    with engine.connect() as conn:
        items = [WorkItem.of(r) for r in conn.execute(q)]
        total = int(conn.execute(select(func.count()).select_from(mine)).scalar_one())
    return Page(items, total)


def case_where(engine: Engine, case_no: str) -> tuple[str, str] | None:
    """A case's region and department as the lists know them (None: not projected yet)."""
    q = select(case_facts.c.region, case_facts.c.department).where(case_facts.c.case_no == case_no)
    with engine.connect() as conn:
        row = conn.execute(q).first()
    return (str(row[0]), str(row[1])) if row else None


def inbox_for(
    engine: Engine, department: str, post: str, region: str, user_id: str, limit: int = 200
) -> Page[WorkItem]:
    """The post's open tasks on cases this person already worked on (e.g. a supplement arriving for the
    clerk who issued the notice), most urgent first."""
    mine = select(worklist_done.c.case_no).where(worklist_done.c.done_by == user_id)
    cols = [c.name for c in WorkItem.__dataclass_fields__.values()]  # type: ignore[attr-defined]
    t = case_tasks
    where = and_(t.c.department == department, t.c.post == post, t.c.region == region, t.c.ref.in_(mine))
    q = (
        select(*(t.c[c] for c in cols))
        .where(where)
        .order_by(t.c.priority.desc(), t.c.due_at.is_(None), t.c.due_at, t.c.opened_at, t.c.task_id)
        .limit(limit)
    )
    with engine.connect() as conn:
        items = [WorkItem.of(r) for r in conn.execute(q)]
        total = int(conn.execute(select(func.count()).select_from(t).where(where)).scalar_one())
    return Page(items, total)


@dataclass(frozen=True)
class DoneItem:
    """A task someone finished: which case, what, when, with what outcome."""

    case_no: str
    task: str
    department: str
    post: str
    region: str
    opened_at: datetime
    done_at: datetime
    done_by: str
    outcome: str

    @classmethod
    def of(cls, row: Any) -> DoneItem:
        m = row._mapping
        return cls(**{f: _aware(m[f]) for f in cls.__dataclass_fields__})


def done_by(engine: Engine, user_id: str, limit: int = 200) -> Page[DoneItem]:
    """The tasks a person finished, newest first."""
    d = worklist_done.c
    cols = [d[f] for f in DoneItem.__dataclass_fields__]
    q = select(*cols).where(d.done_by == user_id).order_by(d.done_at.desc(), d.id.desc()).limit(limit)
    with engine.connect() as conn:
        items = [DoneItem.of(r) for r in conn.execute(q)]
        total = int(
            conn.execute(select(func.count()).select_from(worklist_done).where(d.done_by == user_id)).scalar_one()
        )
    return Page(items, total)


def provisional_open_cases(engine: Engine) -> list[str]:
    """Open cases whose deadline was counted on a year without published holidays."""
    c = case_facts.c
    q = select(c.case_no).where(
        c.deadline_provisional.is_(True), c.status.not_in(("completed", "refused", "withdrawn"))
    )
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(q)]


def open_imported_cases(engine: Engine, limit: int | None = None) -> list[str]:
    """Legacy cases still open that no workflow has taken over yet."""
    c = case_facts.c
    q = (
        select(c.case_no)
        .where(c.imported.is_(True), c.current_task.is_(None), c.status.in_(("submitted", "under_review")))
        .order_by(c.submitted_at)
    )
    if limit:
        q = q.limit(limit)
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(q)]


def foreign_cases(engine: Engine, own_batches: tuple[str, ...]) -> int:
    """Cases neither driven as a demonstration nor loaded by one of ``own_batches`` (a scenario's)."""
    c = case_facts.c
    mine = or_(c.demo.is_(True), and_(c.imported.is_(True), c.import_batch.in_(own_batches)))
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(case_facts).where(~mine)).scalar_one())


def wait_for_case(engine: Engine, notification_id: int | None, case_no: str, version: int, timeout: float) -> None:
    """Read-your-writes: return once the read models show what this step just saved."""
    if notification_id:
        wait_for_position(engine, "cases", int(notification_id), timeout)
        return
    deadline = time.monotonic() + timeout
    q = select(case_facts.c.version).where(case_facts.c.case_no == case_no)
    while True:
        with engine.connect() as conn:
            found = conn.execute(q).scalar_one_or_none()
        if found is not None and found >= version:
            return
        if time.monotonic() > deadline:
            raise ReadModelTimeout(
                f"读模型在 {timeout:.0f} 秒内未显示办件「{case_no}」的最新状态：投影进程是否在运行？"
            )
        time.sleep(0.05)


def monthly_statistics(
    engine: Engine, month: str, *, region: str | None = None, include_demo: bool = False
) -> list[dict[str, Any]]:
    """Month × level × region × department × matter kind: the counters of ``service_stats`` plus the
    cases still open, and open past their promised deadline, at the end of the month (Beijing time).

    Open/overdue at month end are computed from ``case_facts`` as it stands now; a deadline moved by
    a suspension that started after the month ended is taken as it is now (documented limitation)."""
    from sqlalchemy import case

    from projections.tables import STAT_COUNTERS, service_stats

    year, mon = int(month[:4]), int(month[5:7])
    end_local = datetime(year + (mon == 12), mon % 12 + 1, 1)
    end = (end_local.replace(tzinfo=UTC) - timedelta(hours=8)).replace(tzinfo=None)  # Beijing midnight in UTC
    keys = ("level", "region", "department", "matter_kind")
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    s = service_stats.c
    q = (
        select(*(s[k] for k in keys), *(func.sum(s[c]) for c in STAT_COUNTERS))
        .where(s.month == month)
        .group_by(*(s[k] for k in keys))
    )
    c = case_facts.c
    still_open = and_(
        c.accepted_at < end,
        or_(c.completed_at.is_(None), c.completed_at >= end),
        or_(c.closed_at.is_(None), c.closed_at >= end),
    )
    o = (
        select(*(c[k] for k in keys), func.count(),
               func.sum(case((and_(c.promised_deadline.is_not(None), c.promised_deadline < end), 1), else_=0)))
        .where(still_open)
        .group_by(*(c[k] for k in keys))
    )  # fmt: skip
    if not include_demo:
        q, o = q.where(s.demo.is_(False)), o.where(c.demo.is_(False))
    if region:
        q, o = q.where(s.region == region), o.where(c.region == region)
    with engine.connect() as conn:
        for r in conn.execute(q):
            out[tuple(r[:4])] = {**dict(zip(keys, r[:4], strict=True)),
                                 **dict(zip(STAT_COUNTERS, (int(v or 0) for v in r[4:]), strict=True)),
                                 "open_at_month_end": 0, "overdue_at_month_end": 0}  # fmt: skip
        for r in conn.execute(o):
            row = out.setdefault(tuple(r[:4]), {**dict(zip(keys, r[:4], strict=True)),
                                                **dict.fromkeys(STAT_COUNTERS, 0)})  # fmt: skip
            row["open_at_month_end"], row["overdue_at_month_end"] = int(r[4]), int(r[5] or 0)
    return [out[k] for k in sorted(out)]
