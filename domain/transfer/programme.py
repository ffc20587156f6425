"""The transfer programme (划转方案): bureau, batches, milestones, trial window and the living item list.

One ``TransferProgramme`` per reform (e.g. ``maerkang-2020``). It owns what is programme-wide:
batches with their planned cut-over moments, the milestones that gate cut-over (场地改造完成,
流程再造完成, 审批专用章启用公告), the trial window and the list of items the bureau undertakes
(动态管理: every addition and removal records who approved it and why). Each item's own
handover, trial and outcome live in its ``LicenceItem``.

Status: planned → handover (first batch's handover opened) → trial → closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.calendar import to_local
from domain.catalogue import Authority, Level
from domain.errors import InvalidValue, MissingField
from domain.events import Recorded
from domain.staff import Actor
from domain.transfer.errors import (
    ItemAlreadyListed,
    ItemAlreadyRemoved,
    ItemsUndecided,
    MilestoneAlreadyRecorded,
    MilestoneMissing,
    PlanConflict,
    TransferIllegalTransition,
    UnknownBatch,
    UnknownDepartment,
    UnknownItem,
    UnknownMilestone,
)

if TYPE_CHECKING:
    from domain.transfer.item import ItemStatus
    from domain.transfer.plan import Plan


class ProgrammeStatus(StrEnum):
    PLANNED = "planned"
    HANDOVER = "handover"
    TRIAL = "trial"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {
            ProgrammeStatus.PLANNED: "方案已定",
            ProgrammeStatus.HANDOVER: "交接中",
            ProgrammeStatus.TRIAL: "试运行中",
            ProgrammeStatus.CLOSED: "已结束",
        }[self]


class Milestone(StrEnum):
    HALL_READY = "hall_ready"
    PROCESSES_REENGINEERED = "processes_reengineered"
    SEAL_ANNOUNCED = "seal_announced"

    @property
    def label(self) -> str:
        return {
            Milestone.HALL_READY: "场地改造完成",
            Milestone.PROCESSES_REENGINEERED: "流程再造完成",
            Milestone.SEAL_ANNOUNCED: "审批专用章启用公告",
        }[self]

    @classmethod
    def parse(cls, value: str) -> Milestone:
        try:
            return cls(value)
        except ValueError:
            allowed = "、".join(f"{m.value}（{m.label}）" for m in cls)
            raise UnknownMilestone(f"里程碑「{value}」不存在，应为 {allowed} 之一", field="milestone") from None


ALL_MILESTONES: tuple[Milestone, ...] = tuple(Milestone)


@dataclass(frozen=True)
class Batch:
    """A group of items cut over together; ``gates`` are the milestones its cut-over waits for."""

    no: int
    name: str
    cut_over: datetime
    gates: tuple[Milestone, ...] = ALL_MILESTONES

    def to_dict(self) -> dict[str, Any]:
        return {"no": self.no, "name": self.name, "cut_over": self.cut_over, "gates": [g.value for g in self.gates]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Batch:
        return cls(int(data["no"]), str(data["name"]), data["cut_over"], tuple(Milestone(g) for g in data["gates"]))


@dataclass(frozen=True)
class MilestoneRecord:
    milestone: Milestone
    document_no: str
    note: str
    actor: dict[str, str]
    at: datetime


@dataclass(frozen=True)
class ListEntry:
    """One item on the bureau's list (or taken off it: ``listed`` False)."""

    code: str
    name: str
    department: str
    batch: int | None
    listed: bool = True


class ListChangeKind(StrEnum):
    PLANNED = "planned"
    ADDED = "added"
    REMOVED = "removed"

    @property
    def label(self) -> str:
        return {ListChangeKind.PLANNED: "方案列入", ListChangeKind.ADDED: "新增", ListChangeKind.REMOVED: "移出"}[self]


@dataclass(frozen=True)
class ListChange:
    """One line in the history of the living list: what changed, who approved it, why, on which document."""

    kind: ListChangeKind
    code: str
    name: str
    department: str
    approved_by: str
    reason: str
    document_no: str
    actor: dict[str, str]
    at: datetime


FINAL_ITEM_STATUSES = frozenset({"live", "rolled_back", "removed"})


