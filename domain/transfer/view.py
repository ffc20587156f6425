"""Plain snapshots of a programme, an item and a supervision task, and the rules Update validators check on them.

Workflows never hold aggregates: an activity answers with these frozen dataclasses (dates as ISO
strings, moments as aware datetimes: what crosses Temporal), and an Update's validator runs the
``check_*`` functions below on the snapshot the workflow last saw. Each check is the aggregate's own
rule over the snapshot (same error class, code and Chinese message), so a refused step never
reaches history; the command handler runs the aggregate's rule again when the step is executed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from domain.calendar import end_of_day, to_local
from domain.errors import InvalidValue, MissingField
from domain.staff import Actor
from domain.transfer.errors import (
    AlreadySigned,
    DecisionOutsideTrial,
    ItemAlreadyListed,
    ItemAlreadyRemoved,
    MilestoneAlreadyRecorded,
    SupervisionAlreadyClaimed,
    SupervisionWrongDepartment,
    TransferIllegalTransition,
    UnknownBatch,
    UnknownItem,
    WrongParty,
)
from domain.transfer.item import ChecklistEntry, Decision, ItemStatus, LicenceItem, Party, trial_weeks
from domain.transfer.programme import Milestone, TransferProgramme
from domain.transfer.supervision import SupervisionStatus, SupervisionTask

FINAL_STATUSES = frozenset({ItemStatus.LIVE.value, ItemStatus.ROLLED_BACK.value, ItemStatus.REMOVED.value})


@dataclass(frozen=True)
class BatchState:
    no: int
    name: str
    cut_over: datetime
    gates: tuple[str, ...]


@dataclass(frozen=True)
class ListedItem:
    code: str
    name: str
    department: str
    batch: int | None
    listed: bool


@dataclass(frozen=True)
class ProgrammeState:
    code: str
    name: str
    bureau: str
    region: str
    status: str
    trial_start: str  # ISO date
    trial_end: str
    batches: tuple[BatchState, ...]
    opened_batches: tuple[int, ...]
    milestones: tuple[str, ...]
    items: tuple[ListedItem, ...]
    version: int

    @classmethod
    def of(cls, p: TransferProgramme) -> ProgrammeState:
        return cls(
            code=p.code,
            name=p.name,
            bureau=p.bureau,
            region=p.region,
            status=p.status.value,
            trial_start=p.trial_start.isoformat(),
            trial_end=p.trial_end.isoformat(),
            batches=tuple(BatchState(b.no, b.name, b.cut_over, tuple(g.value for g in b.gates)) for b in p.batches),
            opened_batches=tuple(p.opened_batches),
            milestones=tuple(m.value for m in p.milestones),
            items=tuple(ListedItem(e.code, e.name, e.department, e.batch, e.listed) for e in p.items.values()),
            version=p.version,
        )

    def batch(self, no: int) -> BatchState:
        return next(b for b in self.batches if b.no == no)

    def listed(self, batch: int | None = None) -> list[ListedItem]:
        return [i for i in self.items if i.listed and (batch is None or i.batch == batch)]

    def entry(self, code: str) -> ListedItem | None:
        return next((i for i in self.items if i.code == code), None)


@dataclass(frozen=True)
class ItemState:
    programme: str
    code: str
    name: str
    origin: str
    bureau: str
    status: str
    batch: int | None
    planned_cut_over: datetime | None
    open_entries: tuple[str, ...]  # "entry:party" still waiting for a sign-off, in checklist order
    cut_over_at: datetime | None
    trial_start: str | None  # ISO dates
    trial_end: str | None
    weeks: tuple[str, ...]  # Mondays (ISO) whose trial figures are recorded
    pending_undo: tuple[str, ...]
    version: int

    @classmethod
    def of(cls, item: LicenceItem) -> ItemState:
        return cls(
            programme=item.programme,
            code=item.code,
            name=item.name,
            origin=item.origin,
            bureau=item.bureau,
            status=item.status.value,
            batch=item.batch,
            planned_cut_over=item.planned_cut_over,
            open_entries=tuple(f"{e.value}:{p.value}" for e, p in item.open_entries()),
            cut_over_at=item.cut_over_at,
            trial_start=item.trial_start.isoformat() if item.trial_start else None,
            trial_end=item.trial_end.isoformat() if item.trial_end else None,
            weeks=tuple(sorted(w.isoformat() for w in item.figures)),
            pending_undo=tuple(s.value for s in item.pending_undo),
            version=item.version,
        )

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def in_trial(self) -> bool:
        return ItemStatus(self.status).in_trial

    def trial_window(self) -> tuple[date, date]:
        assert self.trial_start is not None and self.trial_end is not None
        return date.fromisoformat(self.trial_start), date.fromisoformat(self.trial_end)


@dataclass(frozen=True)
class SupervisionState:
    case_no: str
    programme: str
    item_code: str
    department: str
    status: str
    claim_due: datetime
    version: int

    @classmethod
    def of(cls, t: SupervisionTask) -> SupervisionState:
        return cls(t.case_no, t.programme, t.item_code, t.department, t.status.value, t.claim_due, t.version)


# ---- the aggregates' rules over snapshots (for Update validators) -------------------------------------


ALL_ENTRIES = "all"  # sign every entry still open for the actor's party in one step


def _party(item: ItemState, actor: Actor) -> Party:
    if actor.department == item.origin:
        return Party.ORIGIN
    if actor.department == item.bureau:
        return Party.BUREAU
    raise WrongParty(
        f"{actor.describe()}既不是原部门（{item.origin}）也不是审批局（{item.bureau}），不能签认交接",
        department=actor.department,
        field="actor",
    )


def _label(status: str) -> str:
    return ItemStatus(status).label


def _status(item: ItemState, allowed: tuple[ItemStatus, ...], what: str) -> None:
    if item.status == ItemStatus.REMOVED.value and ItemStatus.REMOVED not in allowed:
        raise ItemAlreadyRemoved(f"事项「{item.name}」已移出审批局事项清单，不能{what}", item=item.code)
    if item.status not in {s.value for s in allowed}:
        raise TransferIllegalTransition(
            f"事项「{item.name}」当前为「{_label(item.status)}」，不能{what}", status=item.status, item=item.code
        )


def check_sign(item: ItemState, entry: str, actor: Actor, party: str | None) -> None:
    """``LicenceItem.check_sign`` on the snapshot: the actor's department decides the party."""
    _status(item, (ItemStatus.HANDOVER,), "签认交接")
    if entry == ALL_ENTRIES:
        own = _party(item, actor)
        if party and Party(party) is not own:
            raise WrongParty(f"{actor.describe()}属于{own.label}，不能代替{Party(party).label}签认", field="party")
        if not any(x.endswith(f":{own.value}") for x in item.open_entries):
            raise AlreadySigned(f"{own.label}已签认全部交接事项，不能重复签认", entry=entry)
        return
    e = ChecklistEntry.parse(entry)
    if actor.department == item.origin:
        own = Party.ORIGIN
    elif actor.department == item.bureau:
        own = Party.BUREAU
    else:
        raise WrongParty(
            f"{actor.describe()}既不是原部门（{item.origin}）也不是审批局（{item.bureau}），不能签认交接",
            department=actor.department,
            field="actor",
        )
    if party:
        other = Party(party)
        if other is not own:
            raise WrongParty(
                f"{actor.describe()}属于{own.label}，不能代替{other.label}签认「{e.label}」",
                field="party",
                entry=e.value,
            )
    if f"{e.value}:{own.value}" not in item.open_entries:
        raise AlreadySigned(f"{own.label}已签认「{e.label}」，不能重复签认", entry=e.value)


