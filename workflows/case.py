"""CaseWorkflow: the whole life of one case (办件), one workflow per case.

Deterministic code only: it holds ids and the last case view the activity returned, and it
sleeps until moments the domain computed (§32 deemed acceptance, correction window, warning,
promised deadline). Staff steps arrive as Updates named after the step (``notice``, ``decide``,
…), each carrying the step's typed request; ONE handler serves them all through the domain's step
registry, and its validator runs the registry's rules on the case view, so an illegal step is
refused before anything is written to history. A new step needs no change here.

Released (v1): every recorded history under tests/histories/ must replay; changes go behind
``workflow.patched``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    import structlog

    from domain.cases.model import CaseStatus, CaseView
    from domain.cases.steps import (
        Accept,
        Adopt,
        Complete,
        MarkOverdue,
        Refuse,
        StepRequest,
        StepSpec,
        Warn,
        spec_for,
        validate,
    )
    from domain.errors import DomainError
    from domain.staff import SYSTEM_ACTOR
    from workflows.case_activities import CaseActivities
    from workflows.contracts import (
        REGISTRATION_UPDATE,
        SUBMIT,
        SUPERVISION_WORKFLOW,
        CaseCommand,
        CaseInput,
        StepResult,
        supervision_workflow_id,
    )
    from workflows.search_attributes import SEARCH_ATTRIBUTES_PATCH, case_updates

ACTIVITY_TIMEOUT = timedelta(seconds=60)  # v1: a command lost with a killed worker was retried after a minute
# A command takes milliseconds; one lost with a killed worker is retried once this has passed, so this
# bounds what a killed worker adds to a step (docs/operations.md). Cases started before the patch keep 60 s.
COMMAND_TIMEOUT = timedelta(seconds=10)
SHORT_COMMAND_TIMEOUT_PATCH = "short-command-timeout"
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=20))
CORRECTION_OVERDUE_REASON = "逾期未补正，视为放弃申请"
SUPERVISION_PATCH = "supervision-task"  # a bureau decision on a programme item starts SupervisionWorkflow
# A step with a follow-on (出件, then 办结 at once) runs as ONE command recording both events in one save,
# where cases started before the patch ran two commands (two activities) for it.
ONE_COMMAND_THEN_PATCH = "one-command-then"


@dataclass(frozen=True)
class CaseProgress:
    """The ``status`` query's answer: the case as the workflow last saw it, and its next timer."""

    workflow_id: str
    case: CaseView | None
    next_timer: str | None = None
    next_timer_at: datetime | None = None


