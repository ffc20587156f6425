"""Read-side queries for lists and worklists: they read the read models, never Temporal or the raw store."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from projections.runner import ReadModelTimeout, wait_for_position
from projections.tables import case_facts, projection_tracking, worklist


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.replace(tzinfo=UTC).isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def list_cases(engine: Engine, *, status: str | None = None, region: str | None = None,
               limit: int = 200) -> list[dict[str, Any]]:  # fmt: skip
    q = select(case_facts).order_by(case_facts.c.submitted_at.desc()).limit(limit)
    if status:
        q = q.where(case_facts.c.status == status)
    if region:
        q = q.where(case_facts.c.region == region)
    with engine.connect() as conn:
        return [_aware(dict(r._mapping)) for r in conn.execute(q)]


def worklist_for(engine: Engine, department: str, post: str, region: str, limit: int = 200) -> list[dict[str, Any]]:
    """Open tasks of a post (AB岗: holder and backup see the same list), most urgent first."""
    w = worklist.c
    q = (
        select(worklist)
        .where(w.department == department, w.post == post, w.region == region)
        .order_by(w.priority.desc(), w.due_at.is_(None), w.due_at, w.opened_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_aware(dict(r._mapping)) for r in conn.execute(q)]


def projection_positions(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {r.name: int(r.notification_id) for r in conn.execute(select(projection_tracking))}


def wait_for_case(engine: Engine, case: dict[str, Any], timeout: float = 10.0) -> None:
    """Read-your-writes: return once the read models show what this step just saved."""
    nid = case.get("notification_id")
    if nid:
        wait_for_position(engine, "cases", int(nid), timeout)
        return
    deadline = time.monotonic() + timeout
    q = select(case_facts.c.version).where(case_facts.c.case_no == case["case_no"])
    while True:
        with engine.connect() as conn:
            version = conn.execute(q).scalar_one_or_none()
        if version is not None and version >= int(case["version"]):
            return
        if time.monotonic() > deadline:
            raise ReadModelTimeout(
                f"读模型在 {timeout:.0f} 秒内未显示办件「{case['case_no']}」的最新状态：投影进程是否在运行？"
            )
        time.sleep(0.05)


def monthly_statistics(engine: Engine, month: str, *, region: str | None = None) -> list[dict[str, Any]]:
    """Month × level × region × department × matter kind: the counters of ``service_stats`` plus the
    cases still open, and open past their promised deadline, at the end of the month (Beijing time).

    Open/overdue at month end are computed from ``case_facts`` as it stands now; a deadline moved by
    a suspension that started after the month ended is taken as it is now (documented limitation)."""
    from sqlalchemy import and_, case, func, or_

    from projections.tables import STAT_COUNTERS, service_stats

    year, mon = int(month[:4]), int(month[5:7])
    end_local = datetime(year + (mon == 12), mon % 12 + 1, 1)
    end = (end_local.replace(tzinfo=UTC) - timedelta(hours=8)).replace(tzinfo=None)  # Beijing midnight in UTC
    keys = ("level", "region", "department", "matter_kind")
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    s = service_stats.c
    q = select(*(s[k] for k in keys), *(s[c] for c in STAT_COUNTERS)).where(s.month == month)
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
    if region:
        q, o = q.where(s.region == region), o.where(c.region == region)
    with engine.connect() as conn:
        for r in conn.execute(q):
            out[tuple(r[:4])] = {**dict(zip(keys, r[:4], strict=True)),
                                 **dict(zip(STAT_COUNTERS, (int(v) for v in r[4:]), strict=True)),
                                 "open_at_month_end": 0, "overdue_at_month_end": 0}  # fmt: skip
        for r in conn.execute(o):
            row = out.setdefault(tuple(r[:4]), {**dict(zip(keys, r[:4], strict=True)),
                                                **dict.fromkeys(STAT_COUNTERS, 0)})  # fmt: skip
            row["open_at_month_end"], row["overdue_at_month_end"] = int(r[4]), int(r[5] or 0)
    return [out[k] for k in sorted(out)]