def check_decision(item: ItemState, decision: str, *, at: datetime, reason: str, new_end: str | None) -> None:
    """``LicenceItem.check_decision`` on the snapshot: only inside (or on the last day of) the trial."""
    try:
        d = Decision(decision)
    except ValueError:
        allowed = "、".join(f"{x.value}（{x.label}）" for x in Decision)
        raise InvalidValue(f"试运行结论「{decision}」无效，应为 {allowed} 之一", field="decision") from None
    _status(item, (ItemStatus.IN_TRIAL, ItemStatus.TRIAL_EXTENDED), f"作出「{d.label}」结论")
    start, end = item.trial_window()
    day = to_local(at).date()
    if not start <= day <= end:
        raise DecisionOutsideTrial(
            f"「{d.label}」须在试运行期内（{start}至{end}）作出，{day} 不在其中", field="at", item=item.code
        )
    if d is Decision.EXTEND:
        if not new_end:
            raise MissingField("延长试运行须写明新的结束日期", field="new_end")
        if date.fromisoformat(new_end) <= end:
            raise InvalidValue(f"新的结束日期须晚于当前结束日期 {end}", field="new_end")
    if d in (Decision.EXTEND, Decision.ROLL_BACK) and not reason.strip():
        raise MissingField("须写明原因", field="reason")


