"""Transfer programme use cases (相对集中行政许可权改革): load a plan, show, sign, milestones, decisions, the
living list and the supervising departments' claims (审管联动).

``plan`` records the programme and its items through ``TransferCommands`` (idempotent: the same plan
again records nothing) and starts the programme's workflow (once). Every staff step is a Temporal Update:
item steps (``sign``, ``decide``) on the item's workflow, programme steps (``milestone``, ``add_item``,
``remove_item``) on the programme's, ``claim`` on the task's ``SupervisionWorkflow``. A refusal comes back
as the domain's typed error (code + Chinese message) and nothing is written. After a step the answer waits
until the read models have passed the step's notification id (read-your-writes).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventsourcing.utils import get_topic
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import DomainError, InvalidValue
from domain.staff import SYSTEM_ACTOR, Actor
from domain.transfer.commands import TransferCommands
from domain.transfer.errors import TransferIllegalTransition, UnknownProgramme
from domain.transfer.item import ItemStatus, LicenceItem
from domain.transfer.plan import Plan, read_plan_file
from domain.transfer.programme import TransferProgramme
from domain.transfer.view import ItemState, ProgrammeState, SupervisionState
from projections.runner import ReadModelTimeout, wait_for_position
from services.cases import domain_error
from services.errors import TemporalUnreachable
from services.updates import UPDATE_PATIENCE, execute_update
from workflows.transfer import ItemTransferWorkflow, SupervisionWorkflow, TransferProgrammeWorkflow
from workflows.transfer_contracts import (
    AddItemRequest,
    ClaimRequest,
    DecideRequest,
    MilestoneRequest,
    ProgrammeInput,
    RemoveItemRequest,
    SignRequest,
    StepAnswer,
    item_workflow_id,
    programme_workflow_id,
    supervision_workflow_id,
)

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

# The CLI's words for the end-of-trial decision, beside the domain's own values.
DECISIONS = {"live": "go_live", "go_live": "go_live", "extend": "extend", "rollback": "roll_back",
             "roll_back": "roll_back"}  # fmt: skip


NOT_READY_WAIT = 15.0  # seconds a step waits for a workflow that is still reading its state


@dataclass(frozen=True)
class PlanLoaded:
    programme: ProgrammeState
    created: bool  # False: the same plan was already loaded (nothing recorded)
    workflow_id: str


@dataclass(frozen=True)
class TransferDone:
    """A step's answer: the snapshot after it, and whether the lists already show it (else why not)."""

    programme: ProgrammeState | None = None
    item: ItemState | None = None
    task: SupervisionState | None = None
    lists_lag: str | None = None


@dataclass(frozen=True)
class ProgrammeDetail:
    programme: TransferProgramme
    items: list[LicenceItem]
    workflow_id: str


@dataclass(frozen=True)
class ItemDetail:
    programme: TransferProgramme
    item: LicenceItem
    workflow_id: str


