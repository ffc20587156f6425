"""The ``transfer`` projection: the admin read models of the transfer programme (相对集中行政许可权改革)
and the supervising departments' 审管联动 claim tasks in every worklist.

It follows ``TransferProgramme``, ``LicenceItem`` and ``SupervisionTask`` events (other processes'
events are passed over) and is applied a batch at a time in the runner's transaction, exactly once
(``projections.runner``): each row keeps the aggregate version it has seen, so a re-delivered event
changes nothing. Tables: ``projections.transfer_tables``; the queries and the report arithmetic:
``projections.transfer_queries``; definitions: docs/transfer.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from domain.calendar import end_of_day
from domain.staff import Post
from domain.transfer import LicenceItem, SupervisionTask, TransferProgramme
from projections.decoder import EventDecoder, StoredEvent
from projections.transfer_tables import (
    TRANSFER_TABLES,
    transfer_items,
    transfer_list_changes,
    transfer_programmes,
    transfer_supervision,
    transfer_tasks,
    transfer_trial_weeks,
)

NAME = "transfer"
Row = dict[str, Any]
CLAIM_LABEL = "审管联动·认领监管任务"
NOT_YET_CUT_OVER = ("scheduled", "handover")


def _dt(value: Any) -> datetime | None:
    """A transcoded datetime (``{"_type_": …, "_data_": iso}``), iso text or a datetime → naive UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(value["_data_"] if isinstance(value, dict) else value)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _iso(value: datetime | None) -> str | None:
    """Naive UTC → ISO text with its offset (what the JSON columns hold)."""
    return None if value is None else value.replace(tzinfo=UTC).isoformat()


def trial_over(day: str) -> datetime:
    """The end of a trial's last day (Beijing midnight after it), naive UTC."""
    return end_of_day(date.fromisoformat(day)).astimezone(UTC).replace(tzinfo=None)


def _loads(text: str) -> Any:
    return json.loads(text)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass
class _Batch:
    programmes: dict[str, Row]
    items: dict[str, Row]
    tasks: dict[str, Row]
    stored: set[str]
    touched: set[str] = field(default_factory=set)
    changes: list[Row] = field(default_factory=list)
    weeks: list[Row] = field(default_factory=list)
    reschedules: list[tuple[str, int, datetime | None]] = field(default_factory=list)


Handler = Callable[[_Batch, StoredEvent, Row, dict[str, Any]], None]