def programme_id(code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/oneseal/transfer/{code}")


def _utc(moment: datetime) -> datetime:
    """Events hold aware UTC times; a naive time is refused (``InvalidValue``)."""
    return to_local(moment).astimezone(UTC)


def _required(value: str, field: str, label: str) -> str:
    if not value or not value.strip():
        raise MissingField(f"须写明{label}", field=field)
    return value.strip()


class TransferProgramme(Aggregate):
    class Event(Recorded):
        pass

    class Planned(Aggregate.Created, Event):
        code: str
        name: str
        bureau: str
        region: str
        level: str
        decision_no: str
        approved_by: str
        trial_start: str  # ISO date
        trial_end: str
        batches: list[dict[str, Any]]
        items: list[dict[str, Any]]  # code, name, department, batch
        plan_hash: str

    class BatchOpened(Event):
        batch: int

        def apply(self, p: TransferProgramme) -> None:
            p.opened_batches.append(self.batch)
            if p.status is ProgrammeStatus.PLANNED:
                p.status = ProgrammeStatus.HANDOVER
            p.processed_commands.append(self.command_id)

    class BatchAdded(Event):
        batch: dict[str, Any]

        def apply(self, p: TransferProgramme) -> None:
            p.batches.append(Batch.from_dict(self.batch))
            p.processed_commands.append(self.command_id)

    class BatchRescheduled(Event):
        batch: int
        cut_over: datetime
        reason: str

        def apply(self, p: TransferProgramme) -> None:
            p.batches = [Batch(b.no, b.name, self.cut_over, b.gates) if b.no == self.batch else b for b in p.batches]
            p.processed_commands.append(self.command_id)

    class MilestoneRecorded(Event):
        milestone: str
        document_no: str
        note: str = ""

        def apply(self, p: TransferProgramme) -> None:
            m = Milestone(self.milestone)
            p.milestones[m] = MilestoneRecord(m, self.document_no, self.note, dict(self.actor), self.at)
            p.processed_commands.append(self.command_id)

    class TrialStarted(Event):
        def apply(self, p: TransferProgramme) -> None:
            p.status = ProgrammeStatus.TRIAL
            p.trial_started_at = self.at
            p.processed_commands.append(self.command_id)

    class ItemAdded(Event):
        code: str
        name: str
        department: str
        batch: int | None
        approved_by: str
        reason: str
        document_no: str

        def apply(self, p: TransferProgramme) -> None:
            p.items[self.code] = ListEntry(self.code, self.name, self.department, self.batch)
            p.list_history.append(
                ListChange(
                    ListChangeKind.ADDED,
                    self.code,
                    self.name,
                    self.department,
                    self.approved_by,
                    self.reason,
                    self.document_no,
                    dict(self.actor),
                    self.at,
                )
            )
            p.processed_commands.append(self.command_id)

    class ItemRemoved(Event):
        code: str
        approved_by: str
        reason: str
        document_no: str

        def apply(self, p: TransferProgramme) -> None:
            entry = p.items[self.code]
            p.items[self.code] = ListEntry(entry.code, entry.name, entry.department, entry.batch, listed=False)
            p.list_history.append(
                ListChange(
                    ListChangeKind.REMOVED,
                    self.code,
                    entry.name,
                    entry.department,
                    self.approved_by,
                    self.reason,
                    self.document_no,
                    dict(self.actor),
                    self.at,
                )
            )
            p.processed_commands.append(self.command_id)

    class Closed(Event):
        outcomes: dict[str, int]  # item status -> count, for the record

        def apply(self, p: TransferProgramme) -> None:
            p.status = ProgrammeStatus.CLOSED
            p.closed_at = self.at
            p.processed_commands.append(self.command_id)

    @staticmethod
    def create_id(code: str) -> UUID:
        return programme_id(code)

    @event(Planned)
    def __init__(
        self,
        code: str,
        name: str,
        bureau: str,
        region: str,
        level: str,
        decision_no: str,
        approved_by: str,
        trial_start: str,
        trial_end: str,
        batches: list[dict[str, Any]],
        items: list[dict[str, Any]],
        plan_hash: str,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
    ) -> None:
        self.code, self.name = code, name
        self.bureau, self.region, self.level = bureau, region, Level(level)
        self.decision_no, self.approved_by = decision_no, approved_by
        self.trial_start = date.fromisoformat(trial_start)
        self.trial_end = date.fromisoformat(trial_end)
        self.batches: list[Batch] = sorted((Batch.from_dict(b) for b in batches), key=lambda b: b.no)
        self.items: dict[str, ListEntry] = {}
        self.list_history: list[ListChange] = []
        for i in items:
            entry = ListEntry(str(i["code"]), str(i["name"]), str(i["department"]), i.get("batch"))
            self.items[entry.code] = entry
            self.list_history.append(
                ListChange(
                    ListChangeKind.PLANNED,
                    entry.code,
                    entry.name,
                    entry.department,
                    approved_by,
                    "列入划转方案",
                    decision_no,
                    dict(actor),
                    at,
                )
            )
        self.plan_hash = plan_hash
        self.status = ProgrammeStatus.PLANNED
        self.opened_batches: list[int] = []
        self.milestones: dict[Milestone, MilestoneRecord] = {}
        self.trial_started_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.processed_commands: list[str] = [command_id]

    @classmethod
    def from_plan(cls, plan: Plan, *, actor: Actor, at: datetime, command_id: str) -> TransferProgramme:
        """Create the programme from a validated plan (``domain.transfer.plan``); items are created beside it."""
        return cls(
            code=plan.code,
            name=plan.name,
            bureau=plan.bureau,
            region=plan.region,
            level=plan.level.value,
            decision_no=plan.decision_no,
            approved_by=plan.approved_by,
            trial_start=plan.trial_start.isoformat(),
            trial_end=plan.trial_end.isoformat(),
            batches=[b.to_dict() for b in plan.batches],
            items=[{"code": i.code, "name": i.name, "department": i.department, "batch": i.batch} for i in plan.items],
            plan_hash=plan.content_hash,
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    # ---- queries ------------------------------------------------------------------------------

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    @property
    def authority(self) -> Authority:
        """The bureau as a competent authority: where routing points once an item has cut over."""
        return Authority(self.bureau, self.level, self.region)

    def batch(self, no: int) -> Batch:
        for b in self.batches:
            if b.no == no:
                return b
        known = "、".join(str(b.no) for b in self.batches)
        raise UnknownBatch(f"划转方案「{self.code}」没有第{no}批（现有批次：{known}）", batch=no, field="batch")

    def is_batch_open(self, no: int) -> bool:
        return no in self.opened_batches

    def listed(self) -> list[ListEntry]:
        return [e for e in self.items.values() if e.listed]

    def is_listed(self, code: str) -> bool:
        entry = self.items.get(code)
        return entry is not None and entry.listed

    def require_listed(self, code: str) -> ListEntry:
        """The item's list entry; refuses an item never on the list, or taken off it."""
        entry = self.items.get(code)
        if entry is None:
            raise UnknownItem(f"划转方案「{self.code}」中没有事项「{code}」", item=code, field="item")
        if not entry.listed:
            raise ItemAlreadyRemoved(f"事项「{entry.name}」（{code}）已移出审批局事项清单", item=code)
        return entry

    def departments(self) -> list[str]:
        return sorted({e.department for e in self.items.values()})

    def items_of(self, department: str) -> list[ListEntry]:
        if department not in self.departments():
            raise UnknownDepartment(
                f"划转方案「{self.code}」中没有「{department}」的事项", department=department, field="department"
            )
        return [e for e in self.items.values() if e.department == department]

    def missing_gates(self, batch_no: int) -> list[Milestone]:
        return [m for m in self.batch(batch_no).gates if m not in self.milestones]

    def check_gates(self, batch_no: int) -> None:
        missing = self.missing_gates(batch_no)
        if missing:
            raise MilestoneMissing(
                f"第{batch_no}批切换前须完成：{'、'.join(m.label for m in missing)}",
                batch=batch_no,
                milestones=[m.value for m in missing],
            )

    def check_reload(self, plan_hash: str) -> bool:
        """True when the same plan was already loaded (nothing to do); refuses a different plan for this code."""
        if plan_hash == self.plan_hash:
            return True
        raise PlanConflict(
            f"划转方案「{self.code}」已按另一版本载入；调整事项请使用新增或移出事项，而非重新载入方案",
            programme=self.code,
        )

    def _check_not_closed(self, what: str) -> None:
        if self.status is ProgrammeStatus.CLOSED:
            raise TransferIllegalTransition(f"划转方案已结束，不能{what}", status=self.status.value)

    # ---- commands -----------------------------------------------------------------------------

    def check_open_batch(self, batch_no: int) -> None:
        self._check_not_closed("启动交接")
        self.batch(batch_no)
        if self.is_batch_open(batch_no):
            raise TransferIllegalTransition(f"第{batch_no}批交接已启动", batch=batch_no)
        earlier = [b.no for b in self.batches if b.no < batch_no and not self.is_batch_open(b.no)]
        if earlier:
            raise TransferIllegalTransition(f"须先启动第{earlier[0]}批交接（批次按顺序进行）", batch=batch_no)

    def open_batch(self, batch_no: int, *, actor: Actor, at: datetime, command_id: str) -> None:
        """Open a batch's handover: its items' checklists may now be signed."""
        if self.has_processed(command_id):
            return
        self.check_open_batch(batch_no)
        self.trigger_event(self.BatchOpened, batch=batch_no, actor=actor.to_dict(), at=_utc(at), command_id=command_id)

    def check_add_batch(self, batch: Batch) -> None:
        self._check_not_closed("增加批次")
        if any(b.no == batch.no for b in self.batches):
            raise InvalidValue(f"第{batch.no}批已存在", field="batch")
        if batch.cut_over.tzinfo is None:
            raise InvalidValue("切换时间必须带时区", field="cut_over")
        last = max(self.batches, key=lambda b: b.no, default=None)
        if last is not None and (batch.no < last.no or batch.cut_over <= last.cut_over):
            raise InvalidValue(f"新批次须排在第{last.no}批之后（编号与切换时间均更晚）", field="batch")
        _required(batch.name, "name", "批次名称")

    def add_batch(self, batch: Batch, *, actor: Actor, at: datetime, command_id: str) -> None:
        """A later batch, e.g. for items added to the list during the trial."""
        if self.has_processed(command_id):
            return
        self.check_add_batch(batch)
        b = Batch(batch.no, batch.name.strip(), batch.cut_over.astimezone(UTC), batch.gates)
        self.trigger_event(
            self.BatchAdded, batch=b.to_dict(), actor=actor.to_dict(), at=_utc(at), command_id=command_id
        )

    def check_reschedule(self, batch_no: int, cut_over: datetime, reason: str) -> None:
        self._check_not_closed("调整批次")
        self.batch(batch_no)
        _required(reason, "reason", "调整原因")
        if cut_over.tzinfo is None:
            raise InvalidValue("切换时间必须带时区", field="cut_over")
        before = [b for b in self.batches if b.no < batch_no]
        after = [b for b in self.batches if b.no > batch_no]
        if (before and cut_over <= before[-1].cut_over) or (after and cut_over >= after[0].cut_over):
            raise InvalidValue("调整后的切换时间须在前后批次之间（批次按顺序切换）", field="cut_over")

    def reschedule_batch(
        self, batch_no: int, *, cut_over: datetime, reason: str, actor: Actor, at: datetime, command_id: str
    ) -> None:
        if self.has_processed(command_id):
            return
        self.check_reschedule(batch_no, cut_over, reason)
        self.trigger_event(
            self.BatchRescheduled,
            batch=batch_no,
            cut_over=cut_over.astimezone(UTC),
            reason=reason.strip(),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_milestone(self, milestone: Milestone | str, document_no: str) -> Milestone:
        m = Milestone.parse(str(milestone))
        if m in self.milestones:
            done = self.milestones[m]
            raise MilestoneAlreadyRecorded(
                f"「{m.label}」已于{to_local(done.at):%Y-%m-%d}记录（文号：{done.document_no}），不能重复记录",
                milestone=m.value,
            )
        _required(document_no, "document_no", "文号")
        return m

    def record_milestone(
        self,
        milestone: Milestone | str,
        *,
        document_no: str,
        note: str = "",
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> None:
        """Record a milestone once, with who, when and the document number."""
        if self.has_processed(command_id):
            return
        m = self.check_milestone(milestone, document_no)
        self.trigger_event(
            self.MilestoneRecorded,
            milestone=m.value,
            document_no=document_no.strip(),
            note=note.strip(),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_start_trial(self, at: datetime) -> None:
        if self.status is not ProgrammeStatus.HANDOVER:
            raise TransferIllegalTransition(
                f"划转方案当前为「{self.status.label}」，不能开始试运行", status=self.status.value
            )
        missing = [m for m in Milestone if m not in self.milestones]
        if missing:
            raise MilestoneMissing(
                f"开始试运行前须完成：{'、'.join(m.label for m in missing)}", milestones=[m.value for m in missing]
            )
        if to_local(at).date() < self.trial_start:
            raise TransferIllegalTransition(f"试运行自{self.trial_start:%Y年%m月%d日}开始，尚未到期", field="at")

    def start_trial(self, *, actor: Actor, at: datetime, command_id: str) -> None:
        if self.has_processed(command_id):
            return
        self.check_start_trial(at)
        self.trigger_event(self.TrialStarted, actor=actor.to_dict(), at=_utc(at), command_id=command_id)

    def check_add_item(
        self, *, code: str, name: str, department: str, batch: int | None, approved_by: str, reason: str
    ) -> None:
        self._check_not_closed("新增事项（请另立划转方案）")
        _required(code, "item", "事项编码")
        _required(name, "name", "事项名称")
        _required(department, "department", "原实施部门")
        _required(approved_by, "approved_by", "批准机关")
        _required(reason, "reason", "新增原因")
        if department.strip() == self.bureau:
            raise UnknownDepartment(f"「{department}」是承接部门本身，不是原实施部门", field="department")
        if self.is_listed(code):
            raise ItemAlreadyListed(f"事项「{code}」已在审批局事项清单中", item=code)
        if batch is not None:
            self.batch(batch)

    def add_item(
        self,
        *,
        code: str,
        name: str,
        department: str,
        batch: int | None,
        approved_by: str,
        reason: str,
        document_no: str = "",
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> None:
        """Put an item on the bureau's list (动态管理); a removed item may come back the same way."""
        if self.has_processed(command_id):
            return
        self.check_add_item(
            code=code, name=name, department=department, batch=batch, approved_by=approved_by, reason=reason
        )
        self.trigger_event(
            self.ItemAdded,
            code=code.strip(),
            name=name.strip(),
            department=department.strip(),
            batch=batch,
            approved_by=approved_by.strip(),
            reason=reason.strip(),
            document_no=document_no.strip(),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_remove_item(self, code: str, *, approved_by: str, reason: str) -> None:
        self.require_listed(code)
        _required(approved_by, "approved_by", "批准机关")
        _required(reason, "reason", "移出原因")

    def remove_item(
        self,
        code: str,
        *,
        approved_by: str,
        reason: str,
        document_no: str = "",
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> None:
        """Take an item off the list at any time (also after the programme closed: a hand-back)."""
        if self.has_processed(command_id):
            return
        self.check_remove_item(code, approved_by=approved_by, reason=reason)
        self.trigger_event(
            self.ItemRemoved,
            code=code,
            approved_by=approved_by.strip(),
            reason=reason.strip(),
            document_no=document_no.strip(),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_close(self, outcomes: Mapping[str, ItemStatus | str]) -> None:
        if self.status is not ProgrammeStatus.TRIAL:
            raise TransferIllegalTransition(
                f"划转方案当前为「{self.status.label}」，不能结束", status=self.status.value
            )
        undecided = sorted(e.code for e in self.listed() if str(outcomes.get(e.code, "")) not in FINAL_ITEM_STATUSES)
        if undecided:
            raise ItemsUndecided(
                f"尚有{len(undecided)}个事项未作出试运行结论（如 {'、'.join(undecided[:3])}），不能结束划转方案",
                items=undecided,
            )

    def close(self, outcomes: Mapping[str, ItemStatus | str], *, actor: Actor, at: datetime, command_id: str) -> None:
        """End the programme once every listed item went live or was rolled back (``outcomes``: code -> status)."""
        if self.has_processed(command_id):
            return
        self.check_close(outcomes)
        counts: dict[str, int] = {}
        for e in self.listed():
            key = str(outcomes[e.code])
            counts[key] = counts.get(key, 0) + 1
        counts["removed"] = len(self.items) - len(self.listed())
        self.trigger_event(self.Closed, outcomes=counts, actor=actor.to_dict(), at=_utc(at), command_id=command_id)