def _refusal(e: DomainError) -> ApplicationError:
    return ApplicationError(e.message, type=e.code, non_retryable=True)


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self._input = inp
        self._case: CaseView | None = None
        self._lock = asyncio.Lock()
        self._seq = 0
        self._changes = 0
        self._failed_timers: set[tuple[str, datetime]] = set()
        self._registered: StepResult | None = None
        self._refused: ApplicationError | None = None

    # ---- main line ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseView:
        async with self._lock:
            try:
                if inp.adopt and workflow.patched("adopt-legacy-case"):
                    self._registered = await self._execute(Adopt(actor=SYSTEM_ACTOR))
                else:
                    self._registered = await self._execute(inp.submission())
            except ApplicationError as e:  # refused: answer a waiting registration Update, then fail as before
                self._refused = e
                await workflow.wait_condition(workflow.all_handlers_finished)
                raise
        while not self._view().is_closed:
            if self._view().status is CaseStatus.DELIVERED:  # only if a crash cut the deliver step short
                async with self._lock:
                    if self._view().status is CaseStatus.DELIVERED:
                        await self._execute(Complete(actor=SYSTEM_ACTOR))
                continue
            seen = self._changes
            timer = self._next_timer()
            if timer is None:
                await workflow.wait_condition(lambda: self._changes != seen)  # noqa: B023 (awaited at once)
                continue
            kind, due = timer
            delay = due - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda: self._changes != seen,  # noqa: B023 (awaited at once)
                        timeout=delay,
                        timeout_summary=kind,
                    )
                    continue
                except TimeoutError:
                    pass
            await self._fire(kind, due)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    def _view(self) -> CaseView:
        assert self._case is not None
        return self._case

    def _next_timer(self) -> tuple[str, datetime] | None:
        """The one timer that matters in the current status, with the moment it fires."""
        c = self._view()
        candidates: list[tuple[str, datetime | None]] = []
        if c.status is CaseStatus.SUBMITTED:
            candidates = [("deemed_accept", c.deemed_acceptance_at)]
        elif c.status is CaseStatus.AWAITING_CORRECTION:
            candidates = [("correction_overdue", c.correction_due_at)]
        elif c.status in (CaseStatus.UNDER_REVIEW, CaseStatus.DECIDED):
            if not c.warned:
                candidates.append(("warn", c.warning_at))
            if not c.overdue:
                candidates.append(("mark_overdue", c.promised_deadline))
        for kind, moment in candidates:
            if moment and (kind, moment) not in self._failed_timers:
                return kind, moment
        return None

    async def _fire(self, kind: str, due: datetime) -> None:
        """A timer ran out: act on the law's behalf, unless a staff step got there first."""
        async with self._lock:
            if self._next_timer() != (kind, due):
                return
            requests: dict[str, StepRequest] = {
                "deemed_accept": Accept(actor=SYSTEM_ACTOR, deemed=True),
                "correction_overdue": Refuse(
                    actor=SYSTEM_ACTOR, reason=CORRECTION_OVERDUE_REASON, overdue_correction=True
                ),
                "warn": Warn(actor=SYSTEM_ACTOR),
                "mark_overdue": MarkOverdue(actor=SYSTEM_ACTOR),
            }
            try:
                await self._execute(requests[kind])
            except ApplicationError as e:
                # Never loop on a timer the domain refuses; the refusal is in the log and history.
                self._log().error("case.timer.refused", timer=kind, reason=str(e))
                self._failed_timers.add((kind, due))

    async def _execute(self, request: Any, then: str | None = None) -> StepResult:
        """Run one command on the case aggregate; the command id is stable across activity retries.

        ``then`` names a step the same command takes at once afterwards, as the system (one save)."""
        step = SUBMIT if not isinstance(request, StepRequest) else request.step.value
        self._seq += 1
        info = workflow.info()
        cmd = CaseCommand(
            case_no=self._input.case_no,
            command_id=f"{info.workflow_id}/{self._seq}:{step}",
            at=workflow.now(),
            rules=self._input.rules,
            step=step,
            request=request,
            then=then,
        )
        timeout = COMMAND_TIMEOUT if workflow.patched(SHORT_COMMAND_TIMEOUT_PATCH) else ACTIVITY_TIMEOUT
        try:
            result = await workflow.execute_activity_method(
                CaseActivities.case_command,
                cmd,
                start_to_close_timeout=timeout,
                retry_policy=ACTIVITY_RETRY,
                summary=step if then is None else f"{step}+{then}",
            )
        except ActivityError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError):
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
            raise
        if workflow.patched(SEARCH_ATTRIBUTES_PATCH):  # findable in Temporal's tools as the status changes
            updates = case_updates(result.case, workflow.info().typed_search_attributes)
            if updates:
                workflow.upsert_search_attributes(updates)
        self._case = result.case
        self._changes += 1
        self._log().info("case.step", step=step, status=result.case.status.value, recorded=result.recorded)
        if result.supervision_task and workflow.patched(SUPERVISION_PATCH):
            await self._start_supervision()
        # The notification id lets the caller wait for the read models (read-your-writes).
        return StepResult(result.case, result.notification_id)

    async def _start_supervision(self) -> None:
        """审管联动: the decision's supervision task runs as its own workflow (the origin department claims
        it); started by name, abandoned to live on after the case ends; we wait only for it to start."""
        case_no = self._input.case_no
        try:
            await workflow.start_child_workflow(
                SUPERVISION_WORKFLOW,
                case_no,
                id=supervision_workflow_id(case_no),
                task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            self._log().info("case.supervision.already_started", case_no=case_no)

    def _log(self) -> Any:
        info = workflow.info()
        logger = structlog.get_logger("oneseal.workflow").bind(
            case_no=self._input.case_no, workflow_id=info.workflow_id
        )
        return _Silent() if workflow.unsafe.is_replaying() else logger

    # ---- staff steps (one Update per step name, one handler for all) --------------------------

    def _decode(self, name: str, args: Sequence[RawValue]) -> tuple[StepSpec, StepRequest]:
        try:
            spec = spec_for(name)
            if len(args) != 1:
                raise ApplicationError("办理请求格式有误", type="REQUEST_MALFORMED", non_retryable=True)
            request = workflow.payload_converter().from_payload(args[0].payload, spec.request)
        except DomainError as e:
            raise _refusal(e) from None
        except (TypeError, ValueError) as e:
            raise ApplicationError(f"办理请求格式有误：{e}", type="REQUEST_MALFORMED", non_retryable=True) from None
        return spec, request

    def _validate(self, request: StepRequest) -> None:
        if self._case is None:
            raise ApplicationError("办件正在登记，请稍后再试", type="CASE_NOT_READY", non_retryable=True)
        try:
            validate(self._case, request, workflow.now())
        except DomainError as e:
            raise _refusal(e) from None

    @workflow.update(dynamic=True)
    async def step(self, name: str, args: Sequence[RawValue]) -> StepResult:
        spec, request = self._decode(name, args)
        async with self._lock:
            self._validate(request)  # again: a timer may have acted while we waited for the lock
            if spec.then is not None and workflow.patched(ONE_COMMAND_THEN_PATCH):
                return await self._execute(request, then=spec.then.value)  # 出件 and 办结: one command, one save
            result = await self._execute(request)
            if spec.then is not None:  # cases started before the patch: 出件, then 办结 as a second command
                result = await self._execute(spec_for(spec.then.value).request(actor=SYSTEM_ACTOR))
            return result

    @step.validator
    def _check_step(self, name: str, args: Sequence[RawValue]) -> None:
        _, request = self._decode(name, args)
        self._validate(request)

    @workflow.update(name=REGISTRATION_UPDATE)
    async def registration(self) -> StepResult:
        """Answers once the case is registered (or refused): the submission's Update-with-Start, so a
        submission is one round trip instead of a start and a polled query."""
        await workflow.wait_condition(lambda: self._registered is not None or self._refused is not None)
        if self._registered is None:
            assert self._refused is not None
            raise ApplicationError(self._refused.message, type=self._refused.type, non_retryable=True)
        return self._registered

    # ---- query --------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> CaseProgress:
        timer = self._next_timer() if self._case is not None and not self._case.is_closed else None
        return CaseProgress(
            workflow_id=workflow.info().workflow_id,
            case=self._case,
            next_timer=timer[0] if timer else None,
            next_timer_at=timer[1] if timer else None,
        )


class _Silent:
    """Logger stand-in during replay: a replayed step was already logged when it first ran."""

    def __getattr__(self, _: str) -> Any:
        return lambda *a, **k: None
