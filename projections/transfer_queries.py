"""Queries over the transfer read models and the report arithmetic (definitions: docs/transfer.md).

The arithmetic is pure (``progress``, ``outstanding_by_party``, ``behind_schedule``, ``trial_totals``,
``figures_of``, ``combine``) and unit-tested; the functions taking an ``Engine`` only read rows.
Percentages are one decimal, half-up (``projections.bulletin.percent``), like the bulletin's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine, select

from domain.calendar import DayType, ServiceCalendar, to_local
from domain.transfer import ChecklistEntry, ItemStatus, Milestone, Party, ProgrammeStatus
from domain.transfer.errors import UnknownProgramme
from projections.bulletin import percent
from projections.tables import case_facts
from projections.transfer import trial_over
from projections.transfer_tables import (
    transfer_items,
    transfer_list_changes,
    transfer_programmes,
    transfer_supervision,
    transfer_trial_weeks,
)

Row = dict[str, Any]
DAYS_PER_MONTH = Decimal("30.4375")  # 365.25 / 12: "cases per month" of a window of any length
STATUS_ORDER = [s.value for s in ItemStatus]
OUTCOMES = ("live", "trial_extended", "rolled_back", "removed")
CUT_OVER_STATUSES = ("in_trial", "trial_extended", "live")


def one_decimal(value: Decimal | float | None) -> float | None:
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def short_department(department: str, region: str) -> str:
    """马尔康市市场监督管理局 → 市场监督管理局 (the region is the programme's)."""
    return department.removeprefix(region) or department


# ---- rows ------------------------------------------------------------------------------------


def programme_codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(transfer_programmes.c.code).order_by(transfer_programmes.c.code))]


def programme_regions(engine: Engine) -> dict[str, str]:
    """Programme code → its region."""
    t = transfer_programmes.c
    with engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(select(t.code, t.region).order_by(t.code))}


def programme_row(engine: Engine, code: str) -> Row:
    """The programme's row; refuses an unknown code (``TRANSFER_PROGRAMME_UNKNOWN``)."""
    with engine.connect() as conn:
        r = conn.execute(select(transfer_programmes).where(transfer_programmes.c.code == code)).first()
    if r is None:
        known = programme_codes(engine)
        hint = f"（现有：{'、'.join(known)}）" if known else "（尚未载入任何划转方案：oneseal transfer plan FILE）"
        raise UnknownProgramme(f"划转方案「{code}」不存在{hint}", programme=code, field="programme")
    row = dict(r._mapping)
    for k in ("batches", "milestones", "items"):
        row[k] = json.loads(row[k])
    return row


def item_rows(engine: Engine, programme: str) -> list[Row]:
    i = transfer_items.c
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(transfer_items).where(i.programme == programme))]
    for r in rows:
        r["checklist"] = json.loads(r["checklist"])
    return sorted(rows, key=lambda r: (r["origin"], r["code"]))


def week_rows(engine: Engine, programme: str) -> list[Row]:
    w = transfer_trial_weeks.c
    q = select(transfer_trial_weeks).where(w.programme == programme).order_by(w.code, w.week_start)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def list_changes(engine: Engine, programme: str, *, include_planned: bool = False) -> list[Row]:
    """The living list's history, oldest first: who approved each change, why, on which document, when."""
    c = transfer_list_changes.c
    q = select(transfer_list_changes).where(c.programme == programme)
    if not include_planned:
        q = q.where(c.kind != "planned")
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q.order_by(c.at, c.notification_id, c.code))]
    return [{k: v for k, v in r.items() if k != "notification_id"} for r in rows]


def supervision_rows(engine: Engine, programme: str) -> list[Row]:
    s = transfer_supervision.c
    q = select(transfer_supervision).where(s.programme == programme).order_by(s.claim_due, s.case_no)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


# ---- progress --------------------------------------------------------------------------------


def _share(n: int, total: int) -> float | None:
    return percent(n, total)


