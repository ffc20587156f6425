"""The ``cases`` projection: case facts, monthly service statistics and the worklist, from case events.

Applied a batch at a time: the rows of the cases in a batch are loaded once, every event is applied
in order in memory, then the rows, the statistics increments and the finished tasks are written
with prepared ``executemany`` statements in the runner's transaction (which also moves the tracking
position), so a crash at any point neither loses nor double-counts. This is the hot path of
catch-up and rebuild, so it reads the stored JSON of each event directly (no domain objects) and
keeps times as naive-UTC strings ``YYYY-MM-DD HH:MM:SS[.ffffff]``, which sort like the times.
"""

from __future__ import annotations

import calendar as _calendar
import functools
import operator
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from domain.cases.case import Case
from domain.cases.legacy import HistoricalCase
from projections.decoder import EventDecoder, StoredEvent, StoredRow
from projections.tables import CASES_TABLES, STAT_COUNTERS, case_facts

NAME = "cases"
TASK_BY_POST = {"front_desk": "intake", "reviewer": "review", "output_window": "delivery"}
TASK_LABELS = {"intake": "受理", "review": "审查决定", "delivery": "出件"}
FACT_COLUMNS = tuple(c.name for c in case_facts.c)
_FACT_VALUES = operator.itemgetter(*FACT_COLUMNS)  # a row dict → its values in column order, in C
BOOL_COLUMNS = ("on_time", "warned", "overdue", "imported", "demo", "deadline_provisional")
StatKey = tuple[str, str, str, str, str, bool]
Row = dict[str, Any]


def ts(value: Any) -> str | None:
    """A transcoded datetime → naive-UTC text with microseconds, exactly as SQLAlchemy binds a
    ``DateTime`` on SQLite (so stored and bound times compare correctly); ``None`` stays ``None``."""
    if value is None:
        return None
    iso: str = value["_data_"] if isinstance(value, dict) else value
    if iso.endswith("+00:00") and len(iso) in (25, 32):  # what isoformat() of an aware UTC time gives
        text = iso[:-6].replace("T", " ")
        return text if len(text) == 26 else text + ".000000"
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


def month_of(utc_text: str) -> str:
    """The bulletin's month: cut in Beijing time (UTC+8, no daylight saving)."""
    return _month_of_hour(utc_text[:13])


@functools.lru_cache(maxsize=8192)
def _month_of_hour(hour: str) -> str:  # "YYYY-MM-DD HH": the month depends on nothing finer
    year, month = int(hour[:4]), int(hour[5:7])
    if int(hour[11:13]) >= 16 and int(hour[8:10]) == _calendar.monthrange(year, month)[1]:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}"


def minus_one_day(utc_text: str) -> str:
    return (datetime.fromisoformat(utc_text) - timedelta(days=1)).isoformat(sep=" ", timespec="microseconds")