class TransferService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    @cached_property
    def commands(self) -> TransferCommands:
        return TransferCommands.over(self.boot.store)

    @property
    def settings(self) -> Any:
        return self.boot.settings

    # ---- who acts ---------------------------------------------------------------------------------

    def actor(self, user_id: str, via: str = "") -> Actor:
        """A staff member by id, in the unit and post the record has them now (a moved person included)."""
        found = self.commands.staff_member(user_id)
        return Actor(found.user_id, found.name, found.department, found.post, found.region, via)

    # ---- the plan ---------------------------------------------------------------------------------

    async def plan(self, path: Path, *, actor: Actor | None = None, at: datetime | None = None,
                   start: bool = True) -> PlanLoaded:  # fmt: skip
        """Validate the whole file (refused whole, with line numbers), record it once, start its workflow once."""
        store = self.boot.store
        plan = read_plan_file(Path(path), catalogue=store.catalogue)
        if not self._loaded(plan):
            # The named personnel are checked against the posts held now; a plan already recorded is not
            # checked again: after a cut-over its people hold posts at the bureau, and a reload answers "done".
            plan = read_plan_file(Path(path), catalogue=store.catalogue, staff=store.staff)
        if start:
            await self.boot.temporal()  # unreachable: say so before recording anything
        out = self.commands.load_plan(plan, actor=actor or SYSTEM_ACTOR, at=at or datetime.now(UTC),
                                      command_id=f"plan/{plan.code}/{plan.content_hash}")  # fmt: skip
        wid = programme_workflow_id(plan.code)
        if start:
            await self.start(plan.code)
        return PlanLoaded(out.state, out.recorded, wid)

    def _loaded(self, plan: Plan) -> bool:
        try:
            programme = self.commands.programme(plan.code)
        except UnknownProgramme:
            return False
        return programme.plan_hash == plan.content_hash

    async def start(self, programme: str) -> str:
        """Start the programme's workflow unless it runs (or ran to its end) already."""
        self.commands.programme(programme)
        client = await self.boot.temporal()
        wid = programme_workflow_id(programme)
        try:
            await client.start_workflow(
                TransferProgrammeWorkflow.run,
                ProgrammeInput(programme),
                id=wid,
                task_queue=self.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            pass  # it ran to its end: a closed programme is not started again
        except RPCError as e:
            raise self._rpc(e, wid) from None
        return wid

    # ---- staff steps --------------------------------------------------------------------------

    async def sign(
        self, item: str, entry: str, *, actor: Actor, party: str = "", note: str = "", document_no: str = "",
        programme: str | None = None, at: datetime | None = None, read_your_writes: bool = True,
    ) -> TransferDone:  # fmt: skip
        p = self.programme_code(programme)
        self.commands.item(p, item)
        req = SignRequest(actor=actor, entry=entry, party=party, note=note, document_no=document_no, at=at)
        answer = await self._update(item_workflow_id(p, item), "sign", req, lambda: self._item_gone(p, item))
        return await self._visible(answer, read_your_writes)

    async def decide(
        self, item: str, decision: str, *, actor: Actor, reason: str = "", until: date | None = None,
        approved_by: str = "", programme: str | None = None, at: datetime | None = None,
        read_your_writes: bool = True,
    ) -> TransferDone:  # fmt: skip
        """End of trial: live, extend (``until`` the new end), or rollback (``reason``): routing follows at once."""
        p = self.programme_code(programme)
        self.commands.item(p, item)
        value = DECISIONS.get(decision.strip().lower())
        if value is None:
            raise InvalidValue(f"试运行结论「{decision}」无效，应为 live、extend 或 rollback", field="decision")
        req = DecideRequest(actor=actor, decision=value, reason=reason, new_end=until.isoformat() if until else None,
                            approved_by=approved_by, at=at)  # fmt: skip
        answer = await self._update(item_workflow_id(p, item), "decide", req, lambda: self._item_gone(p, item))
        return await self._visible(answer, read_your_writes)

    async def milestone(
        self, name: str, *, actor: Actor, document_no: str, note: str = "", programme: str | None = None,
        at: datetime | None = None, read_your_writes: bool = True,
    ) -> TransferDone:  # fmt: skip
        p = self.programme_code(programme)
        req = MilestoneRequest(actor=actor, milestone=name, document_no=document_no, note=note, at=at)
        answer = await self._update(programme_workflow_id(p), "milestone", req, lambda: self._programme_gone(p))
        return await self._visible(answer, read_your_writes)

    async def add_item(
        self, code: str, *, actor: Actor, department: str, approved_by: str, reason: str, batch: int | None = None,
        legal_basis: str = "", name: str = "", personnel: tuple[str, ...] = (), document_no: str = "",
        programme: str | None = None, at: datetime | None = None, read_your_writes: bool = True,
    ) -> TransferDone:  # fmt: skip
        """动态管理: put an item on the bureau's list (default: into the last batch), recording who approved it."""
        p = self.programme_code(programme)
        prog = self.commands.programme(p)
        matter = self.commands.matter(code.strip())  # an unknown item or department is named before anything else
        self.commands.check_department(p, department.strip(), matter.authority.department)
        if batch is None:
            batch = max(b.no for b in prog.batches)
        req = AddItemRequest(
            actor=actor, code=code.strip(), department=department.strip(), batch=batch, approved_by=approved_by,
            reason=reason, legal_basis=legal_basis, name=name, personnel=tuple(personnel), document_no=document_no,
            at=at,
        )  # fmt: skip
        answer = await self._update(programme_workflow_id(p), "add_item", req, lambda: self._programme_gone(p))
        return await self._visible(answer, read_your_writes)

    async def remove_item(
        self, code: str, *, actor: Actor, approved_by: str, reason: str, document_no: str = "",
        programme: str | None = None, at: datetime | None = None, read_your_writes: bool = True,
    ) -> TransferDone:  # fmt: skip
        """Take an item off the list (an item in flight is wound back cleanly), recording who approved it and why."""
        p = self.programme_code(programme)
        self.commands.item(p, code.strip())
        req = RemoveItemRequest(actor=actor, code=code.strip(), approved_by=approved_by, reason=reason,
                                document_no=document_no, at=at)  # fmt: skip
        answer = await self._update(programme_workflow_id(p), "remove_item", req, lambda: self._programme_gone(p))
        return await self._visible(answer, read_your_writes)

    async def claim(self, case_no: str, *, actor: Actor, at: datetime | None = None,
                    read_your_writes: bool = True) -> TransferDone:  # fmt: skip
        """认领: the supervising department takes the task; after its workflow ended (overdue), a late claim
        goes to the command handler directly and is recorded as late."""
        self.commands.task(case_no)
        req = ClaimRequest(actor=actor, at=at)
        try:
            answer = await self._update(supervision_workflow_id(case_no), "claim", req, lambda: _Gone())
        except _Gone:
            out = self.commands.claim(case_no, actor=actor, at=at or datetime.now(UTC),
                                      command_id=f"claim/{case_no}/{uuid.uuid4().hex[:12]}")  # fmt: skip
            answer = StepAnswer(task=out.state, notification_id=out.notification_id)
        return await self._visible(answer, read_your_writes)

    # ---- reads --------------------------------------------------------------------------------

    def programmes(self) -> list[str]:
        """Every programme ever planned, in order, from the notification log."""
        topic = get_topic(TransferProgramme.Planned)
        app, start = self.boot.store, 1
        out: list[str] = []
        while True:
            batch = app.recorder.select_notifications(start=start, limit=500, topics=[topic])
            if not batch:
                return out
            out += [app.mapper.to_domain_event(n).code for n in batch]  # type: ignore[attr-defined]
            start = batch[-1].id + 1

    def programme_code(self, programme: str | None) -> str:
        """The programme named, or the only one there is."""
        if programme:
            self.commands.require_programme(programme)
            return programme
        known = self.programmes()
        if len(known) == 1:
            return known[0]
        if not known:
            raise UnknownProgramme("还没有载入任何划转方案：请先运行 oneseal transfer plan FILE", field="programme")
        raise InvalidValue(f"有多个划转方案（{'、'.join(known)}），请用 --programme 指定", field="programme")

    def show(self, item: str | None = None, *, programme: str | None = None) -> ProgrammeDetail | ItemDetail:
        self.boot.require_data()
        p = self.programme_code(programme)
        prog = self.commands.programme(p)
        if item:
            return ItemDetail(prog, self.commands.item(p, item), item_workflow_id(p, item))
        return ProgrammeDetail(prog, self.commands.items(p), programme_workflow_id(p))

    async def wait_for(
        self, statuses: set[str], *, programme: str | None = None, items: list[str] | None = None,
        timeout: float = 120.0,
    ) -> dict[str, str]:  # fmt: skip
        """Wait until every item (default: every listed item) is in one of ``statuses`` as stored (the workflows
        act asynchronously: a scenario drives the next step once they got there); answers code -> status."""
        p = self.programme_code(programme)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            prog = self.commands.programme(p)
            codes = items if items is not None else [e.code for e in prog.listed()]
            now = {i.code: i.status.value for i in self.commands.items(p) if i.code in codes}
            if all(now.get(c) in statuses for c in codes):
                return now
            if loop.time() > deadline:
                behind = sorted(c for c in codes if now.get(c) not in statuses)
                raise DomainError(
                    f"等待超时：{len(behind)}个事项未到达{'、'.join(sorted(statuses))}（如 {'、'.join(behind[:3])}）",
                    code="TRANSFER_WAIT_TIMEOUT",
                    items=behind,
                )
            await asyncio.sleep(0.2)

    async def item_state(self, item: str, *, programme: str | None = None) -> ItemState | None:
        """What the item's running workflow holds (None when it does not run)."""
        p = self.programme_code(programme)
        client = await self.boot.temporal()
        try:
            return await client.get_workflow_handle(item_workflow_id(p, item)).query(ItemTransferWorkflow.state)
        except RPCError:
            return None

    async def task_state(self, case_no: str) -> SupervisionState | None:
        client = await self.boot.temporal()
        try:
            return await client.get_workflow_handle(supervision_workflow_id(case_no)).query(SupervisionWorkflow.state)
        except RPCError:
            return None

    # ---- helpers ------------------------------------------------------------------------------

    async def _update(
        self, workflow_id: str, name: str, request: Any, gone: Any, deadline: float | None = None
    ) -> StepAnswer:
        client = await self.boot.temporal()
        handle = client.get_workflow_handle(workflow_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + NOT_READY_WAIT if deadline is None else deadline
        delay = 0.1
        try:
            while True:
                try:
                    return await execute_update(handle, name, request, result_type=StepAnswer, patience=UPDATE_PATIENCE)
                except WorkflowUpdateFailedError as e:
                    error = domain_error(e) or DomainError(f"办理失败：{e}")
                    if error.code != "TRANSFER_NOT_READY" or loop.time() > deadline:
                        raise error from None
                # The workflow is reading its state or running a system step (a cut-over, a snapshot catching up
                # on past weeks): ask again, less often the longer it takes (every refusal is a workflow task).
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 1.0)
        except RPCError as e:
            if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION) or "completed" in str(e):
                error = gone()
                if error.code == "TRANSFER_NOT_READY" and loop.time() <= deadline:
                    await asyncio.sleep(0.2)  # the programme is starting the item's workflow: ask again
                    return await self._update(workflow_id, name, request, gone, deadline)
                raise error from None
            raise self._rpc(e, workflow_id) from None

    def _item_gone(self, programme: str, code: str) -> DomainError:
        """No running item workflow: say why, from the store."""
        item = self.commands.item(programme, code)
        if (
            item.status is ItemStatus.SCHEDULED
            and item.batch in self.commands.programme_state(programme).opened_batches
        ):
            return DomainError("事项流程正在启动，请稍后再试", code="TRANSFER_NOT_READY")
        if item.status in (ItemStatus.CATALOGUED, ItemStatus.SCHEDULED):
            return TransferIllegalTransition(
                f"事项「{item.name}」当前为「{item.status.label}」，所在批次尚未开始交接", status=item.status.value,
                item=code,
            )  # fmt: skip
        return TransferIllegalTransition(
            f"事项「{item.name}」当前为「{item.status.label}」，其流程已结束", status=item.status.value, item=code
        )

    def _programme_gone(self, programme: str) -> DomainError:
        p = self.commands.programme(programme)
        return DomainError(
            f"划转方案「{programme}」的流程未在运行（当前为「{p.status.label}」）：请先运行 oneseal transfer plan FILE，"
            "或检查工作进程",
            code="TRANSFER_WORKFLOW_MISSING",
        )

    async def _visible(self, answer: StepAnswer, wait: bool) -> TransferDone:
        done = TransferDone(answer.programme, answer.item, answer.task)
        if not wait or not answer.notification_id:
            return done
        from services.projections import PROJECTIONS

        name = "transfer" if "transfer" in PROJECTIONS else "cases"
        try:
            await asyncio.to_thread(
                wait_for_position, self.boot.read_models, name, int(answer.notification_id),
                float(self.settings.read_your_writes_timeout),
            )  # fmt: skip
        except ReadModelTimeout as e:
            return TransferDone(answer.programme, answer.item, answer.task, str(e))
        return done

    def _rpc(self, e: RPCError, what: str) -> DomainError:
        if e.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED) or "connect" in str(e).lower():
            target = self.settings.temporal_target
            return TemporalUnreachable(
                f"无法连接 Temporal（{target}）：请先在另一个终端运行 make run（或 oneseal up）", target=target
            )
        return DomainError(f"Temporal 拒绝了请求（{what}）：{e.message}", code="TEMPORAL_ERROR")


class _Gone(DomainError):
    """The supervision workflow ended (the task went overdue): the late claim goes to the handler directly."""

    code = "TRANSFER_SUPERVISION_WORKFLOW_ENDED"

    def __init__(self) -> None:
        super().__init__("监管任务流程已结束")
