"""Command handlers of the transfer programme: the only code that loads and saves its aggregates.

Every command runs through ``domain.handlers.execute`` on the one store (the ``Cases`` application):
a ``command_id`` made by the workflow (or the service) makes a retried activity record nothing twice,
and an optimistic-concurrency conflict reloads and runs the command again. Whatever a step changes
beyond the item — the matter's ``MatterRouting`` (cut-over, roll-back, removal from the list) and the
``StaffMember`` records of the people who move with the item (人随事走) — is saved in the SAME
``app.save(...)`` as the item's event, so routing, posts and the item never disagree.

The routing rule (docs/architecture.md, "Transfer"): a cut-over is effective from the batch's planned
moment, or from the business moment the last gate was passed (last sign-off, last gating milestone)
when that is later; a roll-back or a removal routes back from the decision's moment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.catalogue import Authority, Catalogue
from domain.errors import DomainError, InvalidValue, UnknownMatter
from domain.handlers import execute
from domain.routing import MatterRouting, RoutingCause, routing_id
from domain.staff import Actor, StaffDirectory
from domain.staffing import StaffMember, staff_member_id
from domain.transfer.errors import (
    AlreadySigned,
    UnknownDepartment,
    UnknownItem,
    UnknownProgramme,
)
from domain.transfer.item import (
    ItemStatus,
    LicenceItem,
    Person,
    TrialFigures,
    UndoStep,
    bureau_post,
    item_id,
    origin_post,
    outcomes,
    personnel_to_move,
    personnel_to_return,
)
from domain.transfer.plan import Plan
from domain.transfer.programme import TransferProgramme, programme_id
from domain.transfer.supervision import SupervisionTask, supervision_task_id
from domain.transfer.view import ALL_ENTRIES, ItemState, ProgrammeState, SupervisionState

A = TypeVar("A")


def source_of(programme: str) -> str:
    """The ``source`` of every routing change and staff move a programme makes (contract 1)."""
    return f"transfer:{programme}"


@dataclass(frozen=True)
class ItemOutcome:
    state: ItemState
    recorded: bool
    notification_id: int | None


@dataclass(frozen=True)
class ProgrammeOutcome:
    state: ProgrammeState
    recorded: bool
    notification_id: int | None


@dataclass(frozen=True)
class SupervisionOutcome:
    state: SupervisionState
    recorded: bool
    notification_id: int | None


class TransferCommands:
    """Load plans and take every step of a programme and its items, exactly once, on the shared store."""

    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        # The programme as last read, for READ-ONLY use (validated against the stream's newest version on every
        # use): reconstructing it decodes its whole plan (every item), and item steps, sign-offs and the
        # services' checks would otherwise do that once or more per call.
        self._read: dict[str, TransferProgramme] = {}
        self._states: dict[str, ProgrammeState] = {}

    @classmethod
    def over(cls, app: Any) -> TransferCommands:
        return cls(app)

    @property
    def catalogue(self) -> Catalogue:
        return self.app.catalogue  # type: ignore[attr-defined,no-any-return]

    @property
    def seed_staff(self) -> StaffDirectory:
        return self.app.staff  # type: ignore[attr-defined,no-any-return]

    # ---- staff as recorded ----------------------------------------------------------------------

    def staff_member(self, user_id: str) -> Actor:
        """A person's current unit and post: their ``StaffMember`` record, else the seed directory."""
        try:
            member: StaffMember = self.app.repository.get(staff_member_id(user_id))
        except AggregateNotFoundError:
            return self.seed_staff.get(user_id)
        return member.as_actor()

    def actor(self, actor: Actor) -> Actor:
        """The acting person as the record has them now (a moved person signs for their new unit)."""
        if actor.user_id == "system":
            return actor
        return replace(self.staff_member(actor.user_id), via=actor.via)

    # ---- the plan ---------------------------------------------------------------------------------

    def load_plan(self, plan: Plan, *, actor: Actor, at: datetime, command_id: str) -> ProgrammeOutcome:
        """The programme and every item of a validated plan in ONE save; the same plan again records
        nothing; another plan under the same code is refused (``PlanConflict``)."""
        actor = self.actor(actor)
        for _ in range(3):
            try:
                existing: TransferProgramme = self.app.repository.get(programme_id(plan.code))
            except AggregateNotFoundError:
                pass
            else:
                existing.check_reload(plan.content_hash)
                return ProgrammeOutcome(ProgrammeState.of(existing), False, None)
            p = TransferProgramme.from_plan(plan, actor=actor, at=at, command_id=command_id)
            items = [
                LicenceItem.from_plan(p, i, actor=actor, at=at, command_id=f"{command_id}/{i.code}") for i in plan.items
            ]
            try:
                recordings = self.app.save(p, *items)
            except IntegrityError:
                continue  # loaded at the same moment by another process: answer from theirs
            return ProgrammeOutcome(ProgrammeState.of(p), True, recordings[-1].notification.id if recordings else None)
        raise DomainError("并发载入划转方案，请稍后重试", code="COMMAND_CONFLICT")

    # ---- programme steps --------------------------------------------------------------------------

    def open_batch(
        self, programme: str, batch: int, *, actor: Actor, at: datetime, command_id: str
    ) -> ProgrammeOutcome:
        actor = self.actor(actor)
        return self._on_programme(
            programme, command_id, lambda p: p.open_batch(batch, actor=actor, at=at, command_id=command_id)
        )

    def record_milestone(
        self, programme: str, milestone: str, *, document_no: str, note: str = "", actor: Actor, at: datetime,
        command_id: str,
    ) -> ProgrammeOutcome:  # fmt: skip
        actor = self.actor(actor)
        return self._on_programme(
            programme,
            command_id,
            lambda p: p.record_milestone(
                milestone, document_no=document_no, note=note, actor=actor, at=at, command_id=command_id
            ),
        )

    def start_trial(self, programme: str, *, actor: Actor, at: datetime, command_id: str) -> ProgrammeOutcome:
        actor = self.actor(actor)
        return self._on_programme(
            programme, command_id, lambda p: p.start_trial(actor=actor, at=at, command_id=command_id)
        )

    def close(self, programme: str, *, actor: Actor, at: datetime, command_id: str) -> ProgrammeOutcome:
        """End the programme once every listed item went live or was rolled back (or left the list)."""
        actor = self.actor(actor)

        def act(p: TransferProgramme) -> None:
            p.close(outcomes(self._items(p)), actor=actor, at=at, command_id=command_id)

        return self._on_programme(programme, command_id, act)

    def add_item(
        self,
        programme: str,
        *,
        code: str,
        department: str,
        batch: int | None,
        approved_by: str,
        reason: str,
        legal_basis: str = "",
        name: str = "",
        personnel: Sequence[str] = (),
        document_no: str = "",
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> ProgrammeOutcome:
        """动态管理: put a catalogued licensing matter on the bureau's list (a removed one comes back
        relisted), recording who approved it and why; with a batch it is scheduled at once."""
        actor = self.actor(actor)
        code, department = code.strip(), department.strip()
        matter = self.matter(code)
        self.check_department(programme, department, matter.authority.department)
        people = [Person(uid, self.staff_member(uid).name) for uid in personnel]
        basis = legal_basis.strip() or "见事项目录"
        added: list[LicenceItem] = []

        def act(p: TransferProgramme) -> None:
            added.clear()
            p.add_item(
                code=code, name=name.strip() or matter.name, department=department, batch=batch,
                approved_by=approved_by, reason=reason, document_no=document_no, actor=actor, at=at,
                command_id=command_id,
            )  # fmt: skip
            try:
                item: LicenceItem = self.app.repository.get(item_id(programme, code))
            except AggregateNotFoundError:
                item = LicenceItem.catalogue(
                    p, code=code, name=name.strip() or matter.name, origin=department, legal_basis=basis,
                    personnel=people, actor=actor, at=at, command_id=f"{command_id}/catalogue",
                )  # fmt: skip
            else:
                item.relist(p, approved_by=approved_by, reason=reason, document_no=document_no, actor=actor, at=at,
                            command_id=f"{command_id}/relist")  # fmt: skip
            if batch is not None:
                item.schedule(p.batch(batch), actor=actor, at=at, command_id=f"{command_id}/schedule")
            added.append(item)

        return self._on_programme(programme, command_id, act, also_save=lambda _: list(added))

    def remove_item(
        self, programme: str, code: str, *, approved_by: str, reason: str, document_no: str = "", actor: Actor,
        at: datetime, command_id: str,
    ) -> ProgrammeOutcome:  # fmt: skip
        """Take an item off the list; one in flight is wound back in the same save (routing back to the
        origin department, its people back, the handed-over files and seal returned)."""
        actor = self.actor(actor)
        others: list[Any] = []

        def act(p: TransferProgramme) -> None:
            others.clear()
            p.remove_item(code, approved_by=approved_by, reason=reason, document_no=document_no, actor=actor, at=at,
                          command_id=command_id)  # fmt: skip
            item = self._item(programme, code)
            item.remove(approved_by=approved_by, reason=reason, document_no=document_no, actor=actor, at=at,
                        command_id=f"{command_id}/item")  # fmt: skip
            others.append(item)
            others.extend(
                self._wind_back(p, item, RoutingCause.LIST_REMOVAL, approved_by=approved_by, reason=reason,
                                actor=actor, at=at, command_id=command_id)
            )  # fmt: skip

        return self._on_programme(programme, command_id, act, also_save=lambda _: list(others))

    # ---- item steps -----------------------------------------------------------------------------

    def open_handover(self, programme: str, code: str, *, actor: Actor, at: datetime, command_id: str) -> ItemOutcome:
        actor = self.actor(actor)

        def act(item: LicenceItem) -> None:
            item.open_handover(self._programme_read(programme), actor=actor, at=at, command_id=command_id)

        return self._on_item(programme, code, command_id, act)

    def sign(
        self, programme: str, code: str, entry: str, *, actor: Actor, party: str | None = None, note: str = "",
        document_no: str = "", at: datetime, command_id: str,
    ) -> ItemOutcome:  # fmt: skip
        """One party's sign-off of one checklist entry (the party is the actor's unit as recorded now)."""
        actor = self.actor(actor)

        def act(item: LicenceItem) -> None:
            if entry != ALL_ENTRIES:
                item.sign(entry, actor=actor, party=party or None, note=note, document_no=document_no, at=at,
                          command_id=command_id)  # fmt: skip
                return
            own = item.party_of(actor)
            open_entries = [e for e, p in item.open_entries() if p is own]
            if not open_entries:
                raise AlreadySigned(f"{own.label}已签认全部交接事项，不能重复签认", entry=entry)
            for e in open_entries:
                item.sign(e, actor=actor, party=party or None, note=note, document_no=document_no, at=at,
                          command_id=f"{command_id}/{e.value}")  # fmt: skip

        return self._on_item(programme, code, command_id, act)

    def cut_over(self, programme: str, code: str, *, actor: Actor, at: datetime, command_id: str) -> ItemOutcome:
        """The bureau takes the item over: the item's CutOver, the matter's routing change and the moves of
        its people in one save. Refused whole while a checklist entry is open or a gating milestone missing."""
        actor = self.actor(actor)
        others: list[Any] = []

        def act(item: LicenceItem) -> None:
            others.clear()
            p = self._programme_read(programme)
            item.check_cut_over(p)
            effective = self.effective_cut_over(item, p)
            item.cut_over(p, effective_from=effective, actor=actor, at=at, command_id=command_id)
            assert item.batch is not None
            routing = self._route(
                item.code, item.bureau_authority, effective, cause=RoutingCause.TRANSFER, approved_by=p.approved_by,
                legal_basis=f"{p.decision_no}；{item.legal_basis}", reason=f"划转至{p.bureau}（{p.batch(item.batch).name}）",
                source=source_of(programme), actor=actor, at=at, command_id=command_id,
            )  # fmt: skip
            others.extend([routing] if routing is not None else [])
            members = self._members([x.user_id for x in item.personnel], actor=actor, at=at, command_id=command_id)
            roster = StaffDirectory({uid: m.as_actor() for uid, m in members.items()})
            department, post, region = bureau_post(item)
            for person in personnel_to_move(item, roster):
                members[person.user_id].reassign(
                    department=department, post=post, region=region, reason=f"随「{item.name}」划转至{department}",
                    source=source_of(programme), actor=actor, at=at, command_id=f"{command_id}/staff/{person.user_id}",
                )  # fmt: skip
            others.extend(m for m in members.values() if m.pending_events)

        return self._on_item(programme, code, command_id, act, also_save=lambda _: list(others))

    @staticmethod
    def effective_cut_over(item: LicenceItem, programme: TransferProgramme) -> datetime:
        """The batch's planned moment, or the business moment the last gate was passed when later."""
        assert item.planned_cut_over is not None and item.batch is not None
        moments = [item.planned_cut_over]
        moments += [s.at for signed in item.checklist.values() for s in signed.values()]
        gates = programme.batch(item.batch).gates
        moments += [r.at for m, r in programme.milestones.items() if m in gates]
        return max(m.astimezone(UTC) for m in moments)

    def record_figures(
        self, programme: str, code: str, figures: Sequence[TrialFigures], *, actor: Actor, at: datetime,
        command_id: str,
    ) -> ItemOutcome:  # fmt: skip
        """The weekly snapshot: every given week not yet recorded, in one save."""
        actor = self.actor(actor)

        def act(item: LicenceItem) -> None:
            for f in figures:
                if f.week_start in item.figures:
                    continue
                item.record_trial_figures(
                    week_start=f.week_start, accepted=f.accepted, completed=f.completed, on_time_rate=f.on_time_rate,
                    overdue=f.overdue, avg_working_days=f.avg_working_days, actor=actor, at=at,
                    command_id=f"{command_id}/{f.week_start.isoformat()}",
                )  # fmt: skip

        return self._on_item(programme, code, command_id, act)

    def decide(
        self, programme: str, code: str, decision: str, *, reason: str = "", new_end: date | None = None,
        approved_by: str = "", actor: Actor, at: datetime, command_id: str,
    ) -> ItemOutcome:  # fmt: skip
        """Go live, extend the trial to ``new_end``, or roll back: routing and people go back at once."""
        actor = self.actor(actor)
        others: list[Any] = []

        def act(item: LicenceItem) -> None:
            others.clear()
            item.decide(decision, reason=reason, new_end=new_end, actor=actor, at=at, command_id=command_id)
            if item.status is ItemStatus.ROLLED_BACK:
                p = self._programme_read(programme)
                others.extend(
                    self._wind_back(p, item, RoutingCause.ROLL_BACK, approved_by=approved_by or p.approved_by,
                                    reason=reason, actor=actor, at=at, command_id=command_id)
                )  # fmt: skip

        return self._on_item(programme, code, command_id, act, also_save=lambda _: list(others))

    # ---- supervision (审管联动) --------------------------------------------------------------------

    def claim(self, case_no: str, *, actor: Actor, at: datetime, command_id: str) -> SupervisionOutcome:
        actor = self.actor(actor)
        return self._on_task(case_no, command_id, lambda t: t.claim(actor=actor, at=at, command_id=command_id))

    def mark_overdue(self, case_no: str, *, actor: Actor, at: datetime, command_id: str) -> SupervisionOutcome:
        return self._on_task(case_no, command_id, lambda t: t.mark_overdue(actor=actor, at=at, command_id=command_id))

    # ---- queries ----------------------------------------------------------------------------------

    def programme(self, code: str) -> TransferProgramme:
        return self._programme(code)

    def programme_state(self, code: str) -> ProgrammeState:
        p = self._programme_read(code)
        state = self._states.get(code)
        if state is None or state.version != p.version:
            state = self._states[code] = ProgrammeState.of(p)
        return state

    def require_programme(self, code: str) -> None:
        """Refuse an unknown programme (one indexed read, nothing decoded)."""
        if self._head(code) is None:
            raise self._no_programme(code)

    def item(self, programme: str, code: str) -> LicenceItem:
        try:
            item: LicenceItem = self.app.repository.get(item_id(programme, code))
        except AggregateNotFoundError:
            self.require_programme(programme)  # an unknown programme is named before an unknown item
            raise self._no_item(programme, code) from None
        return item

    def item_state(self, programme: str, code: str) -> ItemState:
        return ItemState.of(self.item(programme, code))

    def items(self, programme: str) -> list[LicenceItem]:
        return self._items(self._programme(programme))

    def task(self, case_no: str) -> SupervisionTask:
        try:
            task: SupervisionTask = self.app.repository.get(supervision_task_id(case_no))
        except AggregateNotFoundError:
            raise self._no_task(case_no) from None
        return task

    def task_state(self, case_no: str) -> SupervisionState:
        return SupervisionState.of(self.task(case_no))

    def exists(self, code: str) -> bool:
        return bool(self.app.recorder.select_events(programme_id(code), limit=1))

    # ---- helpers ----------------------------------------------------------------------------------

    def _programme(self, code: str) -> TransferProgramme:
        try:
            p: TransferProgramme = self.app.repository.get(programme_id(code))
        except AggregateNotFoundError:
            raise self._no_programme(code) from None
        return p

    def _head(self, code: str) -> int | None:
        """The programme stream's newest version, None when there is no such programme (one indexed read)."""
        newest = self.app.recorder.select_events(programme_id(code), desc=True, limit=1)
        return newest[0].originator_version if newest else None

    def _programme_read(self, code: str) -> TransferProgramme:
        """The programme for reading only (never change or save it): the copy last read while the stream's newest
        version is still the same, else read again."""
        head = self._head(code)
        if head is None:
            raise self._no_programme(code)
        p = self._read.get(code)
        if p is None or p.version != head:
            p = self._read[code] = self._programme(code)
        return p

    def _item(self, programme: str, code: str) -> LicenceItem:
        try:
            item: LicenceItem = self.app.repository.get(item_id(programme, code))
        except AggregateNotFoundError:
            raise self._no_item(programme, code) from None
        return item

    def _items(self, p: TransferProgramme) -> list[LicenceItem]:
        out: list[LicenceItem] = []
        for code in p.items:
            try:
                out.append(self.app.repository.get(item_id(p.code, code)))
            except AggregateNotFoundError:
                continue
        return out

    @staticmethod
    def _no_programme(code: str) -> UnknownProgramme:
        return UnknownProgramme(f"未找到划转方案「{code}」", programme=code, field="programme")

    @staticmethod
    def _no_item(programme: str, code: str) -> UnknownItem:
        return UnknownItem(f"划转方案「{programme}」中没有事项「{code}」", item=code, field="item")

    @staticmethod
    def _no_task(case_no: str) -> DomainError:
        return DomainError(
            f"未找到办件「{case_no}」的审管联动监管任务", code="TRANSFER_SUPERVISION_UNKNOWN", case_no=case_no
        )

    def matter(self, code: str) -> Any:
        try:
            return self.catalogue.get(code)
        except UnknownMatter:
            raise UnknownItem(f"事项目录中没有编码为「{code}」的事项", item=code, field="item") from None

    def check_department(self, programme: str, department: str, competent: str) -> None:
        p = self._programme(programme)
        known = {m.authority.department for m in self.catalogue.matters.values() if m.authority.region == p.region}
        if department not in known:
            raise UnknownDepartment(
                f"未知部门「{department}」（事项目录中{p.region}没有该部门）", department=department, field="department"
            )
        if department != competent:
            raise InvalidValue(f"事项目录中该事项的实施部门是{competent}，不是{department}", field="department")

    def _on_programme(
        self, code: str, command_id: str, act: Callable[[TransferProgramme], None],
        also_save: Callable[[TransferProgramme], list[Any]] | None = None,
    ) -> ProgrammeOutcome:  # fmt: skip
        out = execute(self.app, programme_id(code), command_id, act, missing=lambda: self._no_programme(code),
                      also_save=also_save)  # fmt: skip
        return ProgrammeOutcome(ProgrammeState.of(out.aggregate), out.recorded, out.notification_id)

    def _on_item(
        self, programme: str, code: str, command_id: str, act: Callable[[LicenceItem], None],
        also_save: Callable[[LicenceItem], list[Any]] | None = None,
    ) -> ItemOutcome:  # fmt: skip
        self.require_programme(programme)
        out = execute(self.app, item_id(programme, code), command_id, act,
                      missing=lambda: self._no_item(programme, code), also_save=also_save)  # fmt: skip
        return ItemOutcome(ItemState.of(out.aggregate), out.recorded, out.notification_id)

    def _on_task(self, case_no: str, command_id: str, act: Callable[[SupervisionTask], None]) -> SupervisionOutcome:
        out = execute(self.app, supervision_task_id(case_no), command_id, act, missing=lambda: self._no_task(case_no))
        return SupervisionOutcome(SupervisionState.of(out.aggregate), out.recorded, out.notification_id)

    def _get_or(self, aggregate_id: UUID, make: Callable[[], A]) -> A:
        try:
            found: A = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return make()
        return found

    def _route(
        self, matter_code: str, authority: Authority, effective: datetime, *, cause: RoutingCause, approved_by: str,
        legal_basis: str, reason: str, source: str, actor: Actor, at: datetime, command_id: str,
    ) -> MatterRouting | None:  # fmt: skip
        """The matter's routing change (its stream opened from the catalogue seed on first use), or None
        when it already points there."""
        routing = self._get_or(
            routing_id(matter_code),
            lambda: MatterRouting.open(
                self.catalogue.get(matter_code), actor=actor, at=at, command_id=f"{command_id}/routing-open"
            ),
        )
        if routing.has_processed(command_id) or routing.current == authority:
            return routing if routing.pending_events else None
        last = routing.changes[-1].effective_from if routing.changes else effective
        routing.change_authority(
            authority, effective_from=max(effective, last), approved_by=approved_by, legal_basis=legal_basis,
            reason=reason, cause=cause, source=source, actor=actor, at=at, command_id=command_id,
        )  # fmt: skip
        return routing

    def _members(
        self, user_ids: Sequence[str], *, actor: Actor, at: datetime, command_id: str
    ) -> dict[str, StaffMember]:
        """Each person's ``StaffMember`` record; one not yet recorded is enrolled from the seed directory."""
        out: dict[str, StaffMember] = {}
        for uid in user_ids:
            out[uid] = self._get_or(
                staff_member_id(uid),
                lambda uid=uid: StaffMember.enrol(
                    self.seed_staff.get(uid),
                    source="seed",
                    actor=actor,
                    at=at,  # type: ignore[misc]
                    command_id=f"{command_id}/enrol/{uid}",
                ),
            )
        return out

    def _wind_back(
        self, p: TransferProgramme, item: LicenceItem, cause: RoutingCause, *, approved_by: str, reason: str,
        actor: Actor, at: datetime, command_id: str,
    ) -> list[Any]:  # fmt: skip
        """Every pending wind-back step, done and marked in the same save; returns what else to save."""
        out: list[Any] = []
        for step in list(item.pending_undo):
            note = ""
            if step is UndoStep.ROUTING_BACK:
                routing = self._route(
                    item.code, item.origin_authority, at, cause=cause, approved_by=approved_by,
                    legal_basis=p.decision_no, reason=reason, source=source_of(p.code), actor=actor, at=at,
                    command_id=f"{command_id}/routing",
                )  # fmt: skip
                out.extend([routing] if routing is not None else [])
                note = f"自{at.astimezone(UTC).isoformat()}起由{item.origin}实施"
            elif step is UndoStep.PERSONNEL_BACK:
                members = self._members([x.user_id for x in item.personnel], actor=actor, at=at, command_id=command_id)
                roster = StaffDirectory({uid: m.as_actor() for uid, m in members.items()})
                others = [o for o in self._items(p) if o.id != item.id]
                department, post, region = origin_post(item)
                back = personnel_to_return(item, others, roster)
                for person in back:
                    members[person.user_id].reassign(
                        department=department, post=post, region=region, reason=f"「{item.name}」{cause.label}，回原部门",
                        source=source_of(p.code), actor=actor, at=at, command_id=f"{command_id}/staff/{person.user_id}",
                    )  # fmt: skip
                out.extend(m for m in members.values() if m.pending_events)
                note = "、".join(a.name for a in back) or "人员仍随其他事项留在审批局"
            item.mark_undone(step, note=note, actor=actor, at=at, command_id=f"{command_id}/undo/{step.value}")
        return out
