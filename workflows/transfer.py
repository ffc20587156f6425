"""The transfer programme on Temporal: one programme workflow, one workflow per item, one per supervision task.

``TransferProgrammeWorkflow`` (id ``transfer-<programme>``) opens the batches in cut-over order (batch n+1's
handover opens once batch n's cut-over moment has come) and starts one ``ItemTransferWorkflow`` child per
listed item of the batch (id ``transfer-<programme>-<code>``), at most ``START_CONCURRENCY`` starts at a
time, with ``ParentClosePolicy.ABANDON``: children outlive the run that started them, so the programme
continues as new after ``ProgrammeInput.children_per_run`` (500) starts (or when Temporal suggests it) and no run ever
holds more pending children than that. Items report their end by the signal ``item_finished``; when every
listed item has ended, the programme closes. Programme-wide staff steps are Updates on the programme:
``milestone``, ``add_item``, ``remove_item`` (validators on the programme snapshot). After a milestone the
programme signals ``milestones`` to its running items; after a removal it signals ``removed`` to the item.

``ItemTransferWorkflow`` handles its own item-level Updates (``sign``, ``decide``) directly: the service
sends them to the item's workflow id, so the validator sees the item's own snapshot and the programme's
history does not grow with every sign-off. Its life: open the handover → wait until every checklist entry
is signed by both parties, the batch's gating milestones are recorded, and the batch's cut-over moment
has come (a timer relative to ``workflow.now()``: a moment in the past fires at once) → cut over (routing
and people move in the same save) → trial: a weekly snapshot at the end of each service-calendar week
records the item's figures from the read models → the decision Update: live | extended (new end, the
snapshots go on) | rolled back (routing back at once).

``SupervisionWorkflow(case_no)`` (id ``supervision-<case_no>``, started by the case workflow, contract 2)
waits for the Update ``claim`` until the task's ``claim_due`` moment and marks the task overdue if nobody
claimed it; it returns the final status. A late claim after that goes to the command handler directly.

Deterministic code only: no aggregates here, business time from ``workflow.now()`` (or the moment a
staff step names, never later than now), every write through the ``transfer_command`` activity.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    import structlog

    import domain.transfer.view  # noqa: F401  (dataclasses crossing the boundary)
    from domain.calendar import SHANGHAI
    from domain.errors import DomainError, InvalidValue
    from domain.staff import SYSTEM_ACTOR, Actor
    from domain.transfer.errors import TransferIllegalTransition
    from domain.transfer.item import ItemStatus
    from domain.transfer.programme import ALL_MILESTONES
    from domain.transfer.view import (
        ItemState,
        ProgrammeState,
        SupervisionState,
        check_add_item,
        check_claim,
        check_decision,
        check_milestone,
        check_remove_item,
        check_sign,
        next_snapshot,
    )
    from workflows.transfer_contracts import (
        ITEM_WORKFLOW,
        AddItemRequest,
        ClaimRequest,
        DecideRequest,
        ItemInput,
        MilestoneRequest,
        ProgrammeInput,
        RemoveItemRequest,
        SignRequest,
        StepAnswer,
        TransferCommand,
        TransferResult,
        item_workflow_id,
        programme_workflow_id,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=120)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=20))
START_CONCURRENCY = 20  # child starts in flight at once
SIGNAL_CONCURRENCY = 100  # signals to items in flight at once (Temporal's limit on pending signals is 2,000)
CLOCK_SKEW = timedelta(minutes=5)  # a staff step may name a moment up to this far past the workflow's clock


def _refusal(e: DomainError) -> ApplicationError:
    return ApplicationError(e.message, type=e.code, non_retryable=True)


def _log() -> Any:
    logger = structlog.get_logger("oneseal.workflow").bind(workflow_id=workflow.info().workflow_id)
    return _Silent() if workflow.unsafe.is_replaying() else logger


class _Silent:
    def __getattr__(self, _: str) -> Any:
        return lambda *a, **k: None


class _Commands:
    """Run one command through the activity; the command id is stable across activity retries."""

    def __init__(self, programme: str, code: str = "") -> None:
        self.programme, self.code = programme, code
        self.seq = 0

    async def __call__(
        self, step: str, *, actor: Actor = SYSTEM_ACTOR, at: datetime | None = None, key: str | None = None,
        **args: Any,
    ) -> TransferResult:  # fmt: skip
        self.seq += 1
        info = workflow.info()
        # A key names a command that must be the same in every run (continue-as-new restarts the count).
        command_id = f"{info.workflow_id}/{key}" if key else f"{info.workflow_id}/{info.run_id[:8]}/{self.seq}:{step}"
        cmd = TransferCommand(
            step=step, programme=self.programme, code=self.code, command_id=command_id,
            at=at or workflow.now(), actor=actor, args=args,
        )  # fmt: skip
        try:
            return await workflow.execute_activity(
                "transfer_command",
                cmd,
                result_type=TransferResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
                summary=step,
            )
        except ActivityError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError):
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
            raise


def _moment(at: datetime | None) -> datetime:
    """The business moment a staff step names (default now); never in the future."""
    if at is None:
        return workflow.now()
    if at > workflow.now() + CLOCK_SKEW:
        raise _refusal(InvalidValue("办理时间不能晚于当前时间", field="at"))
    return at


def _args(request: Any, *drop: str) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(request).items()
            if k not in ("actor", "at", *drop)}  # fmt: skip


# ---- the programme ---------------------------------------------------------------------------------------


@workflow.defn(name="TransferProgrammeWorkflow")
class TransferProgrammeWorkflow:
    @workflow.init
    def __init__(self, inp: ProgrammeInput) -> None:
        self._input = inp
        self._cmd = _Commands(inp.programme)
        self._state: ProgrammeState | None = None
        self._lock = asyncio.Lock()  # one programme command at a time: starts never miss an added item
        self._next = inp.next_batch
        self._started: list[str] = list(inp.started)
        self._started_here = 0
        self._finished: dict[str, str] = dict(inp.finished)
        self._changes = 0

    @workflow.run
    async def run(self, inp: ProgrammeInput) -> ProgrammeState:
        async with self._lock:
            self._set((await self._cmd("load")).programme)
        trial = asyncio.create_task(self._trial_branch())
        batches = sorted(self._view().batches, key=lambda b: b.cut_over)
        while self._next < len(batches):
            if self._next > 0:  # batches in order: the next handover opens once the previous batch cut over
                delay = batches[self._next - 1].cut_over - workflow.now()
                if delay > timedelta(0):
                    await workflow.sleep(delay, summary=f"第{batches[self._next - 1].no}批切换")
            b = batches[self._next]
            async with self._lock:
                if b.no not in self._view().opened_batches:
                    self._set((await self._cmd("open_batch", key=f"open-batch-{b.no}", batch=b.no)).programme)
            pending = [i.code for i in self._view().listed(b.no) if i.code not in self._started]
            while pending:
                room = max(1, self._input.children_per_run - self._started_here)
                chunk, pending = pending[:room], pending[room:]
                await self._start_items(chunk)
                if pending:
                    await self._continue_as_new()  # the batch goes on in the next run
            self._next += 1
            if workflow.info().is_continue_as_new_suggested() or self._started_here >= self._input.children_per_run:
                await self._continue_as_new()
        # Every batch is open: wait for the items, then close (a refusal waits for the next change).
        while self._view().status != "closed":
            await workflow.wait_condition(lambda: self._all_finished() and self._view().status == "trial")
            async with self._lock:
                try:
                    self._set((await self._cmd("close", key="close")).programme)
                except ApplicationError as e:
                    _log().warning("transfer.programme.close_refused", reason=str(e))
                    seen = self._changes
                    await workflow.wait_condition(lambda: self._changes != seen)  # noqa: B023
            if workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()
        trial.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    def _view(self) -> ProgrammeState:
        assert self._state is not None
        return self._state

    def _set(self, state: ProgrammeState | None) -> None:
        if state is not None and (self._state is None or state.version >= self._state.version):
            self._state = state
        self._changes += 1

    def _all_finished(self) -> bool:
        return all(i.code in self._finished for i in self._view().listed() if i.batch is not None)

    async def _trial_branch(self) -> None:
        """The programme's trial starts once every milestone is recorded and the trial's first day has come."""
        while self._view().status in ("planned", "handover"):
            v = self._view()
            if v.status == "handover" and set(v.milestones) >= {m.value for m in ALL_MILESTONES}:
                start = datetime.fromisoformat(v.trial_start).replace(tzinfo=SHANGHAI)
                if start > workflow.now():
                    await workflow.sleep(start - workflow.now(), summary="试运行开始")
                async with self._lock:
                    try:
                        self._set((await self._cmd("start_trial", key="start-trial")).programme)
                    except ApplicationError as e:
                        _log().warning("transfer.programme.trial_refused", reason=str(e))
                        return
            else:
                seen = self._changes
                await workflow.wait_condition(lambda: self._changes != seen)  # noqa: B023

    async def _start_items(self, codes: list[str]) -> None:
        gate = asyncio.Semaphore(START_CONCURRENCY)

        async def start(code: str) -> None:
            async with gate:
                await self._start_item(code)

        await asyncio.gather(*(start(c) for c in codes))

    async def _start_item(self, code: str) -> None:
        if code in self._started:
            return
        self._started.append(code)
        self._started_here += 1
        try:
            await workflow.start_child_workflow(
                ITEM_WORKFLOW,
                ItemInput(self._input.programme, code),
                id=item_workflow_id(self._input.programme, code),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=code,
            )
        except WorkflowAlreadyStartedError:  # a run of it still goes on (e.g. removed, not yet ended)
            _log().warning("transfer.item.already_running", item=code)

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(lambda: not self._lock.locked())
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            ProgrammeInput(
                self._input.programme,
                self._next,
                tuple(self._started),
                dict(self._finished),
                self._input.children_per_run,
            )
        )

    async def _signal_item(self, code: str, name: str, *args: Any) -> None:
        try:
            await workflow.get_external_workflow_handle(item_workflow_id(self._input.programme, code)).signal(
                name, args=list(args)
            )
        except Exception as e:
            _log().info("transfer.item.signal_skipped", item=code, signal=name, reason=str(e))

    def _running_items(self) -> list[str]:
        return [c for c in self._started if c not in self._finished]

    # ---- signals from items -------------------------------------------------------------------

    @workflow.signal
    def item_finished(self, code: str, status: str) -> None:
        self._finished[code] = status
        self._changes += 1

    # ---- programme-wide staff steps -------------------------------------------------------------

    def _ready(self) -> ProgrammeState:
        if self._state is None:
            raise ApplicationError("划转方案正在启动，请稍后再试", type="TRANSFER_NOT_READY", non_retryable=True)
        return self._state

    @workflow.update
    async def milestone(self, req: MilestoneRequest) -> StepAnswer:
        async with self._lock:
            self._check_milestone(req)
            before = set(self._view().milestones)
            r = await self._cmd("milestone", actor=req.actor, at=_moment(req.at), **_args(req))
            self._set(r.programme)
        # Only the items whose batch this milestone opened the gates of need to hear it (once each): an item
        # started later reads the milestones with its state.
        v = self._view()
        after = set(v.milestones)
        opened = {b.no for b in v.batches if set(b.gates) <= after and not set(b.gates) <= before}
        batch_of = {i.code: i.batch for i in v.items}
        gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)  # Temporal bounds the signals a run has in flight

        async def tell(c: str) -> None:
            async with gate:
                await self._signal_item(c, "milestones", sorted(after))

        await asyncio.gather(*(tell(c) for c in self._running_items() if batch_of.get(c) in opened))
        return StepAnswer(programme=r.programme, notification_id=r.notification_id)

    @milestone.validator
    def _check_milestone(self, req: MilestoneRequest) -> None:
        try:
            _moment(req.at)
            check_milestone(self._ready(), req.milestone, req.document_no)
        except DomainError as e:
            raise _refusal(e) from None

    @workflow.update
    async def add_item(self, req: AddItemRequest) -> StepAnswer:
        async with self._lock:
            self._check_add(req)
            r = await self._cmd("add_item", actor=req.actor, at=_moment(req.at), **_args(req))
            self._set(r.programme)
            self._finished.pop(req.code, None)  # a relisted item runs again
            if req.code in self._started:
                self._started.remove(req.code)
            if req.batch is not None and req.batch in self._view().opened_batches:
                await self._start_item(req.code)  # its batch is under way: it joins at once
        return StepAnswer(programme=r.programme, item=r.item, notification_id=r.notification_id)

    @add_item.validator
    def _check_add(self, req: AddItemRequest) -> None:
        try:
            _moment(req.at)
            check_add_item(self._ready(), code=req.code, department=req.department, batch=req.batch,
                           approved_by=req.approved_by, reason=req.reason)  # fmt: skip
        except DomainError as e:
            raise _refusal(e) from None

    @workflow.update
    async def remove_item(self, req: RemoveItemRequest) -> StepAnswer:
        async with self._lock:
            self._check_remove(req)
            r = await self._cmd("remove_item", actor=req.actor, at=_moment(req.at), **_args(req))
            self._set(r.programme)
        if req.code in self._running_items():
            await self._signal_item(req.code, "removed")
        return StepAnswer(programme=r.programme, item=r.item, notification_id=r.notification_id)

    @remove_item.validator
    def _check_remove(self, req: RemoveItemRequest) -> None:
        try:
            _moment(req.at)
            check_remove_item(self._ready(), req.code, approved_by=req.approved_by, reason=req.reason)
        except DomainError as e:
            raise _refusal(e) from None

    @workflow.query
    def state(self) -> ProgrammeState | None:
        return self._state

    @workflow.query
    def finished(self) -> dict[str, str]:
        return dict(self._finished)


# ---- one item --------------------------------------------------------------------------------------------


@workflow.defn(name="ItemTransferWorkflow")
class ItemTransferWorkflow:
    @workflow.init
    def __init__(self, inp: ItemInput) -> None:
        self._input = inp
        self._cmd = _Commands(inp.programme, inp.code)
        self._item: ItemState | None = None
        self._milestones: set[str] = set()
        self._gates_of: dict[int, set[str]] = {}  # batch -> the milestones its cut-over waits for
        self._lock = asyncio.Lock()
        self._removed = False
        self._in_update = False  # the lock is held by a staff step (not by a system step)
        self._changes = 0
        self._failed: set[tuple[str, str]] = set()  # (step, state key) refused by the domain: never loop on them

    @workflow.run
    async def run(self, inp: ItemInput) -> str:
        async with self._lock:  # read the item and open its handover in one step when its batch is open
            self._set(await self._cmd("start"))
        while not self._view().is_final:
            if self._removed:
                self._removed = False
                await self._load()
                continue
            status = ItemStatus(self._view().status)
            if status is ItemStatus.SCHEDULED:
                await self._act("open_handover")
            elif status is ItemStatus.HANDOVER:
                await self._handover()
            elif status.in_trial:
                await self._trial()
            else:  # catalogued (no batch yet): wait for a change from outside
                await self._wait_change()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(lambda: not self._lock.locked())
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(inp)
        await workflow.wait_condition(workflow.all_handlers_finished)
        try:
            await workflow.get_external_workflow_handle(programme_workflow_id(inp.programme)).signal(
                "item_finished", args=[inp.code, self._view().status]
            )
        except Exception as e:
            _log().info("transfer.item.no_programme", reason=str(e))
        return self._view().status

    def _view(self) -> ItemState:
        assert self._item is not None
        return self._item

    def _set(self, r: TransferResult) -> None:
        if r.programme is not None:
            self._milestones |= set(r.programme.milestones)
            self._gates_of = {b.no: set(b.gates) for b in r.programme.batches}
        if r.item is not None and (self._item is None or r.item.version >= self._item.version):
            self._item = r.item
        self._changes += 1

    async def _load(self) -> None:
        async with self._lock:
            self._set(await self._cmd("load"))

    def _key(self) -> tuple[Any, ...]:
        v = self._view()
        return (v.version, tuple(sorted(self._milestones)), self._removed)

    async def _wait_change(self) -> None:
        seen = self._key()
        await workflow.wait_condition(lambda: self._key() != seen)

    async def _act(self, step: str, *, key: str | None = None, **kw: Any) -> bool:
        """A system step under the lock; a refusal is remembered for this state (no loop) and waits for a change."""
        async with self._lock:
            before = self._key()
            if (step, repr(before)) not in self._failed:
                try:
                    self._set(await self._cmd(step, key=key, **kw))
                    if self._key() == before:  # nothing changed: never spin on the same step
                        self._failed.add((step, repr(before)))
                    return True
                except ApplicationError as e:
                    _log().warning("transfer.item.step_refused", step=step, reason=str(e))
                    self._failed.add((step, repr(self._key())))
                    self._set(await self._cmd("load"))  # perhaps removed meanwhile
        await self._wait_change()
        return False

    def _ready_to_cut_over(self) -> bool:
        v = self._view()
        gates = self._gates_of.get(v.batch, set()) if v.batch is not None else set()
        return not v.open_entries and gates <= self._milestones

    async def _handover(self) -> None:
        v = self._view()
        if not self._ready_to_cut_over():
            await workflow.wait_condition(
                lambda: self._ready_to_cut_over() or self._removed or self._view().status != ItemStatus.HANDOVER.value
            )
            return
        assert v.planned_cut_over is not None
        delay = v.planned_cut_over - workflow.now()
        if delay > timedelta(0):
            seen = self._key()
            try:
                await workflow.wait_condition(lambda: self._key() != seen, timeout=delay, timeout_summary="切换时刻")
                return
            except TimeoutError:
                pass
        await self._act("cut_over")

    async def _trial(self) -> None:
        due = next_snapshot(self._view())
        seen = self._key()
        if due is None:
            await workflow.wait_condition(lambda: self._key() != seen)
            return
        delay = due - workflow.now()
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._key() != seen, timeout=delay, timeout_summary="每周试运行数据"
                )
                return
            except TimeoutError:
                pass
        await self._act("snapshot")

    # ---- signals from the programme -------------------------------------------------------------

    @asynccontextmanager
    async def _update_lock(self) -> AsyncIterator[None]:
        async with self._lock:
            self._in_update = True
            try:
                yield
            finally:
                self._in_update = False

    @workflow.signal
    def milestones(self, recorded: list[str]) -> None:
        self._milestones |= set(recorded)
        self._changes += 1

    @workflow.signal
    def removed(self) -> None:
        self._removed = True
        self._changes += 1

    # ---- item-level staff steps ---------------------------------------------------------------

    def _ready(self) -> ItemState:
        if self._item is None:
            raise ApplicationError("事项流程正在启动，请稍后再试", type="TRANSFER_NOT_READY", non_retryable=True)
        return self._item

    @workflow.update
    async def sign(self, req: SignRequest) -> StepAnswer:
        async with self._update_lock():
            self._check_sign(req)
            r = await self._cmd("sign", actor=req.actor, at=_moment(req.at), **_args(req))
            self._set(r)
        return StepAnswer(item=r.item, notification_id=r.notification_id)

    @sign.validator
    def _check_sign(self, req: SignRequest) -> None:
        self._validate(lambda: check_sign(self._ready(), req.entry, req.actor, req.party or None), req.at)

    def _validate(self, check: Any, at: datetime | None) -> None:
        """Run a rule on the snapshot. While a system step is in flight (the lock is held outside any
        Update) the snapshot may be one status behind: a status refusal then means "ask again"."""
        try:
            _moment(at)
            check()
        except TransferIllegalTransition as e:
            opening = self._item is not None and self._item.status == ItemStatus.SCHEDULED.value  # opens at once
            if (self._lock.locked() and not self._in_update) or opening:
                raise ApplicationError(
                    "事项正在切换状态，请稍后再试", type="TRANSFER_NOT_READY", non_retryable=True
                ) from None
            raise _refusal(e) from None
        except DomainError as e:
            raise _refusal(e) from None

    @workflow.update
    async def decide(self, req: DecideRequest) -> StepAnswer:
        async with self._update_lock():
            self._check_decide(req)
            r = await self._cmd("decide", actor=req.actor, at=_moment(req.at), **_args(req))
            self._set(r)
        return StepAnswer(item=r.item, notification_id=r.notification_id)

    @decide.validator
    def _check_decide(self, req: DecideRequest) -> None:
        self._validate(
            lambda: check_decision(
                self._ready(), req.decision, at=_moment(req.at), reason=req.reason, new_end=req.new_end
            ),
            req.at,
        )

    @workflow.query
    def state(self) -> ItemState | None:
        return self._item


# ---- 审管联动 --------------------------------------------------------------------------------------------


@workflow.defn(name="SupervisionWorkflow")
class SupervisionWorkflow:
    @workflow.init
    def __init__(self, case_no: str) -> None:
        self._cmd = _Commands("", case_no)
        self._task: SupervisionState | None = None
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, case_no: str) -> str:
        async with self._lock:
            self._task = (await self._cmd("supervision_load")).task
        if self._view().status == "open":
            delay = self._view().claim_due - workflow.now()
            if delay > timedelta(0):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._view().status != "open", timeout=delay, timeout_summary="认领期限"
                    )
            async with self._lock:
                if self._view().status == "open":
                    self._task = (await self._cmd("mark_overdue", key="overdue")).task
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view().status

    def _view(self) -> SupervisionState:
        assert self._task is not None
        return self._task

    @workflow.update
    async def claim(self, req: ClaimRequest) -> StepAnswer:
        async with self._lock:
            self._check_claim(req)
            r = await self._cmd("claim", actor=req.actor, at=_moment(req.at))
            self._task = r.task
        return StepAnswer(task=r.task, notification_id=r.notification_id)

    @claim.validator
    def _check_claim(self, req: ClaimRequest) -> None:
        if self._task is None:
            raise ApplicationError("监管任务正在启动，请稍后再试", type="TRANSFER_NOT_READY", non_retryable=True)
        try:
            _moment(req.at)
            check_claim(self._task, req.actor)
        except DomainError as e:
            raise _refusal(e) from None

    @workflow.query
    def state(self) -> SupervisionState | None:
        return self._task


__all__ = [
    "ItemTransferWorkflow",
    "SupervisionWorkflow",
    "TransferIllegalTransition",
    "TransferProgrammeWorkflow",
    "replace",
]
