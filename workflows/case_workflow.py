"""CaseWorkflow: the whole life of one case (办件), one workflow per case.

Deterministic code only: it holds ids and the last case summary the activities returned, and
it sleeps until moments the domain computed (§32 deemed acceptance, correction window,
warning, promised deadline). Staff steps arrive as Updates whose validators refuse an illegal
step before anything is written to history.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import structlog

    from domain.case import CaseStatus, Step, validate_request
    from domain.errors import DomainError
    from domain.staff import SYSTEM_ACTOR, Actor
    from workflows.contracts import CaseCommand, CaseInput, CaseResult, StepRequest

ACTIVITY_TIMEOUT = timedelta(seconds=60)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=20))


def _refusal(e: DomainError) -> ApplicationError:
    return ApplicationError(e.message, type=e.code, non_retryable=True)


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self._input = inp
        self._case: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        self._seq = 0
        self._changes = 0
        self._failed_timers: set[tuple[str, str]] = set()

    # ---- main line ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: CaseInput) -> dict[str, Any]:
        async with self._lock:
            await self._execute(
                "submit",
                inp.submitted_by,
                {
                    "matter_code": inp.matter_code,
                    "applicant": inp.applicant,
                    "provided_materials": list(inp.provided_materials),
                },
            )
        while not self._status().is_closed:
            if self._status() is CaseStatus.DELIVERED:  # only if a crash cut the deliver step short
                async with self._lock:
                    if self._status() is CaseStatus.DELIVERED:
                        await self._execute("complete", SYSTEM_ACTOR.to_dict(), {})
                continue
            seen = self._changes
            timer = self._next_timer()
            if timer is None:
                await workflow.wait_condition(lambda: self._changes != seen)  # noqa: B023 (awaited at once)
                continue
            step, due = timer
            delay = due - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda: self._changes != seen,  # noqa: B023 (awaited at once)
                        timeout=delay,
                        timeout_summary=step,
                    )
                    continue
                except TimeoutError:
                    pass
            await self._fire(step, due)
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self._case is not None
        return self._case

    def _status(self) -> CaseStatus:
        assert self._case is not None
        return CaseStatus(self._case["status"])

    def _next_timer(self) -> tuple[str, datetime] | None:
        """The one timer that matters in the current status, with the moment it fires."""
        c = self._case
        assert c is not None
        status = self._status()
        candidates: list[tuple[str, str | None]] = []
        if status is CaseStatus.SUBMITTED:
            candidates = [("deemed_accept", c["deemed_acceptance_at"])]
        elif status is CaseStatus.AWAITING_CORRECTION:
            candidates = [("correction_overdue", c["correction_due_at"])]
        elif status in (CaseStatus.UNDER_REVIEW, CaseStatus.DECIDED):
            if not c["warned"]:
                candidates.append(("warn", c["warning_at"]))
            if not c["overdue"]:
                candidates.append(("mark_overdue", c["promised_deadline"]))
        for step, moment in candidates:
            if moment and (step, moment) not in self._failed_timers:
                return step, datetime.fromisoformat(moment)
        return None

    async def _fire(self, step: str, due: datetime) -> None:
        """A timer ran out: act on the law's behalf, unless a staff step got there first."""
        async with self._lock:
            if self._next_timer() != (step, due):
                return
            system = SYSTEM_ACTOR.to_dict()
            timer_args: dict[str, dict[str, Any]] = {
                "deemed_accept": {"deemed": True},
                "correction_overdue": {"reason": "逾期未补正，视为放弃申请", "overdue_correction": True},
            }
            args = timer_args.get(step, {})
            activity_step = {"deemed_accept": "accept", "correction_overdue": "refuse"}.get(step, step)
            try:
                await self._execute(activity_step, system, args)
            except ApplicationError as e:
                # Never loop on a timer the domain refuses; the refusal is in the log and history.
                self._log().error("case.timer.refused", timer=step, reason=str(e))
                self._failed_timers.add((step, due.isoformat()))

    async def _execute(self, step: str, actor: dict[str, str], args: dict[str, Any]) -> dict[str, Any]:
        """Run one command on the case aggregate; the command id is stable across activity retries."""
        self._seq += 1
        info = workflow.info()
        cmd = CaseCommand(
            case_no=self._input.case_no,
            step=step,
            command_id=f"{info.workflow_id}/{self._seq}:{step}",
            actor=actor,
            at=workflow.now(),
            rules=self._input.rules,
            args=args,
        )
        try:
            result = await workflow.execute_activity(
                "case_command",
                cmd,
                result_type=CaseResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
                summary=step,
            )
        except ActivityError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError):
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
            raise
        self._case = result.case
        self._changes += 1
        self._log().info("case.step", step=step, status=result.case["status"], recorded=result.recorded)
        # The notification id lets the caller wait for the read models (read-your-writes).
        return {**result.case, "notification_id": result.notification_id}

    def _log(self) -> Any:
        info = workflow.info()
        logger = structlog.get_logger("oneseal.workflow").bind(
            case_no=self._input.case_no, workflow_id=info.workflow_id
        )
        return _Silent() if workflow.unsafe.is_replaying() else logger

    # ---- staff steps (Updates) ----------------------------------------------------------------

    def _validate(self, step: Step, req: StepRequest) -> None:
        if self._case is None:
            raise ApplicationError("办件正在登记，请稍后再试", type="CASE_NOT_READY", non_retryable=True)
        try:
            validate_request(
                step,
                self._case,
                Actor.from_dict(req.actor),
                materials=list(req.materials),
                reason=req.reason,
                outcome=req.outcome,
            )
        except DomainError as e:
            raise _refusal(e) from None

    async def _staff_step(self, step: Step, req: StepRequest, args: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            self._validate(step, req)  # again: a timer may have acted while we waited for the lock
            return await self._execute(step.value, req.actor, args)

    @workflow.update
    async def notice(self, req: StepRequest) -> dict[str, Any]:
        return await self._staff_step(Step.NOTICE, req, {"materials": list(req.materials)})

    @notice.validator
    def _check_notice(self, req: StepRequest) -> None:
        self._validate(Step.NOTICE, req)

    @workflow.update
    async def supplement(self, req: StepRequest) -> dict[str, Any]:
        return await self._staff_step(Step.SUPPLEMENT, req, {"materials": list(req.materials)})

    @supplement.validator
    def _check_supplement(self, req: StepRequest) -> None:
        self._validate(Step.SUPPLEMENT, req)

    @workflow.update
    async def accept(self, req: StepRequest) -> dict[str, Any]:
        return await self._staff_step(Step.ACCEPT, req, {})

    @accept.validator
    def _check_accept(self, req: StepRequest) -> None:
        self._validate(Step.ACCEPT, req)

    @workflow.update
    async def refuse(self, req: StepRequest) -> dict[str, Any]:
        return await self._staff_step(Step.REFUSE, req, {"reason": req.reason})

    @refuse.validator
    def _check_refuse(self, req: StepRequest) -> None:
        self._validate(Step.REFUSE, req)

    @workflow.update
    async def suspend(self, req: StepRequest) -> dict[str, Any]:
        return await self._staff_step(Step.SUSPEND, req, {"reason": req.reason, "note": req.note})

    @suspend.validator
    def _check_suspend(self, req: StepRequest) -> None:
        self._validate(Step.SUSPEND, req)

    @workflow.update
    async def resume(self, req: StepRequest) -> dict[str, Any]:
        return await self._staff_step(Step.RESUME, req, {})

    @resume.validator
    def _check_resume(self, req: StepRequest) -> None:
        self._validate(Step.RESUME, req)

    @workflow.update
    async def decide(self, req: StepRequest) -> dict[str, Any]:
        return await self._staff_step(Step.DECIDE, req, {"outcome": req.outcome, "reason": req.reason})

    @decide.validator
    def _check_decide(self, req: StepRequest) -> None:
        self._validate(Step.DECIDE, req)

    @workflow.update
    async def deliver(self, req: StepRequest) -> dict[str, Any]:
        """出件, then 办结 at once: the window hands over the result and the case is complete."""
        async with self._lock:
            self._validate(Step.DELIVER, req)
            await self._execute(Step.DELIVER.value, req.actor, {})
            return await self._execute("complete", SYSTEM_ACTOR.to_dict(), {})

    @deliver.validator
    def _check_deliver(self, req: StepRequest) -> None:
        self._validate(Step.DELIVER, req)

    @workflow.update
    async def withdraw(self, req: StepRequest) -> dict[str, Any]:
        return await self._staff_step(Step.WITHDRAW, req, {"reason": req.reason})

    @withdraw.validator
    def _check_withdraw(self, req: StepRequest) -> None:
        self._validate(Step.WITHDRAW, req)

    # ---- query --------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> dict[str, Any]:
        timer = self._next_timer() if self._case is not None and not self._status().is_closed else None
        return {
            "workflow_id": workflow.info().workflow_id,
            "case": self._case,
            "next_timer": {"kind": timer[0], "at": timer[1].isoformat()} if timer else None,
        }


class _Silent:
    """Logger stand-in during replay: a replayed step was already logged when it first ran."""

    def __getattr__(self, _: str) -> Any:
        return lambda *a, **k: None
