"""The ``cases`` projection: case facts, monthly service statistics and the worklist, from case events.

Applied a batch at a time: the rows of the cases a batch touches are loaded once, every event is
applied in order in memory, and the rows, the statistics increments and the tracking position are
written in ONE transaction by the runner, so a crash at any point neither loses nor double-counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from domain.calendar import SHANGHAI
from projections.tables import CASES_TABLES, STAT_COUNTERS, case_facts, service_stats, worklist, worklist_done

NAME = "cases"
TASK_BY_POST = {"front_desk": "intake", "reviewer": "review", "output_window": "delivery"}
StatKey = tuple[str, str, str, str, str]


def naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def month_of(moment: datetime) -> str:
    """The bulletin's month: cut in Beijing time."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(SHANGHAI).strftime("%Y-%m")


@dataclass
class BatchChanges:
    rows: dict[str, dict[str, Any]]
    stats: dict[StatKey, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(STAT_COUNTERS, 0))
    )
    done: list[dict[str, Any]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)


class CasesProjection:
    name = NAME
    tables = CASES_TABLES
    topics_prefix = ("domain.case:Case.", "domain.history:HistoricalCase.")

    # ---- batch I/O ----------------------------------------------------------------------------

    def apply_batch(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
        """Apply decoded ``(notification_id, event)`` pairs inside the caller's transaction."""
        ids = {e.originator_id.hex for _, e in events}
        rows: dict[str, dict[str, Any]] = {}
        id_list = list(ids)
        for i in range(0, len(id_list), 500):
            for r in conn.execute(select(case_facts).where(case_facts.c.case_id.in_(id_list[i : i + 500]))):
                rows[r.case_id] = dict(r._mapping)
        changes = BatchChanges(rows=rows)
        for nid, e in events:
            self.apply(changes, nid, e)
        self._write(conn, changes)

    def _write(self, conn: Connection, ch: BatchChanges) -> None:
        if not ch.touched:
            return
        rows = [ch.rows[i] for i in ch.touched]
        ins = _insert_for(conn)
        stmt = ins(case_facts)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[case_facts.c.case_id],
                set_={c.name: stmt.excluded[c.name] for c in case_facts.c if c.name != "case_id"},
            ),
            rows,
        )
        conn.execute(
            delete(worklist).where(worklist.c.case_id.in_(bindparam("ids", expanding=True))), {"ids": list(ch.touched)}
        )
        open_tasks = [
            {
                "case_id": r["case_id"],
                "case_no": r["case_no"],
                "task": r["current_task"],
                "department": r["task_department"],
                "post": r["task_post"],
                "region": r["region"],
                "matter_name": r["matter_name"],
                "assignee": r["assignee"],
                "opened_at": r["task_opened_at"],
                "due_at": r["task_due_at"],
                "priority": 2 if r["overdue"] else 1 if r["warned"] else 0,
            }
            for r in rows
            if r["current_task"]
        ]
        if open_tasks:
            conn.execute(insert(worklist), open_tasks)
        if ch.done:
            conn.execute(insert(worklist_done), ch.done)
        if ch.stats:
            stats_rows = [
                {"month": k[0], "level": k[1], "region": k[2], "department": k[3], "matter_kind": k[4], **v}
                for k, v in ch.stats.items()
            ]
            s = ins(service_stats)
            conn.execute(
                s.on_conflict_do_update(
                    index_elements=[
                        service_stats.c[n] for n in ("month", "level", "region", "department", "matter_kind")
                    ],
                    set_={n: service_stats.c[n] + s.excluded[n] for n in STAT_COUNTERS},
                ),
                stats_rows,
            )

    # ---- one event ----------------------------------------------------------------------------

    def apply(self, ch: BatchChanges, nid: int, e: Any) -> None:
        cid = e.originator_id.hex
        kind = type(e).__name__
        if kind == "Imported":
            ch.rows[cid] = self._imported(ch, cid, e)
            ch.touched.add(cid)
            return
        if kind == "Submitted":
            row = ch.rows[cid] = {
                "case_id": cid,
                "case_no": e.case_no,
                "matter_code": e.matter_code,
                "matter_name": e.matter_name,
                "matter_kind": e.matter_kind,
                "department": e.department,
                "level": e.level,
                "region": e.region,
                "applicant": e.applicant,
                "submitted_at": naive_utc(e.at),
                "accepted_at": None,
                "decided_at": None,
                "completed_at": None,
                "closed_at": None,
                "accepted_month": None,
                "completed_month": None,
                "promised_deadline": None,
                "suspended_days": 0,
                "suspended_since": None,
                "on_time": None,
                "result": None,
                "status": "submitted",
                "current_task": None,
                "task_department": None,
                "task_post": None,
                "task_opened_at": None,
                "task_due_at": None,
                "assignee": None,
                "warned": False,
                "overdue": False,
                "imported": False,
                "version": e.originator_version,
            }
            self._open_task(row, e.awaiting, e.at, e.deemed_acceptance_at)
            ch.touched.add(cid)
            return
        row = ch.rows.get(cid)
        if row is None or e.originator_version <= row["version"]:
            return  # already applied (a re-delivered event changes nothing)
        row["version"] = e.originator_version
        ch.touched.add(cid)
        at = e.at
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(ch, nid, row, e, at)

    def _close_task(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, outcome: str) -> None:
        if not row["current_task"]:
            return
        ch.done.append(
            {
                "case_id": row["case_id"],
                "case_no": row["case_no"],
                "task": row["current_task"],
                "department": row["task_department"],
                "post": row["task_post"],
                "region": row["region"],
                "opened_at": row["task_opened_at"],
                "done_at": naive_utc(e.at),
                "done_by": e.actor.get("user_id", ""),
                "outcome": outcome,
                "notification_id": nid,
            }
        )
        row.update(
            current_task=None,
            task_department=None,
            task_post=None,
            task_opened_at=None,
            task_due_at=None,
            assignee=None,
        )

    @staticmethod
    def _open_task(row: dict[str, Any], awaiting: dict[str, str] | None, at: datetime, due: datetime | None) -> None:
        if not awaiting:
            return
        row.update(
            current_task=TASK_BY_POST.get(awaiting["post"], awaiting["post"]),
            task_department=awaiting["department"],
            task_post=awaiting["post"],
            task_opened_at=naive_utc(at),
            task_due_at=naive_utc(due),
            assignee=None,
        )

    @staticmethod
    def _count(ch: BatchChanges, row: dict[str, Any], month: str, counter: str) -> None:
        key = (month, row["level"], row["region"], row["department"], row["matter_kind"])
        ch.stats[key][counter] += 1

    def _on_CorrectionNoticeIssued(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        self._close_task(ch, nid, row, e, "notice")
        row["status"] = "awaiting_correction"

    def _on_Supplemented(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        row["status"] = "submitted"
        self._open_task(row, e.awaiting, at, e.deemed_acceptance_at)

    def _on_Accepted(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        self._close_task(ch, nid, row, e, "deemed_accept" if e.deemed else "accept")
        month = month_of(at)
        row.update(
            status="under_review",
            accepted_at=naive_utc(at),
            accepted_month=month,
            promised_deadline=naive_utc(e.promised_deadline),
        )
        self._count(ch, row, month, "accepted")
        self._open_task(row, e.awaiting, at, e.promised_deadline)

    def _on_AcceptanceRefused(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        self._close_task(ch, nid, row, e, "refuse")
        row.update(status="refused", result="refused", closed_at=naive_utc(at))
        self._count(ch, row, month_of(at), "refused")

    def _on_ClockSuspended(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        row.update(status="suspended", suspended_since=naive_utc(at), task_due_at=None)

    def _on_ClockResumed(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        deadline = naive_utc(e.promised_deadline)
        row.update(
            status="under_review",
            suspended_since=None,
            suspended_days=row["suspended_days"] + e.suspended_days,
            promised_deadline=deadline,
            task_due_at=deadline if row["current_task"] else None,
        )

    def _on_Decided(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        self._close_task(ch, nid, row, e, e.outcome)
        row.update(status="decided", decided_at=naive_utc(at), result="granted" if e.outcome == "grant" else "denied")
        self._open_task(row, e.awaiting, at, row["promised_deadline"])

    def _on_Delivered(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        self._close_task(ch, nid, row, e, "deliver")
        row["status"] = "delivered"

    def _on_Completed(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        month = month_of(at)
        row.update(status="completed", completed_at=naive_utc(at), completed_month=month, on_time=e.on_time)
        self._count_completion(ch, row, month)

    def _on_Withdrawn(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        self._close_task(ch, nid, row, e, "withdraw")
        row.update(status="withdrawn", result="withdrawn", closed_at=naive_utc(at), suspended_since=None)
        self._count(ch, row, month_of(at), "withdrawn")

    def _on_DeadlineWarned(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        row["warned"] = True

    def _on_BecameOverdue(self, ch: BatchChanges, nid: int, row: dict[str, Any], e: Any, at: datetime) -> None:
        row["overdue"] = True

    def _count_completion(self, ch: BatchChanges, row: dict[str, Any], month: str) -> None:
        self._count(ch, row, month, "completed")
        deadline, done = row["promised_deadline"], row["completed_at"]
        if deadline is None or done <= deadline:
            self._count(ch, row, month, "completed_on_time")
            # Early: done on a day before the deadline's last day (the deadline is that day's midnight).
            if deadline is None or done < deadline - timedelta(days=1):
                self._count(ch, row, month, "completed_early")
        else:
            self._count(ch, row, month, "completed_overdue")

    def _imported(self, ch: BatchChanges, cid: str, e: Any) -> dict[str, Any]:
        accepted, completed = naive_utc(e.accepted_at), naive_utc(e.completed_at)
        result = e.result or None
        status = {"granted": "completed", "denied": "completed", "refused": "refused", "withdrawn": "withdrawn"}.get(
            e.result, "under_review" if accepted else "submitted"
        )
        done = result in ("granted", "denied")
        deadline = naive_utc(e.promised_deadline)
        row = {
            "case_id": cid,
            "case_no": e.case_no,
            "matter_code": e.matter_code or "",
            "matter_name": e.matter_name,
            "matter_kind": e.matter_kind,
            "department": e.department,
            "level": e.level,
            "region": e.region,
            "applicant": e.applicant,
            "submitted_at": naive_utc(e.submitted_at),
            "accepted_at": accepted,
            "decided_at": completed if done else None,
            "completed_at": completed if done else None,
            "closed_at": completed if not done else None,
            "accepted_month": month_of(e.accepted_at) if accepted else None,
            "completed_month": month_of(e.completed_at) if done else None,
            "promised_deadline": deadline,
            "suspended_days": 0,
            "suspended_since": None,
            "on_time": (completed <= deadline if deadline else True) if done and completed else None,
            "result": result,
            "status": status,
            "current_task": None,
            "task_department": None,
            "task_post": None,
            "task_opened_at": None,
            "task_due_at": None,
            "assignee": None,
            "warned": False,
            "overdue": bool(done and deadline and completed and completed > deadline),
            "imported": True,
            "version": e.originator_version,
        }
        if accepted:
            self._count(ch, row, row["accepted_month"], "accepted")
        if done:
            self._count_completion(ch, row, row["completed_month"])
        elif result in ("refused", "withdrawn") and completed:
            self._count(ch, row, month_of(e.completed_at), result)
        return row


def _insert_for(conn: Connection):  # type: ignore[no-untyped-def]
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
