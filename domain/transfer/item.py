"""One licensing item on its way from a department to the approval bureau, and possibly back.

Status: catalogued → scheduled (in a batch) → handover → in_trial → live | trial_extended (→ live |
rolled_back) | rolled_back; any status → removed (taken off the bureau's list). Removed items may
be relisted.

Handover (交接): seven checklist entries, each signed by BOTH the origin department and the
bureau; the actor's department decides which party signs, nobody signs for the other party, and
no party signs an entry twice. Cut-over waits for every entry and for the batch's milestones.

Winding back (a roll-back, or a removal while in flight): the item's state lists what must be
undone (``pending_undo``: routing back to the origin, personnel back, handed-over files and
certificates returned); the service does each step, records it beside ``mark_undone`` in the
same save, and the item says when nothing is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.calendar import to_local
from domain.catalogue import Authority, Level
from domain.errors import InvalidValue, MissingField
from domain.events import Recorded
from domain.staff import Actor, Post, StaffDirectory
from domain.transfer.errors import (
    AlreadySigned,
    ChecklistOpen,
    DecisionOutsideTrial,
    ItemAlreadyRemoved,
    TransferIllegalTransition,
    UnknownEntry,
    WeekAlreadyRecorded,
    WrongParty,
)
from domain.transfer.programme import Batch, TransferProgramme

if TYPE_CHECKING:
    from domain.transfer.plan import PlanItem


class ItemStatus(StrEnum):
    CATALOGUED = "catalogued"
    SCHEDULED = "scheduled"
    HANDOVER = "handover"
    IN_TRIAL = "in_trial"
    LIVE = "live"
    TRIAL_EXTENDED = "trial_extended"
    ROLLED_BACK = "rolled_back"
    REMOVED = "removed"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def at_bureau(self) -> bool:
        """The bureau handles the item's new cases (it has cut over and not gone back)."""
        return self in (ItemStatus.IN_TRIAL, ItemStatus.TRIAL_EXTENDED, ItemStatus.LIVE)

    @property
    def in_trial(self) -> bool:
        return self in (ItemStatus.IN_TRIAL, ItemStatus.TRIAL_EXTENDED)


_STATUS_LABELS = {
    ItemStatus.CATALOGUED: "待排批次",
    ItemStatus.SCHEDULED: "已排批次",
    ItemStatus.HANDOVER: "交接中",
    ItemStatus.IN_TRIAL: "试运行中",
    ItemStatus.LIVE: "正式运行",
    ItemStatus.TRIAL_EXTENDED: "延长试运行",
    ItemStatus.ROLLED_BACK: "已回退原部门",
    ItemStatus.REMOVED: "已移出清单",
}


class Party(StrEnum):
    ORIGIN = "origin"
    BUREAU = "bureau"

    @property
    def label(self) -> str:
        return "原部门" if self is Party.ORIGIN else "审批局"


class ChecklistEntry(StrEnum):
    AUTHORITY = "authority"
    PERSONNEL = "personnel"
    DUTIES = "duties"
    FILES = "files"
    CERTIFICATES = "certificates"
    ACCOUNTS = "accounts"
    SEAL = "seal"

    @property
    def label(self) -> str:
        return {
            ChecklistEntry.AUTHORITY: "许可权限及设定依据",
            ChecklistEntry.PERSONNEL: "随事划转人员",
            ChecklistEntry.DUTIES: "审管职责分工（审批与监管）",
            ChecklistEntry.FILES: "文件资料及档案",
            ChecklistEntry.CERTIFICATES: "空白制式证照",
            ChecklistEntry.ACCOUNTS: "业务系统账号及权限",
            ChecklistEntry.SEAL: "审批专用章",
        }[self]

    @classmethod
    def parse(cls, value: str) -> ChecklistEntry:
        try:
            return cls(value)
        except ValueError:
            allowed = "、".join(f"{e.value}（{e.label}）" for e in cls)
            raise UnknownEntry(f"交接清单中没有「{value}」，应为 {allowed} 之一", field="entry") from None