class TransferProjection:
    name = NAME
    tables = TRANSFER_TABLES

    def __init__(self) -> None:
        P, It, S = TransferProgramme, LicenceItem, SupervisionTask
        self._handlers: dict[type[Any], Handler] = {
            P.BatchOpened: self._on_batch_opened,
            P.BatchAdded: self._on_batch_added,
            P.BatchRescheduled: self._on_batch_rescheduled,
            P.MilestoneRecorded: self._on_milestone,
            P.TrialStarted: self._on_trial_started,
            P.ItemAdded: self._on_item_added,
            P.ItemRemoved: self._on_item_removed,
            P.Closed: self._on_closed,
            It.Scheduled: self._on_scheduled,
            It.HandoverOpened: self._on_handover_opened,
            It.EntrySigned: self._on_signed,
            It.CutOver: self._on_cut_over,
            It.TrialFiguresRecorded: self._on_figures,
            It.TrialExtended: self._on_extended,
            It.WentLive: self._on_live,
            It.RolledBack: self._on_rolled_back,
            It.Removed: self._on_removed,
            It.WindBackDone: self._on_wound_back,
            It.Relisted: self._on_relisted,
            S.Claimed: self._on_claimed,
            S.MarkedOverdue: self._on_overdue,
        }
        self._created: dict[type[Any], Callable[[_Batch, StoredEvent, dict[str, Any]], None]] = {
            P.Planned: self._planned,
            It.Catalogued: self._catalogued,
            S.Opened: self._opened,
        }
        self.decoder = EventDecoder(follows=(P, It, S), handled=[*self._created, *self._handlers])

    def decode(self, notification: Any) -> StoredEvent | None:
        return self.decoder.decode(notification)

    # ---- batch I/O ----------------------------------------------------------------------------

    def apply_batch(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        ids = list({e.aggregate_id for e in events})
        b = _Batch(programmes={}, items={}, tasks={}, stored=set())
        for table, key, into in (
            (transfer_programmes, "programme_id", b.programmes),
            (transfer_items, "item_id", b.items),
            (transfer_supervision, "task_id", b.tasks),
        ):
            for i in range(0, len(ids), 500):
                for r in conn.execute(select(table).where(table.c[key].in_(ids[i : i + 500]))):
                    into[r._mapping[key]] = dict(r._mapping)
        b.stored = set(b.programmes) | set(b.items) | set(b.tasks)
        for e in events:
            self.apply(b, e)
        self._write(conn, b)

    def apply(self, b: _Batch, e: StoredEvent) -> None:
        aid = e.aggregate_id
        make = self._created.get(e.type)
        if make is not None:
            if aid not in b.programmes and aid not in b.items and aid not in b.tasks:
                make(b, e, e.state)
                b.touched.add(aid)
            return
        row = b.programmes.get(aid) or b.items.get(aid) or b.tasks.get(aid)
        if row is None or e.version <= row["version"]:
            return  # already applied: a re-delivered event changes nothing
        row["version"] = e.version
        b.touched.add(aid)
        self._handlers[e.type](b, e, row, e.state)

    def _write(self, conn: Connection, b: _Batch) -> None:
        ins = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        # Items of a rescheduled batch not loaded by this batch: their planned cut-over moves too (the loaded
        # ones are written from memory below, after this).
        for programme, batch_no, cut_over in b.reschedules:
            ic = transfer_items.c
            conn.execute(
                update(transfer_items)
                .where(ic.programme == programme, ic.batch == batch_no, ic.status.in_(NOT_YET_CUT_OVER))
                .values(planned_cut_over=cut_over, behind_from=cut_over)
            )
        for table, key, rows in (
            (transfer_programmes, "programme_id", b.programmes),
            (transfer_items, "item_id", b.items),
            (transfer_supervision, "task_id", b.tasks),
        ):
            touched = [rows[k] for k in sorted(b.touched & set(rows))]
            new = [r for r in touched if r[key] not in b.stored]
            if new:
                conn.execute(table.insert(), new)
            for r in touched:
                if r[key] in b.stored:
                    conn.execute(
                        table.update().where(table.c[key] == r[key]).values({k: v for k, v in r.items() if k != key})
                    )
        if b.changes:
            stmt = ins(transfer_list_changes).on_conflict_do_nothing(index_elements=["notification_id", "code"])
            conn.execute(stmt, b.changes)
        if b.weeks:
            stmt = ins(transfer_trial_weeks).on_conflict_do_nothing(index_elements=["item_id", "week_start"])
            conn.execute(stmt, b.weeks)
        touched_tasks = [b.tasks[k] for k in sorted(b.touched & set(b.tasks))]
        if touched_tasks:
            refs = [t["case_no"] for t in touched_tasks]
            for n in range(0, len(refs), 500):
                conn.execute(transfer_tasks.delete().where(transfer_tasks.c.ref.in_(refs[n : n + 500])))
            open_tasks = [task for t in touched_tasks if (task := task_row(t)) is not None]
            if open_tasks:
                conn.execute(transfer_tasks.insert(), open_tasks)

    # ---- the programme ------------------------------------------------------------------------

    def _planned(self, b: _Batch, e: StoredEvent, s: dict[str, Any]) -> None:
        at = _dt(s["at"])
        batches = [
            {
                "no": int(x["no"]),
                "name": x["name"],
                "cut_over": _iso(_dt(x["cut_over"])),
                "gates": list(x["gates"]),
                "opened": False,
            }
            for x in sorted(s["batches"], key=lambda x: int(x["no"]))
        ]
        listed = {
            str(i["code"]): {"name": i["name"], "department": i["department"], "batch": i.get("batch"), "listed": True}
            for i in s["items"]
        }
        b.programmes[e.aggregate_id] = {
            "programme_id": e.aggregate_id,
            "code": s["code"],
            "name": s["name"],
            "bureau": s["bureau"],
            "region": s["region"],
            "level": s["level"],
            "decision_no": s["decision_no"],
            "approved_by": s["approved_by"],
            "status": "planned",
            "trial_start": s["trial_start"],
            "trial_end": s["trial_end"],
            "planned_at": at,
            "trial_started_at": None,
            "closed_at": None,
            "batches": _dumps(batches),
            "milestones": _dumps({}),
            "items": _dumps(listed),
            "version": e.version,
        }
        for code, entry in listed.items():
            self._change(b, e, s, s["code"], "planned", code, entry, s["approved_by"], "列入划转方案", s["decision_no"])

    @staticmethod
    def _change(
        b: _Batch,
        e: StoredEvent,
        s: dict[str, Any],
        programme: str,
        kind: str,
        code: str,
        entry: dict[str, Any],
        approved_by: str,
        reason: str,
        document_no: str,
    ) -> None:
        actor = s.get("actor") or {}
        b.changes.append(
            {
                "notification_id": e.notification_id,
                "code": code,
                "programme": programme,
                "kind": kind,
                "name": entry["name"],
                "department": entry["department"],
                "approved_by": approved_by,
                "reason": reason,
                "document_no": document_no,
                "actor_id": str(actor.get("user_id", "")),
                "actor_name": str(actor.get("name", "")),
                "at": _dt(s["at"]),
            }
        )

    def _on_batch_opened(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        batches = _loads(row["batches"])
        for x in batches:
            if x["no"] == int(s["batch"]):
                x["opened"] = True
        row["batches"] = _dumps(batches)
        if row["status"] == "planned":
            row["status"] = "handover"

    def _on_batch_added(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        x = s["batch"]
        batches = _loads(row["batches"])
        batches.append(
            {"no": int(x["no"]), "name": x["name"], "cut_over": _iso(_dt(x["cut_over"])), "gates": list(x["gates"]),
             "opened": False}
        )  # fmt: skip
        row["batches"] = _dumps(sorted(batches, key=lambda x: x["no"]))

    def _on_batch_rescheduled(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        no, cut_over = int(s["batch"]), _dt(s["cut_over"])
        batches = _loads(row["batches"])
        for x in batches:
            if x["no"] == no:
                x["cut_over"] = _iso(cut_over)
        row["batches"] = _dumps(batches)
        for item in b.items.values():
            if item["programme"] == row["code"] and item["batch"] == no and item["status"] in NOT_YET_CUT_OVER:
                item.update(planned_cut_over=cut_over, behind_from=cut_over)
                b.touched.add(item["item_id"])
        b.reschedules.append((row["code"], no, cut_over))

    def _on_milestone(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        done = _loads(row["milestones"])
        actor = s.get("actor") or {}
        done[s["milestone"]] = {
            "document_no": s["document_no"],
            "note": s.get("note", ""),
            "at": _iso(_dt(s["at"])),
            "by": actor.get("name", ""),
        }
        row["milestones"] = _dumps(done)

    def _on_trial_started(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        row.update(status="trial", trial_started_at=_dt(s["at"]))

    def _on_item_added(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        listed = _loads(row["items"])
        entry = {"name": s["name"], "department": s["department"], "batch": s.get("batch"), "listed": True}
        listed[s["code"]] = entry
        row["items"] = _dumps(listed)
        self._change(b, e, s, row["code"], "added", s["code"], entry, s["approved_by"], s["reason"], s["document_no"])

    def _on_item_removed(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        listed = _loads(row["items"])
        entry = listed[s["code"]]
        entry["listed"] = False
        row["items"] = _dumps(listed)
        self._change(b, e, s, row["code"], "removed", s["code"], entry, s["approved_by"], s["reason"], s["document_no"])

    def _on_closed(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        row.update(status="closed", closed_at=_dt(s["at"]))

    # ---- the items ----------------------------------------------------------------------------

    def _catalogued(self, b: _Batch, e: StoredEvent, s: dict[str, Any]) -> None:
        b.items[e.aggregate_id] = {
            "item_id": e.aggregate_id,
            "programme": s["programme"],
            "code": s["code"],
            "name": s["name"],
            "origin": s["origin"],
            "supervisor": s.get("supervisor") or s["origin"],
            "bureau": s["bureau"],
            "region": s["region"],
            "batch": None,
            "status": "catalogued",
            "authority": s["origin"],
            "planned_cut_over": None,
            "cut_over_at": None,
            "trial_start": None,
            "trial_end": None,
            "checklist": _dumps({}),
            "origin_open": 0,
            "bureau_open": 0,
            "decision": None,
            "decision_reason": None,
            "decided_at": None,
            "extensions": 0,
            "removed_at": None,
            "removal_reason": None,
            "pending_undo": 0,
            "behind_from": None,
            "cut_over_late": False,
            "version": e.version,
        }

    def _on_scheduled(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        planned = _dt(s["planned_cut_over"])
        row.update(status="scheduled", batch=int(s["batch"]), planned_cut_over=planned, behind_from=planned)

    @staticmethod
    def _open_counts(row: Row, checklist: dict[str, list[str]]) -> None:
        row["checklist"] = _dumps(checklist)
        row["origin_open"] = sum("origin" in waiting for waiting in checklist.values())
        row["bureau_open"] = sum("bureau" in waiting for waiting in checklist.values())

    def _on_handover_opened(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        row["status"] = "handover"
        self._open_counts(row, {entry: ["origin", "bureau"] for entry in s["entries"]})

    def _on_signed(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        checklist = _loads(row["checklist"])
        checklist[s["entry"]] = [p for p in checklist.get(s["entry"], []) if p != s["party"]]
        self._open_counts(row, checklist)

    def _on_cut_over(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        effective = _dt(s["effective_from"])
        planned = row["planned_cut_over"]
        row.update(
            status="in_trial",
            authority=s["department"],
            cut_over_at=effective,
            trial_start=s["trial_start"],
            trial_end=s["trial_end"],
            behind_from=trial_over(s["trial_end"]),
            cut_over_late=bool(planned is not None and effective is not None and effective > planned),
        )

    def _on_figures(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        b.weeks.append(
            {
                "item_id": row["item_id"],
                "week_start": s["week_start"],
                "programme": row["programme"],
                "code": row["code"],
                "origin": row["origin"],
                "accepted": int(s["accepted"]),
                "completed": int(s["completed"]),
                "on_time_rate": s.get("on_time_rate"),
                "overdue": int(s["overdue"]),
                "avg_working_days": s.get("avg_working_days"),
                "recorded_at": _dt(s["at"]),
            }
        )

    @staticmethod
    def _decided(row: Row, s: dict[str, Any], decision: str, reason: str) -> None:
        row.update(decision=decision, decision_reason=reason, decided_at=_dt(s["at"]))

    def _on_extended(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        self._decided(row, s, "extend", s["reason"])
        row.update(
            status="trial_extended",
            trial_end=s["new_end"],
            extensions=row["extensions"] + 1,
            behind_from=trial_over(s["new_end"]),
        )

    def _on_live(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        self._decided(row, s, "go_live", s.get("note", ""))
        row.update(status="live", behind_from=None)

    def _on_rolled_back(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        self._decided(row, s, "roll_back", s["reason"])
        row.update(status="rolled_back", behind_from=None, pending_undo=len(s["undo"]))

    def _on_removed(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        row.update(
            status="removed",
            removed_at=_dt(s["at"]),
            removal_reason=s["reason"],
            behind_from=None,
            pending_undo=len(s["undo"]),
        )

    def _on_wound_back(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        row["pending_undo"] = max(0, row["pending_undo"] - 1)
        if s["step"] == "routing_back":
            row["authority"] = row["origin"]

    def _on_relisted(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        row.update(
            status="catalogued",
            batch=None,
            planned_cut_over=None,
            cut_over_at=None,
            trial_start=None,
            trial_end=None,
            checklist=_dumps({}),
            origin_open=0,
            bureau_open=0,
            decision=None,
            decision_reason=None,
            decided_at=None,
            removed_at=None,
            removal_reason=None,
            behind_from=None,
            cut_over_late=False,
        )

    # ---- supervision (审管联动) ----------------------------------------------------------------

    def _opened(self, b: _Batch, e: StoredEvent, s: dict[str, Any]) -> None:
        b.tasks[e.aggregate_id] = {
            "task_id": e.aggregate_id,
            "case_no": s["case_no"],
            "programme": s["programme"],
            "item_code": s["item_code"],
            "item_name": s["item_name"],
            "decision": s["decision"],
            "decided_at": _dt(s["decided_at"]),
            "bureau": s["bureau"],
            "department": s["department"],
            "region": s["region"],
            "opened_at": _dt(s["at"]),
            "claim_due": _dt(s["claim_due"]),
            "status": "open",
            "claimed_at": None,
            "claimed_by": None,
            "claimed_late": False,
            "version": e.version,
        }

    def _on_claimed(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        actor = s.get("actor") or {}
        row.update(
            status="claimed", claimed_at=_dt(s["at"]), claimed_by=actor.get("user_id"), claimed_late=bool(s["late"])
        )

    def _on_overdue(self, b: _Batch, e: StoredEvent, row: Row, s: dict[str, Any]) -> None:
        row["status"] = "overdue"


def task_row(t: Row) -> Row | None:
    """The supervising department's open claim task (its reviewers' worklist), until it is claimed."""
    if t["status"] == "claimed":
        return None
    return {
        "task_id": f"supervision:{t['case_no']}",
        "kind": "supervision",
        "ref": t["case_no"],
        "title": t["item_name"][:200],
        "task": "claim",
        "label": CLAIM_LABEL,
        "department": t["department"],
        "post": Post.REVIEWER.value,
        "region": t["region"],
        "assignee": None,
        "opened_at": t["opened_at"],
        "due_at": t["claim_due"],
        "priority": 2 if t["status"] == "overdue" else 0,
    }