def progress(items: Sequence[Row], batches: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Counts and shares by status, batch and department.

    A status share is of every item ever on the programme (removed ones too, so the shares add up to
    100%); "cut over" (已切换) counts the items on the list now (not removed) that the bureau took over
    (a cut-over moment is recorded, rolled-back items included), its share is of the items on the list."""
    total = len(items)
    listed = [i for i in items if i["status"] != "removed"]
    by_status = {s: 0 for s in STATUS_ORDER}
    for i in items:
        by_status[i["status"]] = by_status.get(i["status"], 0) + 1

    def group(rows: Iterable[Row]) -> dict[str, Any]:
        rows = list(rows)
        on = [r for r in rows if r["status"] != "removed"]
        cut = sum(1 for r in on if r["cut_over_at"] is not None)
        statuses: dict[str, int] = {}
        for r in rows:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        return {
            "items": len(rows),
            "listed": len(on),
            "cut_over": cut,
            "cut_over_share": _share(cut, len(on)),
            "by_status": {s: statuses[s] for s in STATUS_ORDER if s in statuses},
        }

    names = {int(b["no"]): b for b in batches}
    batch_nos = sorted({i["batch"] for i in items if i["batch"] is not None} | set(names))
    by_batch = []
    for no in batch_nos:
        b = names.get(no, {})
        by_batch.append(
            {"batch": no, "name": b.get("name", f"第{no}批"), "cut_over_planned": b.get("cut_over"),
             **group(i for i in items if i["batch"] == no)}
        )  # fmt: skip
    unbatched = [i for i in items if i["batch"] is None]
    if unbatched:
        by_batch.append({"batch": None, "name": "未排批次", "cut_over_planned": None, **group(unbatched)})
    departments = sorted({i["origin"] for i in items})
    by_department = []
    for d in departments:
        rows = [i for i in items if i["origin"] == d]
        batches_of: dict[str, int] = {}
        for r in rows:
            key = "-" if r["batch"] is None else str(r["batch"])
            batches_of[key] = batches_of.get(key, 0) + 1
        by_department.append({"department": d, "batches": batches_of, **group(rows)})
    cut = sum(1 for i in listed if i["cut_over_at"] is not None)
    return {
        "items": total,
        "listed": len(listed),
        "cut_over": cut,
        "cut_over_share": _share(cut, len(listed)),
        "by_status": [
            {"status": s, "label": ItemStatus(s).label, "count": n, "share": _share(n, total)}
            for s, n in by_status.items()
        ],
        "outcomes": {o: by_status.get(o, 0) for o in OUTCOMES},
        "by_batch": by_batch,
        "by_department": by_department,
    }


def outstanding_by_party(items: Sequence[Row]) -> dict[str, Any]:
    """Checklist sign-offs still missing, of the items in handover: per party, per entry, per department."""
    open_items = [i for i in items if i["status"] == "handover"]
    per_party = {p.value: 0 for p in Party}
    per_entry: dict[str, dict[str, int]] = {e.value: {p.value: 0 for p in Party} for e in ChecklistEntry}
    per_department: dict[str, dict[str, int]] = {}
    waiting_items = []
    for i in open_items:
        dept = per_department.setdefault(i["origin"], {p.value: 0 for p in Party})
        missing: list[str] = []
        for entry, parties in i["checklist"].items():
            for p in parties:
                per_party[p] += 1
                per_entry.setdefault(entry, {q.value: 0 for q in Party})[p] += 1
                dept[p] += 1
                missing.append(f"{entry}:{p}")
        if missing:
            waiting_items.append(
                {"code": i["code"], "name": i["name"], "department": i["origin"], "origin_open": i["origin_open"],
                 "bureau_open": i["bureau_open"], "missing": missing}
            )  # fmt: skip
    return {
        "items_in_handover": len(open_items),
        "items_waiting": len(waiting_items),
        "by_party": per_party,
        "by_entry": [
            {"entry": e, "label": ChecklistEntry(e).label, **counts}
            for e, counts in per_entry.items()
            if e in set(ChecklistEntry)
        ],
        "by_department": [{"department": d, **c} for d, c in sorted(per_department.items())],
        "items": waiting_items,
    }


def behind_schedule(items: Sequence[Row], as_of: datetime) -> list[Row]:
    """Items behind schedule at ``as_of``: not cut over after their batch's planned cut-over, or still in
    trial (extended included) after the trial's last day with no decision."""
    now = naive(as_of)
    out = []
    for i in items:
        since = i["behind_from"]
        if since is None or since > now:
            continue
        if i["status"] in ("scheduled", "handover", "catalogued"):
            reason = f"计划{to_local(aware(since)):%Y-%m-%d}切换，尚未切换"  # type: ignore[arg-type]
        else:
            reason = f"试运行已于{i['trial_end']}结束，尚未作出结论"
        out.append(
            {"code": i["code"], "name": i["name"], "department": i["origin"], "batch": i["batch"],
             "status": i["status"], "behind_since": aware(since), "days": (now - since).days, "reason": reason,
             "origin_open": i["origin_open"], "bureau_open": i["bureau_open"]}
        )  # fmt: skip
    return sorted(out, key=lambda r: (r["behind_since"], r["department"], r["code"]))


def item_list(items: Sequence[Row]) -> list[Row]:
    """Every item of the programme with where it stands (the report's annex)."""
    return [
        {"code": i["code"], "name": i["name"], "department": i["origin"], "batch": i["batch"], "status": i["status"],
         "authority": i["authority"], "planned_cut_over": aware(i["planned_cut_over"]),
         "cut_over_at": aware(i["cut_over_at"]), "trial_end": i["trial_end"], "decision": i["decision"],
         "origin_open": i["origin_open"], "bureau_open": i["bureau_open"]}
        for i in items
    ]  # fmt: skip


# ---- trial figures ---------------------------------------------------------------------------


@dataclass
class TrialTotals:
    """Weekly trial figures summed: on-time and average days weighted by the cases completed."""

    weeks: int = 0
    accepted: int = 0
    completed: int = 0
    overdue: int = 0
    on_time: int = 0  # completed on time, from each week's rate × completed
    days_completed: int = 0  # completed cases of the weeks that have an average
    days_sum: Decimal = Decimal(0)

    def add_week(self, w: Mapping[str, Any]) -> None:
        self.weeks += 1
        self.accepted += int(w["accepted"])
        self.completed += int(w["completed"])
        self.overdue += int(w["overdue"])
        done = int(w["completed"])
        if w["on_time_rate"] is not None and done:
            self.on_time += int(
                (Decimal(str(w["on_time_rate"])) * done / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            )
        if w["avg_working_days"] is not None and done:
            self.days_completed += done
            self.days_sum += Decimal(str(w["avg_working_days"])) * done

    def plus(self, other: TrialTotals) -> None:
        for k in ("weeks", "accepted", "completed", "overdue", "on_time", "days_completed", "days_sum"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def to_json(self) -> dict[str, Any]:
        return {
            "weeks": self.weeks,
            "accepted": self.accepted,
            "completed": self.completed,
            "overdue": self.overdue,
            "on_time_rate": percent(self.on_time, self.completed),
            "avg_working_days": one_decimal(self.days_sum / self.days_completed) if self.days_completed else None,
        }


def trial_totals(weeks: Sequence[Row], items: Sequence[Row]) -> dict[str, Any]:
    """Trial figures per item (with its weeks) and per origin department, and the programme's total."""
    names = {i["item_id"]: i for i in items}
    per_item: dict[str, TrialTotals] = {}
    item_weeks: dict[str, list[Row]] = {}
    for w in weeks:
        per_item.setdefault(w["item_id"], TrialTotals()).add_week(w)
        item_weeks.setdefault(w["item_id"], []).append(
            {k: w[k] for k in ("week_start", "accepted", "completed", "on_time_rate", "overdue", "avg_working_days")}
        )
    per_dept: dict[str, TrialTotals] = {}
    total = TrialTotals()
    for iid, t in per_item.items():
        per_dept.setdefault(names[iid]["origin"] if iid in names else "?", TrialTotals()).plus(t)
        total.plus(t)
    by_item = [
        {"code": names[iid]["code"], "name": names[iid]["name"], "department": names[iid]["origin"],
         "status": names[iid]["status"], **t.to_json(), "by_week": item_weeks[iid]}
        for iid, t in per_item.items() if iid in names
    ]  # fmt: skip
    return {
        "total": total.to_json(),
        "by_department": [{"department": d, **t.to_json()} for d, t in sorted(per_dept.items())],
        "by_item": sorted(by_item, key=lambda r: (r["department"], r["code"])),
    }


# ---- before and after (from the case read models) ----------------------------------------------


@dataclass(frozen=True)
class CaseTimes:
    accepted_at: datetime | None
    completed_at: datetime | None
    on_time: bool | None
    suspended_days: int


@dataclass
class ServiceFigures:
    """An item's service at one department over a window ``[start, end)``: cases accepted in it, cases
    completed in it (working days from acceptance to completion, suspensions excluded; on time or not)."""

    days: Decimal = Decimal(0)  # the window's length in days
    accepted: int = 0
    completed: int = 0
    on_time: int = 0
    working_days: int = 0
    per_month_sum: Decimal = Decimal(0)  # Σ accepted ÷ months of each item's window (a department: Σ items)

    def plus(self, other: ServiceFigures) -> None:
        self.days += other.days
        self.accepted += other.accepted
        self.completed += other.completed
        self.on_time += other.on_time
        self.working_days += other.working_days
        self.per_month_sum += other.per_month_sum

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "completed": self.completed,
            "avg_working_days": one_decimal(Decimal(self.working_days) / self.completed) if self.completed else None,
            "on_time_rate": percent(self.on_time, self.completed),
            "cases_per_month": one_decimal(self.per_month_sum) if self.days else None,
        }


def working_days(case: CaseTimes, calendar: ServiceCalendar) -> int:
    """Working days from acceptance to completion: the days after the acceptance day up to and including
    the completion day (Beijing time), less the days the clock was suspended; never below zero."""
    assert case.accepted_at is not None and case.completed_at is not None
    a = to_local(aware(naive(case.accepted_at))).date()  # type: ignore[arg-type]
    c = to_local(aware(naive(case.completed_at))).date()  # type: ignore[arg-type]
    n = calendar.count_days(a + timedelta(days=1), c + timedelta(days=1), DayType.WORKING, allow_provisional=True)
    return max(0, n - case.suspended_days)


def figures_of(cases: Iterable[CaseTimes], start: datetime, end: datetime, calendar: ServiceCalendar) -> ServiceFigures:
    """Pure: the figures of a department's cases of one matter over ``[start, end)`` (naive UTC)."""
    f = ServiceFigures(days=Decimal((end - start).total_seconds()) / 86400)
    for c in cases:
        if c.accepted_at is not None and start <= c.accepted_at < end:
            f.accepted += 1
        if c.completed_at is not None and c.accepted_at is not None and start <= c.completed_at < end:
            f.completed += 1
            f.on_time += 1 if c.on_time else 0
            f.working_days += working_days(c, calendar)
    if f.days > 0:
        f.per_month_sum = Decimal(f.accepted) / (f.days / DAYS_PER_MONTH)
    return f


def windows(
    item: Mapping[str, Any], as_of: datetime
) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]] | None:
    """BEFORE and AFTER windows of an item (naive UTC), or None when it never cut over (or no time passed).

    AFTER: from the cut-over to the earliest of ``as_of``, the end of the trial's last day, the roll-back
    decision, the removal. BEFORE: the same length immediately before the cut-over."""
    start = item["cut_over_at"]
    if start is None:
        return None
    ends = [naive(as_of)]
    if item["trial_end"]:
        ends.append(trial_over(item["trial_end"]))
    if item["status"] == "rolled_back" and item["decided_at"] is not None:
        ends.append(item["decided_at"])
    if item["status"] == "removed" and item["removed_at"] is not None:
        ends.append(item["removed_at"])
    end = min(ends)
    if end <= start:
        return None
    return (start - (end - start), start), (start, end)