class Decision(StrEnum):
    GO_LIVE = "go_live"
    EXTEND = "extend"
    ROLL_BACK = "roll_back"

    @property
    def label(self) -> str:
        return {Decision.GO_LIVE: "转入正式运行", Decision.EXTEND: "延长试运行", Decision.ROLL_BACK: "回退原部门"}[self]


class UndoStep(StrEnum):
    ROUTING_BACK = "routing_back"
    PERSONNEL_BACK = "personnel_back"
    RETURN_HANDOVER = "return_handover"

    @property
    def label(self) -> str:
        return {
            UndoStep.ROUTING_BACK: "审批权限退回原部门",
            UndoStep.PERSONNEL_BACK: "随事划转人员回原部门",
            UndoStep.RETURN_HANDOVER: "退还已移交的文件、证照、账号及印章",
        }[self]


@dataclass(frozen=True)
class Person:
    """Someone who moves with the item (人随事走)."""

    user_id: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"user_id": self.user_id, "name": self.name}


@dataclass(frozen=True)
class SignOff:
    party: Party
    actor: dict[str, str]
    at: datetime
    note: str
    document_no: str


@dataclass(frozen=True)
class TrialFigures:
    """One service-calendar week (Monday to Sunday, Beijing time) of the item at the bureau."""

    week_start: date
    accepted: int
    completed: int
    on_time_rate: float | None  # percent, 0–100; None when nothing was completed
    overdue: int
    avg_working_days: float | None
    recorded_at: datetime