def check_milestone(programme: ProgrammeState, milestone: str, document_no: str) -> None:
    m = Milestone.parse(milestone)
    if m.value in programme.milestones:
        raise MilestoneAlreadyRecorded(f"「{m.label}」已记录，不能重复记录", milestone=m.value)
    if not document_no.strip():
        raise MissingField("须写明文号", field="document_no")


def _required(value: str, field: str, label: str) -> None:
    if not value or not value.strip():
        raise MissingField(f"须写明{label}", field=field)


def check_add_item(programme: ProgrammeState, *, code: str, department: str, batch: int | None,
                   approved_by: str, reason: str) -> None:  # fmt: skip
    if programme.status == "closed":
        raise TransferIllegalTransition("划转方案已结束，不能新增事项（请另立划转方案）", status=programme.status)
    _required(code, "item", "事项编码")
    _required(department, "department", "原实施部门")
    _required(approved_by, "approved_by", "批准机关")
    _required(reason, "reason", "新增原因")
    entry = programme.entry(code)
    if entry is not None and entry.listed:
        raise ItemAlreadyListed(f"事项「{code}」已在审批局事项清单中", item=code)
    if batch is not None and all(b.no != batch for b in programme.batches):
        known = "、".join(str(b.no) for b in programme.batches)
        raise UnknownBatch(
            f"划转方案「{programme.code}」没有第{batch}批（现有批次：{known}）", batch=batch, field="batch"
        )


def check_remove_item(programme: ProgrammeState, code: str, *, approved_by: str, reason: str) -> None:
    entry = programme.entry(code)
    if entry is None:
        raise UnknownItem(f"划转方案「{programme.code}」中没有事项「{code}」", item=code, field="item")
    if not entry.listed:
        raise ItemAlreadyRemoved(f"事项「{entry.name}」（{code}）已移出审批局事项清单", item=code)
    _required(approved_by, "approved_by", "批准机关")
    _required(reason, "reason", "移出原因")


def check_claim(task: SupervisionState, actor: Actor) -> None:
    """``SupervisionTask.check_claim`` on the snapshot."""
    if task.status == SupervisionStatus.CLAIMED.value:
        raise SupervisionAlreadyClaimed(f"监管任务「{task.case_no}」已认领", case_no=task.case_no)
    if actor.department != task.department:
        raise SupervisionWrongDepartment(
            f"监管任务「{task.case_no}」应由{task.department}认领，{actor.describe()}不能认领",
            case_no=task.case_no,
            field="actor",
        )


def plain(value: Any) -> Any:
    """JSON-friendly form of a snapshot field (for ``show``)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def snapshot_moment(week: date, trial_end: date) -> datetime:
    """When a week's trial figures are recorded: the end of its Sunday (Beijing time), or of the trial's
    last day when that comes first (the last, partial week)."""
    return min(end_of_day(week + timedelta(days=6)), end_of_day(trial_end))


def due_weeks(item: ItemState, up_to: datetime) -> list[date]:
    """The trial weeks whose snapshot moment has come (by ``up_to``) and whose figures are not recorded."""
    if item.trial_start is None or item.trial_end is None or not item.in_trial:
        return []
    start, end = item.trial_window()
    return [w for w in trial_weeks(start, end) if w.isoformat() not in item.weeks and snapshot_moment(w, end) <= up_to]


def next_snapshot(item: ItemState) -> datetime | None:
    """The next moment a weekly snapshot is due, or None (no trial, or every week recorded)."""
    if item.trial_start is None or item.trial_end is None or not item.in_trial:
        return None
    start, end = item.trial_window()
    pending = [snapshot_moment(w, end) for w in trial_weeks(start, end) if w.isoformat() not in item.weeks]
    return min(pending) if pending else None