@dataclass
class BatchChanges:
    rows: dict[str, Row]
    stats: dict[StatKey, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(STAT_COUNTERS, 0))
    )
    done: list[tuple[Any, ...]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    stored: set[str] = field(default_factory=set)  # rows that already exist in the table


_IDENTITY = ("case_no", "matter_code", "matter_name", "matter_kind", "department", "level", "region", "applicant")


def _new_row(e: StoredEvent, state: dict[str, Any], **values: Any) -> Row:
    """A case row as it starts: identity from the creating event, nothing happened yet, then ``values``."""
    row: Row = dict.fromkeys(FACT_COLUMNS)
    row.update({k: state[k] for k in _IDENTITY})
    row.update(
        case_id=e.aggregate_id,
        suspended_days=0,
        warned=False,
        overdue=False,
        demo=False,
        deadline_provisional=False,
        version=e.version,
    )
    row.update(values)
    return row


Handler = Callable[["BatchChanges", StoredEvent, Row, dict[str, Any], str], None]


class CasesProjection:
    name = NAME
    tables = CASES_TABLES

    def __init__(self) -> None:
        self._sql: dict[str, dict[str, str]] = {}
        C, H = Case, HistoricalCase
        self._handlers: dict[type[Any], Handler] = {
            C.CorrectionNoticeIssued: self._on_notice,
            C.Supplemented: self._on_supplemented,
            C.Accepted: self._on_accepted,
            C.AcceptanceRefused: self._on_refused,
            C.ClockSuspended: self._on_suspended,
            C.ClockResumed: self._on_resumed,
            C.Decided: self._on_decided,
            C.Delivered: self._on_delivered,
            C.Completed: self._on_completed,
            C.Withdrawn: self._on_withdrawn,
            C.DeadlineWarned: self._on_warned,
            C.BecameOverdue: self._on_overdue,
            C.DeadlineRecomputed: self._on_recomputed,
            C.Rerouted: self._on_rerouted,
            H.Adopted: self._on_adopted,
        }
        self.decoder = EventDecoder(follows=(Case,), handled=[C.Submitted, H.Imported, *self._handlers])

    def decode(self, notification: Any) -> StoredEvent | None:
        return self.decoder.decode(notification)

    def decode_rows(self, rows: Sequence[StoredRow]) -> list[StoredEvent]:
        return self.decoder.decode_rows(rows)

    # ---- batch I/O ----------------------------------------------------------------------------

    def statements(self, dialect: str) -> dict[str, str]:
        if dialect not in self._sql:
            p = "?" if dialect == "sqlite" else "%s"
            cols = ", ".join(FACT_COLUMNS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in FACT_COLUMNS if c != "case_id")
            keys = ("month", "level", "region", "department", "matter_kind", "demo")
            stat_cols = (*keys, *STAT_COUNTERS)
            self._sql[dialect] = {
                "select": f"SELECT {cols} FROM case_facts WHERE case_id IN ",
                "insert": f"INSERT INTO case_facts ({cols}) VALUES ({', '.join([p] * len(FACT_COLUMNS))})",
                "upsert": f"INSERT INTO case_facts ({cols}) VALUES ({', '.join([p] * len(FACT_COLUMNS))}) "
                f"ON CONFLICT (case_id) DO UPDATE SET {updates}",
                "delete_tasks": "DELETE FROM case_tasks WHERE task_id IN ",
                "insert_task": "INSERT INTO case_tasks (task_id, kind, ref, title, task, label, department, post,"
                f" region, assignee, opened_at, due_at, priority) VALUES ({', '.join([p] * 13)})",
                "insert_done": "INSERT INTO worklist_done (case_id, case_no, task, department, post, region,"
                f" opened_at, done_at, done_by, outcome, notification_id) VALUES ({', '.join([p] * 11)})",
                "upsert_stats": f"INSERT INTO service_stats ({', '.join(stat_cols)}) "
                f"VALUES ({', '.join([p] * len(stat_cols))}) ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
                + ", ".join(f"{c} = service_stats.{c} + excluded.{c}" for c in STAT_COUNTERS),
                "placeholder": p,
            }
        return self._sql[dialect]

    def apply_batch(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        """Apply decoded events inside the caller's transaction."""
        self.write_batch(conn, self.plan_batch(conn, events))

    def plan_batch(self, conn: Connection, events: Sequence[StoredEvent]) -> BatchChanges:
        """The batch applied in memory to the rows of its cases, read once: what ``write_batch`` writes.
        A sharded catch-up (projections/sharded.py) plans outside the write lock, then writes under it."""
        rows = self._load(conn, self.statements(conn.dialect.name), {e.aggregate_id for e in events})
        changes = BatchChanges(rows=rows, stored=set(rows))
        for e in events:
            self.apply(changes, e)
        return changes

    def write_batch(self, conn: Connection, changes: BatchChanges) -> None:
        self._write(conn, self.statements(conn.dialect.name), changes)

    def _load(self, conn: Connection, sql: dict[str, str], ids: set[str]) -> dict[str, Row]:
        rows: dict[str, Row] = {}
        id_list = list(ids)
        for i in range(0, len(id_list), 500):
            chunk = id_list[i : i + 500]
            query = sql["select"] + "(" + ", ".join([sql["placeholder"]] * len(chunk)) + ")"
            for values in conn.exec_driver_sql(query, tuple(chunk)):
                row = dict(zip(FACT_COLUMNS, values, strict=True))
                for k, v in row.items():
                    if isinstance(v, datetime):  # PostgreSQL hands back datetimes; we keep text
                        row[k] = v.isoformat(sep=" ", timespec="microseconds")
                for k in BOOL_COLUMNS:
                    if row[k] is not None:
                        row[k] = bool(row[k])
                rows[row["case_id"]] = row
        return rows

    def _write(self, conn: Connection, sql: dict[str, str], ch: BatchChanges) -> None:
        if not ch.touched:
            return
        rows = [ch.rows[i] for i in ch.touched]
        stored = ch.stored
        updated = [_FACT_VALUES(r) for r in rows if r["case_id"] in stored]
        new = [_FACT_VALUES(r) for r in rows if r["case_id"] not in stored]
        if new:
            conn.exec_driver_sql(sql["insert"], new)
        if updated:
            conn.exec_driver_sql(sql["upsert"], updated)
            ids = [r[0] for r in updated]
            for i in range(0, len(ids), 500):  # one statement per chunk, not one per case
                chunk = ids[i : i + 500]
                conn.exec_driver_sql(sql["delete_tasks"] + "(" + ", ".join([sql["placeholder"]] * len(chunk)) + ")",
                                     tuple(chunk))  # fmt: skip
        tasks = [
            (
                r["case_id"],
                "case",
                r["case_no"],
                r["matter_name"],
                r["current_task"],
                TASK_LABELS.get(r["current_task"], r["current_task"]),
                r["task_department"],
                r["task_post"],
                r["region"],
                r["assignee"],
                r["task_opened_at"],
                r["task_due_at"],
                2 if r["overdue"] else 1 if r["warned"] else 0,
            )
            for r in rows
            if r["current_task"]
        ]
        if tasks:
            conn.exec_driver_sql(sql["insert_task"], tasks)
        if ch.done:
            conn.exec_driver_sql(sql["insert_done"], ch.done)
        if ch.stats:
            conn.exec_driver_sql(
                # In key order: two shards' transactions on PostgreSQL then wait for each other, never deadlock.
                sql["upsert_stats"],
                [(*k, *(v[c] for c in STAT_COUNTERS)) for k, v in sorted(ch.stats.items())],
            )

    # ---- one event ----------------------------------------------------------------------------

    def apply(self, ch: BatchChanges, e: StoredEvent) -> None:
        s = e.state
        cid = e.aggregate_id
        if e.type is HistoricalCase.Imported:
            if cid not in ch.rows:
                ch.rows[cid] = self._imported(ch, e)
                ch.touched.add(cid)
            return
        if e.type is Case.Submitted:
            if cid in ch.rows:
                return  # already applied
            at = ts(s["at"])
            row = ch.rows[cid] = _new_row(
                e, s, submitted_at=at, status="submitted", imported=False, demo=bool(s.get("demo"))
            )
            self._open_task(row, s["awaiting"], at, ts(s["deemed_acceptance_at"]))
            ch.touched.add(cid)
            return
        existing = ch.rows.get(cid)
        if existing is None or e.version <= existing["version"]:
            return  # already applied: a re-delivered event changes nothing
        row = existing
        row["version"] = e.version
        ch.touched.add(cid)
        self._handlers[e.type](ch, e, row, s, ts(s["at"]) or "")

    def _close_task(self, ch: BatchChanges, e: StoredEvent, row: Row, at: str, outcome: str) -> None:
        if not row["current_task"]:
            return
        ch.done.append(
            (
                row["case_id"],
                row["case_no"],
                row["current_task"],
                row["task_department"],
                row["task_post"],
                row["region"],
                row["task_opened_at"],
                at,
                (e.state.get("actor") or {}).get("user_id", ""),
                outcome,
                e.notification_id,
            )
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
    def _open_task(row: Row, awaiting: dict[str, str] | None, at: str | None, due: str | None) -> None:
        if awaiting:
            row.update(
                current_task=TASK_BY_POST.get(awaiting["post"], awaiting["post"]),
                task_department=awaiting["department"],
                task_post=awaiting["post"],
                task_opened_at=at,
                task_due_at=due,
                assignee=None,
            )

    @staticmethod
    def _count(ch: BatchChanges, row: Row, month: str, counter: str) -> None:
        key = (month, row["level"], row["region"], row["department"], row["matter_kind"], bool(row["demo"]))
        ch.stats[key][counter] += 1

    def _on_notice(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        self._close_task(ch, e, row, at, "notice")
        row["status"] = "awaiting_correction"

    def _on_supplemented(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        row["status"] = "submitted"
        self._open_task(row, s["awaiting"], at, ts(s["deemed_acceptance_at"]))

    def _on_accepted(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        self._close_task(ch, e, row, at, "deemed_accept" if s["deemed"] else "accept")
        month = month_of(at)
        deadline = ts(s["promised_deadline"])
        row.update(
            status="under_review",
            accepted_at=at,
            accepted_month=month,
            promised_deadline=deadline,
            deadline_provisional=bool(s["provisional"]),
        )
        self._count(ch, row, month, "accepted")
        self._open_task(row, s["awaiting"], at, deadline)

    def _on_refused(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        self._close_task(ch, e, row, at, "refuse")
        row.update(status="refused", result="refused", closed_at=at)
        self._count(ch, row, month_of(at), "refused")

    def _on_suspended(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        row.update(status="suspended", suspended_since=at, task_due_at=None)

    def _on_resumed(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        deadline = ts(s["promised_deadline"])
        row.update(
            status="under_review",
            suspended_since=None,
            suspended_days=row["suspended_days"] + s["suspended_days"],
            promised_deadline=deadline,
            deadline_provisional=bool(s["provisional"]),
            task_due_at=deadline if row["current_task"] else None,
        )

    def _on_decided(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        self._close_task(ch, e, row, at, s["outcome"])
        row.update(status="decided", decided_at=at, result="granted" if s["outcome"] == "grant" else "denied")
        self._open_task(row, s["awaiting"], at, row["promised_deadline"])

    def _on_delivered(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        self._close_task(ch, e, row, at, "deliver")
        row["status"] = "delivered"

    def _on_completed(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        month = month_of(at)
        row.update(status="completed", completed_at=at, completed_month=month, on_time=s["on_time"])
        self._count_completion(ch, row, month)

    def _on_withdrawn(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        self._close_task(ch, e, row, at, "withdraw")
        row.update(status="withdrawn", result="withdrawn", closed_at=at, suspended_since=None)
        self._count(ch, row, month_of(at), "withdrawn")

    def _on_warned(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        row["warned"] = True

    def _on_overdue(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        row["overdue"] = True

    def _on_recomputed(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        deadline = ts(s["promised_deadline"])
        row.update(promised_deadline=deadline, deadline_provisional=bool(s["provisional"]))
        if row["current_task"] and row["task_due_at"] is not None:
            row["task_due_at"] = deadline

    def _on_rerouted(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        """The matter changed authority before acceptance: the case (and its open task) moves with it."""
        row.update(department=s["department"], level=s["level"], region=s["region"])
        if row["current_task"] and s["awaiting"]:
            row.update(task_department=s["awaiting"]["department"], task_post=s["awaiting"]["post"])

    def _on_adopted(self, ch: BatchChanges, e: StoredEvent, row: Row, s: dict[str, Any], at: str) -> None:
        """An open legacy case taken over: its task opens with the deadline (or §32 moment) it has."""
        deadline = ts(s["promised_deadline"])
        if deadline is not None:
            row.update(promised_deadline=deadline, deadline_provisional=bool(s["provisional"]))
        self._open_task(row, s["awaiting"], at, deadline or ts(s["deemed_acceptance_at"]))

    def _count_completion(self, ch: BatchChanges, row: Row, month: str) -> None:
        self._count(ch, row, month, "completed")
        if row["accepted_month"]:
            self._count(ch, row, row["accepted_month"], "cohort_completed")
        deadline, done = row["promised_deadline"], row["completed_at"]
        if deadline is None or done <= deadline:
            self._count(ch, row, month, "completed_on_time")
            # Early: done on a day before the deadline's last day (the deadline is that day's midnight).
            if deadline is None or done < minus_one_day(deadline):
                self._count(ch, row, month, "completed_early")
        else:
            self._count(ch, row, month, "completed_overdue")

    def _imported(self, ch: BatchChanges, e: StoredEvent) -> Row:
        s = e.state
        accepted, completed, deadline = ts(s["accepted_at"]), ts(s["completed_at"]), ts(s["promised_deadline"])
        result = s["result"] or None
        done = result in ("granted", "denied")
        status = {"granted": "completed", "denied": "completed", "refused": "refused", "withdrawn": "withdrawn"}
        row = _new_row(
            e,
            s,
            matter_code=s["matter_code"] or "",
            submitted_at=ts(s["submitted_at"]),
            accepted_at=accepted,
            decided_at=completed if done else None,
            completed_at=completed if done else None,
            closed_at=completed if not done else None,
            accepted_month=month_of(accepted) if accepted else None,
            completed_month=month_of(completed) if done and completed else None,
            promised_deadline=deadline,
            on_time=(deadline is None or completed <= deadline) if done and completed else None,
            result=result,
            status=status.get(s["result"], "under_review" if accepted else "submitted"),
            overdue=bool(done and deadline and completed and completed > deadline),
            imported=True,
            import_batch=s.get("batch") or "",
        )
        if accepted:
            self._count(ch, row, row["accepted_month"], "accepted")
        if done:
            self._count_completion(ch, row, row["completed_month"])
        elif result in ("refused", "withdrawn") and completed:
            self._count(ch, row, month_of(completed), result)
        return row