def item_id(programme: str, code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/oneseal/transfer/{programme}/items/{code}")


def week_start_of(day: date | datetime) -> date:
    """The Monday of the (Beijing-time) week a day or moment falls in."""
    d = to_local(day).date() if isinstance(day, datetime) else day
    return d - timedelta(days=d.weekday())


def trial_weeks(start: date, end: date) -> list[date]:
    """Mondays of every week that overlaps ``[start, end]``: when the weekly snapshot records figures."""
    weeks, monday = [], week_start_of(start)
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _utc(moment: datetime) -> datetime:
    return to_local(moment).astimezone(UTC)


def _required(value: str, field: str, label: str) -> str:
    if not value or not value.strip():
        raise MissingField(f"须写明{label}", field=field)
    return value.strip()


class LicenceItem(Aggregate):
    class Event(Recorded):
        pass

    class Catalogued(Aggregate.Created, Event):
        programme: str
        code: str
        name: str
        origin: str
        level: str
        region: str
        bureau: str
        legal_basis: str
        personnel: list[dict[str, str]]
        supervisor: str = ""  # the department that supervises after transfer (审管联动); default: origin

    class Scheduled(Event):
        batch: int
        planned_cut_over: datetime

        def apply(self, item: LicenceItem) -> None:
            item.status = ItemStatus.SCHEDULED
            item.batch, item.planned_cut_over = self.batch, self.planned_cut_over
            item.processed_commands.append(self.command_id)

    class HandoverOpened(Event):
        entries: list[str]

        def apply(self, item: LicenceItem) -> None:
            item.status = ItemStatus.HANDOVER
            item.checklist = {ChecklistEntry(e): {} for e in self.entries}
            item.processed_commands.append(self.command_id)

    class EntrySigned(Event):
        entry: str
        party: str
        note: str = ""
        document_no: str = ""

        def apply(self, item: LicenceItem) -> None:
            party = Party(self.party)
            item.checklist[ChecklistEntry(self.entry)][party] = SignOff(
                party, dict(self.actor), self.at, self.note, self.document_no
            )
            item.handover_delivered = True
            item.processed_commands.append(self.command_id)

    class CutOver(Event):
        effective_from: datetime
        department: str
        level: str
        region: str
        trial_start: str  # ISO date
        trial_end: str

        def apply(self, item: LicenceItem) -> None:
            item.status = ItemStatus.IN_TRIAL
            item.authority = Authority(self.department, Level(self.level), self.region)
            item.cut_over_at = self.effective_from
            item.trial_start = date.fromisoformat(self.trial_start)
            item.trial_end = date.fromisoformat(self.trial_end)
            item.personnel_at_bureau = bool(item.personnel)
            item.processed_commands.append(self.command_id)

    class TrialFiguresRecorded(Event):
        week_start: str  # ISO date of the Monday
        accepted: int
        completed: int
        on_time_rate: float | None
        overdue: int
        avg_working_days: float | None

        def apply(self, item: LicenceItem) -> None:
            week = date.fromisoformat(self.week_start)
            item.figures[week] = TrialFigures(
                week,
                self.accepted,
                self.completed,
                self.on_time_rate,
                self.overdue,
                self.avg_working_days,
                self.at,
            )
            item.processed_commands.append(self.command_id)

    class TrialExtended(Event):
        new_end: str
        reason: str

        def apply(self, item: LicenceItem) -> None:
            item.status = ItemStatus.TRIAL_EXTENDED
            item.trial_end = date.fromisoformat(self.new_end)
            item.decisions.append((Decision.EXTEND, self.reason, self.at))
            item.processed_commands.append(self.command_id)

    class WentLive(Event):
        note: str = ""

        def apply(self, item: LicenceItem) -> None:
            item.status = ItemStatus.LIVE
            item.decisions.append((Decision.GO_LIVE, self.note, self.at))
            item.processed_commands.append(self.command_id)

    class RolledBack(Event):
        reason: str
        undo: list[str]

        def apply(self, item: LicenceItem) -> None:
            item.status = ItemStatus.ROLLED_BACK
            item.decisions.append((Decision.ROLL_BACK, self.reason, self.at))
            item.pending_undo = [UndoStep(s) for s in self.undo]
            item.processed_commands.append(self.command_id)

    class Removed(Event):
        approved_by: str
        reason: str
        document_no: str
        was: str  # the status it was removed from
        undo: list[str]

        def apply(self, item: LicenceItem) -> None:
            item.status = ItemStatus.REMOVED
            item.removal = {"approved_by": self.approved_by, "reason": self.reason, "was": self.was, "at": self.at}
            item.pending_undo = [UndoStep(s) for s in self.undo]
            item.processed_commands.append(self.command_id)

    class WindBackDone(Event):
        step: str
        note: str = ""

        def apply(self, item: LicenceItem) -> None:
            step = UndoStep(self.step)
            item.pending_undo = [s for s in item.pending_undo if s is not step]
            if step is UndoStep.ROUTING_BACK:
                item.authority = item.origin_authority
            elif step is UndoStep.PERSONNEL_BACK:
                item.personnel_at_bureau = False
            else:
                item.handover_delivered = False
            item.processed_commands.append(self.command_id)

    class Relisted(Event):
        approved_by: str
        reason: str
        document_no: str = ""

        def apply(self, item: LicenceItem) -> None:
            item.status = ItemStatus.CATALOGUED
            item.batch, item.planned_cut_over = None, None
            item.checklist = {}
            item.cut_over_at, item.trial_start, item.trial_end = None, None, None
            item.removal = None
            item.processed_commands.append(self.command_id)

    @staticmethod
    def create_id(programme: str, code: str) -> UUID:
        return item_id(programme, code)

    @event(Catalogued)
    def __init__(
        self,
        programme: str,
        code: str,
        name: str,
        origin: str,
        level: str,
        region: str,
        bureau: str,
        legal_basis: str,
        personnel: list[dict[str, str]],
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        supervisor: str = "",
    ) -> None:
        self.programme, self.code, self.name = programme, code, name
        self.origin, self.bureau, self.legal_basis = origin, bureau, legal_basis
        self.supervisor = supervisor or origin
        self.origin_authority = Authority(origin, Level(level), region)
        self.bureau_authority = Authority(bureau, Level(level), region)
        self.authority = self.origin_authority
        self.personnel = [Person(p["user_id"], p["name"]) for p in personnel]
        self.status = ItemStatus.CATALOGUED
        self.batch: int | None = None
        self.planned_cut_over: datetime | None = None
        self.checklist: dict[ChecklistEntry, dict[Party, SignOff]] = {}
        self.cut_over_at: datetime | None = None
        self.trial_start: date | None = None
        self.trial_end: date | None = None
        self.figures: dict[date, TrialFigures] = {}
        self.decisions: list[tuple[Decision, str, datetime]] = []
        self.removal: dict[str, Any] | None = None
        self.pending_undo: list[UndoStep] = []
        self.personnel_at_bureau = False
        self.handover_delivered = False
        self.processed_commands: list[str] = [command_id]

    @classmethod
    def catalogue(
        cls,
        programme: TransferProgramme,
        *,
        code: str,
        name: str,
        origin: str,
        legal_basis: str,
        personnel: Sequence[Person] = (),
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> LicenceItem:
        """An item of a programme's list, with its legal basis and the people who move with it."""
        entry = programme.require_listed(code)
        if origin != entry.department:
            raise InvalidValue(f"事项「{code}」的原实施部门应为{entry.department}", field="department")
        return cls(
            programme=programme.code,
            code=code,
            name=_required(name, "name", "事项名称"),
            origin=origin,
            level=programme.level.value,
            region=programme.region,
            bureau=programme.bureau,
            legal_basis=_required(legal_basis, "legal_basis", "设定依据"),
            personnel=[p.to_dict() for p in personnel],
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    @classmethod
    def from_plan(
        cls, programme: TransferProgramme, item: PlanItem, *, actor: Actor, at: datetime, command_id: str
    ) -> LicenceItem:
        """Catalogue a plan row and schedule it into its batch (two events, one save)."""
        licence = cls.catalogue(
            programme,
            code=item.code,
            name=item.name,
            origin=item.department,
            legal_basis=item.legal_basis,
            personnel=item.personnel,
            actor=actor,
            at=at,
            command_id=f"{command_id}/catalogue",
        )
        licence.schedule(programme.batch(item.batch), actor=actor, at=at, command_id=f"{command_id}/schedule")
        return licence

    # ---- queries ------------------------------------------------------------------------------

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    def open_entries(self) -> list[tuple[ChecklistEntry, Party]]:
        """Every (entry, party) still waiting for a sign-off, in checklist order."""
        return [(e, p) for e, signed in self.checklist.items() for p in Party if p not in signed]

    def party_of(self, actor: Actor) -> Party:
        if actor.department == self.origin:
            return Party.ORIGIN
        if actor.department == self.bureau:
            return Party.BUREAU
        raise WrongParty(
            f"{actor.describe()}既不是原部门（{self.origin}）也不是审批局（{self.bureau}），不能签认交接",
            department=actor.department,
            field="actor",
        )

    def _check_status(self, allowed: Iterable[ItemStatus], what: str) -> None:
        if self.status is ItemStatus.REMOVED and ItemStatus.REMOVED not in allowed:
            raise ItemAlreadyRemoved(f"事项「{self.name}」已移出审批局事项清单，不能{what}", item=self.code)
        if self.status not in allowed:
            raise TransferIllegalTransition(
                f"事项「{self.name}」当前为「{self.status.label}」，不能{what}",
                status=self.status.value,
                item=self.code,
            )

    def _check_programme(self, programme: TransferProgramme) -> None:
        if programme.code != self.programme:
            raise InvalidValue(f"事项「{self.code}」属于划转方案「{self.programme}」", field="programme")
        programme.require_listed(self.code)

    def _undo_needed(self) -> list[UndoStep]:
        steps = []
        if self.authority != self.origin_authority:
            steps.append(UndoStep.ROUTING_BACK)
        if self.personnel_at_bureau:
            steps.append(UndoStep.PERSONNEL_BACK)
        if self.handover_delivered:
            steps.append(UndoStep.RETURN_HANDOVER)
        return steps

    # ---- commands -----------------------------------------------------------------------------

    def check_schedule(self, batch: Batch) -> None:
        self._check_status((ItemStatus.CATALOGUED, ItemStatus.SCHEDULED), "排入批次")
        if self.batch == batch.no:
            raise TransferIllegalTransition(f"事项「{self.name}」已排入第{batch.no}批", batch=batch.no)

    def schedule(self, batch: Batch, *, actor: Actor, at: datetime, command_id: str) -> None:
        """Put the item in a batch (or move it to another one before its handover opens)."""
        if self.has_processed(command_id):
            return
        self.check_schedule(batch)
        self.trigger_event(
            self.Scheduled,
            batch=batch.no,
            planned_cut_over=batch.cut_over.astimezone(UTC),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_open_handover(self, programme: TransferProgramme) -> None:
        self._check_status((ItemStatus.SCHEDULED,), "开始交接")
        self._check_programme(programme)
        assert self.batch is not None
        if not programme.is_batch_open(self.batch):
            raise TransferIllegalTransition(f"第{self.batch}批交接尚未启动", batch=self.batch)

    def open_handover(self, programme: TransferProgramme, *, actor: Actor, at: datetime, command_id: str) -> None:
        if self.has_processed(command_id):
            return
        self.check_open_handover(programme)
        self.trigger_event(
            self.HandoverOpened,
            entries=[e.value for e in ChecklistEntry],
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_sign(
        self, entry: ChecklistEntry | str, actor: Actor, party: Party | str | None = None
    ) -> tuple[ChecklistEntry, Party]:
        self._check_status((ItemStatus.HANDOVER,), "签认交接")
        e = ChecklistEntry.parse(str(entry))
        own = self.party_of(actor)
        if party is not None and Party(party) is not own:
            other = Party(party)
            raise WrongParty(
                f"{actor.describe()}属于{own.label}，不能代替{other.label}签认「{e.label}」",
                field="party",
                entry=e.value,
            )
        done = self.checklist[e].get(own)
        if done is not None:
            raise AlreadySigned(
                f"{own.label}已于{to_local(done.at):%Y-%m-%d}签认「{e.label}」，不能重复签认", entry=e.value
            )
        return e, own

    def sign(
        self,
        entry: ChecklistEntry | str,
        *,
        actor: Actor,
        party: Party | str | None = None,
        note: str = "",
        document_no: str = "",
        at: datetime,
        command_id: str,
    ) -> None:
        """One party's sign-off of one checklist entry; the party is the actor's department."""
        if self.has_processed(command_id):
            return
        e, own = self.check_sign(entry, actor, party)
        self.trigger_event(
            self.EntrySigned,
            entry=e.value,
            party=own.value,
            note=note.strip(),
            document_no=document_no.strip(),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_cut_over(self, programme: TransferProgramme) -> None:
        self._check_status((ItemStatus.HANDOVER,), "切换至审批局")
        self._check_programme(programme)
        open_entries = self.open_entries()
        if open_entries:
            waiting = "；".join(f"{e.label}（待{p.label}签认）" for e, p in open_entries)
            raise ChecklistOpen(
                f"事项「{self.name}」尚有{len(open_entries)}处交接未签认：{waiting}",
                item=self.code,
                open=[f"{e.value}:{p.value}" for e, p in open_entries],
            )
        assert self.batch is not None
        programme.check_gates(self.batch)

    def cut_over(
        self, programme: TransferProgramme, *, effective_from: datetime, actor: Actor, at: datetime, command_id: str
    ) -> None:
        """The bureau takes the item over from ``effective_from`` (routing and personnel follow in the same save)."""
        if self.has_processed(command_id):
            return
        self.check_cut_over(programme)
        effective = _utc(effective_from)
        trial_start = max(to_local(effective).date(), programme.trial_start)
        self.trigger_event(
            self.CutOver,
            effective_from=effective,
            department=self.bureau_authority.department,
            level=self.bureau_authority.level.value,
            region=self.bureau_authority.region,
            trial_start=trial_start.isoformat(),
            trial_end=max(programme.trial_end, trial_start).isoformat(),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_trial_figures(
        self,
        *,
        week_start: date,
        accepted: int,
        completed: int,
        on_time_rate: float | None,
        overdue: int,
        avg_working_days: float | None,
    ) -> None:
        self._check_status((ItemStatus.IN_TRIAL, ItemStatus.TRIAL_EXTENDED), "记录试运行数据")
        if week_start.weekday() != 0:
            raise InvalidValue(f"周起始日 {week_start} 不是星期一", field="week_start")
        assert self.trial_start is not None and self.trial_end is not None
        if week_start > self.trial_end or week_start + timedelta(days=6) < self.trial_start:
            raise DecisionOutsideTrial(
                f"{week_start} 所在周不在试运行期（{self.trial_start}至{self.trial_end}）内", field="week_start"
            )
        if week_start in self.figures:
            raise WeekAlreadyRecorded(f"事项「{self.name}」{week_start} 所在周的试运行数据已记录", field="week_start")
        for name, value in (("accepted", accepted), ("completed", completed), ("overdue", overdue)):
            if not isinstance(value, int) or value < 0:
                raise InvalidValue(f"{name} 须为非负整数：{value}", field=name)
        if on_time_rate is not None and not 0 <= on_time_rate <= 100:
            raise InvalidValue(f"按时办结率须在 0 至 100 之间：{on_time_rate}", field="on_time_rate")
        if avg_working_days is not None and avg_working_days < 0:
            raise InvalidValue(f"平均办理工作日不能为负：{avg_working_days}", field="avg_working_days")

    def record_trial_figures(
        self,
        *,
        week_start: date,
        accepted: int,
        completed: int,
        on_time_rate: float | None,
        overdue: int,
        avg_working_days: float | None,
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> None:
        """One week's figures of the item at the bureau, from the read models (the weekly snapshot)."""
        if self.has_processed(command_id):
            return
        self.check_trial_figures(
            week_start=week_start,
            accepted=accepted,
            completed=completed,
            on_time_rate=on_time_rate,
            overdue=overdue,
            avg_working_days=avg_working_days,
        )
        self.trigger_event(
            self.TrialFiguresRecorded,
            week_start=week_start.isoformat(),
            accepted=accepted,
            completed=completed,
            on_time_rate=None if on_time_rate is None else float(on_time_rate),
            overdue=overdue,
            avg_working_days=None if avg_working_days is None else float(avg_working_days),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_decision(
        self, decision: Decision | str, *, at: datetime, reason: str = "", new_end: date | None = None
    ) -> Decision:
        d = Decision(decision)
        self._check_status((ItemStatus.IN_TRIAL, ItemStatus.TRIAL_EXTENDED), f"作出「{d.label}」结论")
        assert self.trial_start is not None and self.trial_end is not None
        day = to_local(at).date()
        if not self.trial_start <= day <= self.trial_end:
            raise DecisionOutsideTrial(
                f"「{d.label}」须在试运行期内（{self.trial_start}至{self.trial_end}）作出，{day} 不在其中",
                field="at",
                item=self.code,
            )
        if d is Decision.EXTEND:
            if new_end is None:
                raise MissingField("延长试运行须写明新的结束日期", field="new_end")
            if new_end <= self.trial_end:
                raise InvalidValue(f"新的结束日期须晚于当前结束日期 {self.trial_end}", field="new_end")
        if d in (Decision.EXTEND, Decision.ROLL_BACK):
            _required(reason, "reason", "原因")
        return d

    def decide(
        self,
        decision: Decision | str,
        *,
        reason: str = "",
        new_end: date | None = None,
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> None:
        """The end-of-trial decision: go live, extend the trial to ``new_end``, or roll back (``reason``)."""
        if self.has_processed(command_id):
            return
        d = self.check_decision(decision, at=at, reason=reason, new_end=new_end)
        common: dict[str, Any] = {"actor": actor.to_dict(), "at": _utc(at), "command_id": command_id}
        if d is Decision.GO_LIVE:
            self.trigger_event(self.WentLive, note=reason.strip(), **common)
        elif d is Decision.EXTEND:
            assert new_end is not None
            self.trigger_event(self.TrialExtended, new_end=new_end.isoformat(), reason=reason.strip(), **common)
        else:
            undo = [s.value for s in self._undo_needed()]
            self.trigger_event(self.RolledBack, reason=reason.strip(), undo=undo, **common)

    def check_remove(self, *, approved_by: str, reason: str) -> None:
        if self.status is ItemStatus.REMOVED:
            raise ItemAlreadyRemoved(f"事项「{self.name}」（{self.code}）已移出审批局事项清单", item=self.code)
        _required(approved_by, "approved_by", "批准机关")
        _required(reason, "reason", "移出原因")

    def remove(
        self, *, approved_by: str, reason: str, document_no: str = "", actor: Actor, at: datetime, command_id: str
    ) -> None:
        """Take the item off the list; in flight, ``pending_undo`` then says what must be wound back."""
        if self.has_processed(command_id):
            return
        self.check_remove(approved_by=approved_by, reason=reason)
        undo = list(dict.fromkeys([*self.pending_undo, *self._undo_needed()]))
        self.trigger_event(
            self.Removed,
            approved_by=approved_by.strip(),
            reason=reason.strip(),
            document_no=document_no.strip(),
            was=self.status.value,
            undo=[s.value for s in undo],
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_undone(self, step: UndoStep | str) -> UndoStep:
        s = UndoStep(step)
        if s not in self.pending_undo:
            raise TransferIllegalTransition(f"事项「{self.name}」无需「{s.label}」", step=s.value)
        return s

    def mark_undone(self, step: UndoStep | str, *, note: str = "", actor: Actor, at: datetime, command_id: str) -> None:
        """One wind-back step done (record it in the same save as the routing change or the moves it names)."""
        if self.has_processed(command_id):
            return
        s = self.check_undone(step)
        self.trigger_event(
            self.WindBackDone,
            step=s.value,
            note=note.strip(),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )

    def check_relist(self, programme: TransferProgramme) -> None:
        self._check_status((ItemStatus.REMOVED,), "重新列入清单")
        if self.pending_undo:
            raise TransferIllegalTransition(
                f"事项「{self.name}」尚未退回完毕（{'、'.join(s.label for s in self.pending_undo)}），不能重新列入",
                item=self.code,
            )
        self._check_programme(programme)  # the programme's list must carry it again first

    def relist(
        self,
        programme: TransferProgramme,
        *,
        approved_by: str,
        reason: str,
        document_no: str = "",
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> None:
        """A removed item put back on the list starts again from catalogued (a new batch, a new handover)."""
        if self.has_processed(command_id):
            return
        self.check_relist(programme)
        self.trigger_event(
            self.Relisted,
            approved_by=_required(approved_by, "approved_by", "批准机关"),
            reason=_required(reason, "reason", "原因"),
            document_no=document_no.strip(),
            actor=actor.to_dict(),
            at=_utc(at),
            command_id=command_id,
        )


def personnel_to_move(item: LicenceItem, roster: StaffDirectory) -> list[Actor]:
    """At cut-over: the item's people not yet at the bureau (someone may have moved with an earlier item)."""
    out = []
    for person in item.personnel:
        actor = roster.get(person.user_id)
        if actor.department != item.bureau:
            out.append(actor)
    return out


def personnel_to_return(item: LicenceItem, others: Iterable[LicenceItem], roster: StaffDirectory) -> list[Actor]:
    """On wind-back: the item's people still at the bureau whom no other item kept at the bureau needs."""
    still_needed = {
        p.user_id
        for o in others
        if o.id != item.id and o.status.at_bureau and o.personnel_at_bureau
        for p in o.personnel
    }
    out = []
    for person in item.personnel:
        actor = roster.get(person.user_id)
        if actor.department == item.bureau and person.user_id not in still_needed:
            out.append(actor)
    return out


def bureau_post(item: LicenceItem) -> tuple[str, str, str]:
    """Where a moving person works at the bureau: its reviewers (审查审批岗) in the same region."""
    return item.bureau, Post.REVIEWER.value, item.bureau_authority.region


def origin_post(item: LicenceItem) -> tuple[str, str, str]:
    return item.origin, Post.REVIEWER.value, item.origin_authority.region


def outcomes(items: Iterable[LicenceItem]) -> Mapping[str, ItemStatus]:
    """Item code -> status, what ``TransferProgramme.close`` checks."""
    return {i.code: i.status for i in items}
