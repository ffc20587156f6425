"""ParallelApprovalWorkflow: one investment project from registration to completion acceptance (or denial).

One workflow per project (id ``project-<code>``). When the lead accepts a stage application, the
workflow starts one concurrent branch per participating department of that stage (named by the task's
business key ``<code>/<stage>/opinion/<department>``): each branch holds its department's own deadline
and, when it passes in silence, applies the stage's policy (督办 and keep waiting, or deemed consent).
A project-wide branch holds the reform target's warning and overdue moments. Every branch sleeps on the
moments the domain computed (``next_timers``), so while the applicant supplements to the merged notice
no clock runs, and a supplement moves them all.

Why branches and not child workflows: the departments of a stage act on ONE aggregate and their rules
are about each other (the notice goes out when every department has answered, the lead decides when all
opinions are in, nothing is taken while the stage is suspended). The project workflow holds the one
current view, so every Update validator sees the whole stage without cross-workflow messages, the clocks
stop by one state change, and time skipping and replay concern one history (≈ 250 events for four
stages of five departments, far below Temporal's limits).

Staff steps arrive as Updates named after the step (``accept_stage``, ``opinion``, ``supplement``,
``decide``), carrying the step's typed request; ONE handler serves them through the domain's step
registry, and its validator runs the same checks on the view, so a refused step never reaches history.
Deterministic code only: no aggregates here, business time from ``workflow.now()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import structlog

    # Every module whose dataclasses cross the boundary must be in the sandbox's modules, or the
    # converter cannot resolve their (string) type hints: StagePlan lives in plan.py.
    import domain.parallel.codec
    import domain.parallel.plan  # noqa: F401
    from domain.errors import DomainError
    from domain.parallel.steps import (
        GiveOpinion,
        MarkReformOverdue,
        ProjectRequest,
        RecordSilence,
        WarnReform,
        spec_for,
        validate,
    )
    from domain.parallel.values import Stage
    from domain.parallel.view import (
        ProjectView,
        StageStatus,
        TaskKind,
        TaskStatus,
        Timer,
        TimerKind,
        next_timers,
        task_id,
    )
    from domain.staff import SYSTEM_ACTOR
    from workflows.parallel_activities import ProjectActivities
    from workflows.parallel_contracts import (
        LOAD,
        REGISTER,
        ProjectCommand,
        ProjectInput,
        ProjectStepResult,
        project_workflow_id,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=60)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=20))
REFORM_KINDS = (TimerKind.REFORM_WARNING, TimerKind.REFORM_OVERDUE)


@dataclass(frozen=True)
class ProjectProgress:
    """The ``status`` query's answer: the project as the workflow last saw it, its running branches and
    the moments it sleeps on (none while the applicant supplements: the clocks stand still)."""

    workflow_id: str
    view: ProjectView | None
    branches: tuple[str, ...] = ()
    timers: tuple[Timer, ...] = ()


def _refusal(e: DomainError) -> ApplicationError:
    return ApplicationError(e.message, type=e.code, non_retryable=True)


@workflow.defn(name="ParallelApprovalWorkflow")
class ParallelApprovalWorkflow:
    @workflow.init
    def __init__(self, inp: ProjectInput) -> None:
        self._input = inp
        self._project: ProjectView | None = None
        self._lock = asyncio.Lock()  # held by one exclusive step at a time (accept, supplement, decide, timers)
        self._opinions: set[tuple[str, str]] = set()  # (stage, department) of opinions being recorded now
        self._seq = 0
        self._changes = 0
        self._branches: dict[str, asyncio.Task[None]] = {}
        self._failed_timers: set[tuple[str, datetime, str]] = set()

    # ---- main line ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ProjectInput) -> ProjectView:
        async with self._exclusive():
            if inp.adopt:
                await self._execute(LOAD, None)
            else:
                await self._execute(REGISTER, inp.registration)
        self._spawn("reform", self._reform_branch)
        while not self._view().status.is_closed:
            self._start_stage_branches()
            seen = self._changes
            await workflow.wait_condition(lambda: self._changes != seen)  # noqa: B023 (awaited at once)
        await workflow.wait_condition(lambda: all(t.done() for t in self._branches.values()))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    def _view(self) -> ProjectView:
        assert self._project is not None
        return self._project

    def _spawn(self, name: str, branch: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._branches[name] = asyncio.create_task(branch())

    def _start_stage_branches(self) -> None:
        """One branch per department of the open stage, started once (ids from business keys)."""
        v = self._view()
        s = v.current_stage
        if s is None or s.status not in (StageStatus.UNDER_REVIEW, StageStatus.SUSPENDED):
            return
        for t in s.tasks:
            name = task_id(v.code, s.stage, TaskKind.OPINION, t.department)
            if name not in self._branches:
                self._spawn(name, lambda st=s.stage, d=t.department: self._department_branch(st, d))  # type: ignore[misc]

    # ---- branches -----------------------------------------------------------------------------

    def _deadline(self, stage: Stage, department: str) -> Timer | None:
        return next(
            (
                t
                for t in next_timers(self._view())
                if t.kind is TimerKind.DEPARTMENT_DEADLINE and t.stage is stage and t.department == department
            ),
            None,
        )

    def _department_key(self, stage: Stage, department: str) -> Hashable:
        v = self._view()
        s = v.stage(stage)
        t = s.task(department)
        return (v.status, s.status, None if t is None else (t.status, t.due_at, t.escalated_at))

    async def _department_branch(self, stage: Stage, department: str) -> None:
        """The department's own clock: sleep until its deadline (moved by supplements, stopped while the
        applicant supplements); at the deadline the stage's silence policy applies."""
        while True:
            v = self._view()
            s = v.stage(stage)
            task = s.task(department)
            if v.status.is_closed or s.status.is_decided or task is None or task.status is TaskStatus.ANSWERED:
                return
            await self._sleep_then(
                lambda: self._department_key(stage, department),
                lambda: self._deadline(stage, department),
                lambda: RecordSilence(actor=SYSTEM_ACTOR, stage=stage.value, department=department),
                f"{stage.label}·{department}审查期限",
            )

    def _reform_timer(self) -> Timer | None:
        return next((t for t in next_timers(self._view()) if t.kind in REFORM_KINDS), None)

    def _reform_key(self) -> Hashable:
        v = self._view()
        s = v.current_stage
        return (v.status, None if s is None else (s.stage, s.status), v.reform)

    async def _reform_branch(self) -> None:
        """The project's reform-target clock (government time of stages 1–3): warning, then overdue."""
        while not self._view().status.is_closed and self._view().reform.final_days is None:
            await self._sleep_then(
                self._reform_key,
                self._reform_timer,
                lambda: (
                    WarnReform(actor=SYSTEM_ACTOR)
                    if self._reform_timer_kind() is TimerKind.REFORM_WARNING
                    else MarkReformOverdue(actor=SYSTEM_ACTOR)
                ),
                "改革目标时限",
            )

    def _reform_timer_kind(self) -> TimerKind | None:
        t = self._reform_timer()
        return None if t is None else t.kind

    async def _sleep_then(
        self,
        key: Callable[[], Hashable],
        timer: Callable[[], Timer | None],
        request: Callable[[], ProjectRequest],
        summary: str,
    ) -> None:
        """Wait for the branch's state to change or its timer to run out; then act, unless staff got there first."""
        seen = key()
        due = timer()
        if due is None or (due.kind.value, due.at, due.department) in self._failed_timers:
            await workflow.wait_condition(lambda: key() != seen)
            return
        delay = due.at - workflow.now()
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(lambda: key() != seen, timeout=delay, timeout_summary=summary)
                return
            except TimeoutError:
                pass
        async with self._exclusive():
            if timer() != due:  # a staff step or a supplement moved it while we waited for the lock
                return
            try:
                await self._execute(request().step.value, request())
            except ApplicationError as e:
                # Never loop on a timer the domain refuses; the refusal is in the log and the history.
                self._log().error("project.timer.refused", timer=due.kind.value, reason=str(e))
                self._failed_timers.add((due.kind.value, due.at, due.department))

    # ---- activities ---------------------------------------------------------------------------

    async def _execute(self, step: str, request: Any) -> ProjectStepResult:
        """Run one command on the project aggregate; the command id is stable across activity retries."""
        self._seq += 1
        info = workflow.info()
        cmd = ProjectCommand(
            code=self._input.code,
            command_id=f"{info.workflow_id}/{self._seq}:{step}",
            at=workflow.now(),
            step=step,
            request=request,
        )
        try:
            result = await workflow.execute_activity_method(
                ProjectActivities.project_command,
                cmd,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
                summary=step,
            )
        except ActivityError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError):
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
            raise
        view = result.view
        if self._project is None or view.version >= self._project.version:
            self._project = view  # concurrent opinions may answer out of order: keep the newest
        self._changes += 1
        self._log().info("project.step", step=step, status=view.status.value, recorded=result.recorded)
        return ProjectStepResult(result.view_json, result.notification_id)

    def _log(self) -> Any:
        info = workflow.info()
        logger = structlog.get_logger("oneseal.workflow").bind(
            project_code=self._input.code, workflow_id=info.workflow_id
        )
        return _Silent() if workflow.unsafe.is_replaying() else logger

    # ---- staff steps (one Update per step name, one handler for all) --------------------------

    def _decode(self, name: str, args: Sequence[RawValue]) -> ProjectRequest:
        try:
            spec = spec_for(name, staff_only=True)
            if len(args) != 1:
                raise ApplicationError("办理请求格式有误", type="REQUEST_MALFORMED", non_retryable=True)
            request: ProjectRequest = workflow.payload_converter().from_payload(args[0].payload, spec.request)
        except DomainError as e:
            raise _refusal(e) from None
        except (TypeError, ValueError) as e:
            raise ApplicationError(f"办理请求格式有误：{e}", type="REQUEST_MALFORMED", non_retryable=True) from None
        return request

    def _validate(self, request: ProjectRequest) -> None:
        if self._project is None:
            raise ApplicationError("项目正在登记，请稍后再试", type="PROJECT_NOT_READY", non_retryable=True)
        if isinstance(request, GiveOpinion) and (request.stage, request.department) in self._opinions:
            raise ApplicationError(
                f"「{request.department}」的意见正在办理，不能重复出具",
                type="PROJECT_OPINION_DUPLICATE",
                non_retryable=True,
            )
        try:
            validate(self._project, request, workflow.now())
        except DomainError as e:
            raise _refusal(e) from None

    @workflow.update(dynamic=True)
    async def step(self, name: str, args: Sequence[RawValue]) -> ProjectStepResult:
        request = self._decode(name, args)
        if isinstance(request, GiveOpinion):
            # Departments review at the same time: their opinions are recorded concurrently (the aggregate
            # serialises the writes: a version conflict reloads and retries), never during an exclusive step.
            await workflow.wait_condition(lambda: not self._lock.locked())
            self._validate(request)  # again: an exclusive step may have changed the stage meanwhile
            key = (request.stage, request.department)
            self._opinions.add(key)
            try:
                return await self._execute(request.step.value, request)
            finally:
                self._opinions.discard(key)
        async with self._exclusive():
            self._validate(request)  # again: a timer may have acted while we waited for the lock
            return await self._execute(request.step.value, request)

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Accept, supplement, decide and every timer run alone: after the opinions in flight are recorded."""
        async with self._lock:
            await workflow.wait_condition(lambda: not self._opinions)
            yield

    @step.validator
    def _check_step(self, name: str, args: Sequence[RawValue]) -> None:
        self._validate(self._decode(name, args))

    # ---- query --------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> ProjectProgress:
        v = self._project
        return ProjectProgress(
            workflow_id=workflow.info().workflow_id,
            view=v,
            branches=tuple(k for k, t in self._branches.items() if not t.done()),
            timers=next_timers(v) if v is not None else (),
        )


class _Silent:
    """Logger stand-in during replay: a replayed step was already logged when it first ran."""

    def __getattr__(self, _: str) -> Any:
        return lambda *a, **k: None


__all__ = ["ParallelApprovalWorkflow", "ProjectProgress", "project_workflow_id"]