def case_times(
    engine: Engine, matter_codes: Sequence[str], *, include_demo: bool
) -> dict[tuple[str, str], list[CaseTimes]]:
    """(matter code, department) → the cases' times, for every code asked, in one read per 500 codes."""
    c = case_facts.c
    out: dict[tuple[str, str], list[CaseTimes]] = {}
    codes = list(matter_codes)
    with engine.connect() as conn:
        for i in range(0, len(codes), 500):
            q = select(c.matter_code, c.department, c.accepted_at, c.completed_at, c.on_time, c.suspended_days).where(
                c.matter_code.in_(codes[i : i + 500]), c.accepted_at.is_not(None)
            )
            if not include_demo:
                q = q.where(c.demo.is_(False))
            for code, dept, accepted, completed, on_time, suspended in conn.execute(q):
                out.setdefault((code, dept), []).append(
                    CaseTimes(_naive(accepted), _naive(completed), on_time, int(suspended or 0))
                )
    return out


def _naive(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return naive(value)


def before_after(
    engine: Engine, items: Sequence[Row], calendar: ServiceCalendar, as_of: datetime, *, include_demo: bool = False
) -> dict[str, Any]:
    """BEFORE (at the origin department) beside AFTER (at the bureau) per item, per department, in total."""
    cases = case_times(engine, [i["code"] for i in items if i["cut_over_at"] is not None], include_demo=include_demo)
    by_item: list[Row] = []
    per_dept: dict[str, tuple[ServiceFigures, ServiceFigures]] = {}
    total_before, total_after = ServiceFigures(), ServiceFigures()
    for i in items:
        w = windows(i, as_of)
        if w is None:
            continue
        (b0, b1), (a0, a1) = w
        before = figures_of(cases.get((i["code"], i["origin"]), []), b0, b1, calendar)
        after = figures_of(cases.get((i["code"], i["bureau"]), []), a0, a1, calendar)
        by_item.append(
            {"code": i["code"], "name": i["name"], "department": i["origin"], "status": i["status"],
             "before": {"from": aware(b0), "to": aware(b1), **before.to_json()},
             "after": {"from": aware(a0), "to": aware(a1), **after.to_json()}}
        )  # fmt: skip
        d = per_dept.setdefault(i["origin"], (ServiceFigures(), ServiceFigures()))
        d[0].plus(before)
        d[1].plus(after)
        total_before.plus(before)
        total_after.plus(after)
    return {
        "total": {"items": len(by_item), "before": total_before.to_json(), "after": total_after.to_json()},
        "by_department": [
            {
                "department": d,
                "items": sum(1 for r in by_item if r["department"] == d),
                "before": b.to_json(),
                "after": a.to_json(),
            }
            for d, (b, a) in sorted(per_dept.items())
        ],
        "by_item": by_item,
    }


# ---- supervision (审管联动) ----------------------------------------------------------------------


def is_overdue(task: Mapping[str, Any], as_of: datetime) -> bool:
    """Overdue: marked so, or still unclaimed at ``as_of`` past its claim deadline."""
    return task["status"] == "overdue" or (task["status"] == "open" and task["claim_due"] <= naive(as_of))


def supervision_summary(tasks: Sequence[Row], as_of: datetime) -> dict[str, Any]:
    """Per supervising department: tasks issued, claimed (late), open (unclaimed), overdue among them."""

    def counts(rows: Sequence[Row]) -> dict[str, int]:
        unclaimed = [t for t in rows if t["status"] != "claimed"]
        return {
            "issued": len(rows),
            "claimed": sum(1 for t in rows if t["status"] == "claimed"),
            "claimed_late": sum(1 for t in rows if t["status"] == "claimed" and t["claimed_late"]),
            "open": len(unclaimed),
            "overdue": sum(1 for t in unclaimed if is_overdue(t, as_of)),
        }

    departments = sorted({t["department"] for t in tasks})
    overdue = [
        {"case_no": t["case_no"], "item_code": t["item_code"], "item_name": t["item_name"],
         "department": t["department"], "decision": t["decision"], "decided_at": aware(t["decided_at"]),
         "claim_due": aware(t["claim_due"])}
        for t in tasks if t["status"] != "claimed" and is_overdue(t, as_of)
    ]  # fmt: skip
    return {
        "total": counts(tasks),
        "by_department": [{"department": d, **counts([t for t in tasks if t["department"] == d])} for d in departments],
        "overdue": overdue,
    }


# ---- the programme ---------------------------------------------------------------------------


def programme_json(p: Row) -> dict[str, Any]:
    done = p["milestones"]
    return {
        "code": p["code"],
        "name": p["name"],
        "bureau": p["bureau"],
        "region": p["region"],
        "level": p["level"],
        "decision_no": p["decision_no"],
        "approved_by": p["approved_by"],
        "status": p["status"],
        "status_label": ProgrammeStatus(p["status"]).label,
        "trial_start": p["trial_start"],
        "trial_end": p["trial_end"],
        "trial_started_at": aware(p["trial_started_at"]),
        "closed_at": aware(p["closed_at"]),
        "milestones": [
            {"milestone": m.value, "label": m.label, "done": m.value in done, **(done.get(m.value) or {})}
            for m in Milestone
        ],
        "batches": p["batches"],
    }


def trial_day(as_of: datetime, p: Row) -> int | None:
    """The day of the trial ``as_of`` falls on (1 = its first day), None outside it."""
    day = to_local(as_of).date()
    start, end = date.fromisoformat(p["trial_start"]), date.fromisoformat(p["trial_end"])
    return (day - start).days + 1 if start <= day <= end else None
