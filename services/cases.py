"""Case use cases: submit, every staff step, show, history, search, worklist, adopt legacy cases.

Staff steps go to the case's workflow as Temporal Updates (named after the step, carrying the
step's typed request), whose validators refuse an illegal step before anything is written; reads
come from the store (one case) or the read models (lists). After a step, the answer waits until
the read models show it (read-your-writes), so the next list a clerk opens is up to date.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from domain.calendar import SHANGHAI
from domain.cases.application import TimelineEntry
from domain.cases.case import Case, StepContext
from domain.cases.model import CaseView, TimeRules
from domain.cases.steps import STEPS, Notice, StepRequest, SubmitCase, Supplement
from domain.errors import CaseAlreadyExists, CaseNotFound, DomainError, IllegalTransition, error_from_code
from domain.staff import SYSTEM_ACTOR, Actor
from domain.text import check_case_no
from projections.queries import CaseQuery, CaseRow, Page, WorkItem, search_cases, wait_for_case, worklist_for
from projections.runner import ReadModelTimeout
from services.errors import CaseRegisterTimeout, TemporalUnreachable
from services.timing import timed_step
from services.updates import cut_by_server, execute_update
from workflows.names import case_workflow_id, registration_command_id

# The Temporal SDK and the case workflow are imported by the commands that send to Temporal: the reads
# (list, show, history, worklist: most CLI calls and web pages) never load them.
if TYPE_CHECKING:
    from temporalio.service import RPCError

    from services.bootstrap import Bootstrap

__all__ = ["CaseDetail", "CaseQuery", "CaseService", "Done", "domain_error", "new_case_no"]


# How long a submission waits for its registration: longer than a retried command can take. A command
# lost with a killed worker is retried once its start-to-close timeout has passed (10 s since the
# short-command-timeout patch, 60 s for cases started before it; workflows/case.py), plus the time the
# worker takes to come back (`up` restarts it after 1 s, then 2, 4 … s). See docs/operations.md.
REGISTER_WAIT = 90.0


def new_case_no(region_code: str, at: datetime | None = None) -> str:
    """e.g. ``513221-20260426-7F3A9C``: region, local date, random suffix (never reused)."""
    day = (at or datetime.now(UTC)).astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"{region_code}-{day}-{secrets.token_hex(3).upper()}"


def domain_error(exc: BaseException) -> DomainError | None:
    """Find the domain refusal inside Temporal's wrapping (update failed / workflow failed)."""
    from temporalio.exceptions import ApplicationError

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type:
            return error_from_code(cause.type, cause.message)
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return None


@dataclass(frozen=True)
class Done:
    """A step's answer: the case after it, and whether the lists already show it (else why not)."""

    case: CaseView
    lists_lag: str | None = None


@dataclass(frozen=True)
class CaseDetail:
    case: CaseView
    timeline: list[TimelineEntry]
    workflow_id: str | None


class CaseService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot
        self.register_wait = REGISTER_WAIT

    @property
    def settings(self) -> Any:
        return self.boot.settings

    # ---- commands -----------------------------------------------------------------------------

    @timed_step(lambda *_, **__: "submit")
    async def submit(
        self,
        *,
        matter_code: str,
        applicant: str,
        materials: list[str],
        actor: Actor,
        case_no: str | None = None,
        rules: TimeRules | None = None,
        demo: bool = False,
        wait: float | None = None,
        read_your_writes: bool = True,
    ) -> Done:
        """收件: check everything the domain would refuse first, then start the case's workflow."""
        from temporalio.client import (
            WithStartWorkflowOperation,
            WorkflowUpdateFailedError,
            WorkflowUpdateRPCTimeoutOrCancelledError,
        )
        from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
        from temporalio.exceptions import WorkflowAlreadyStartedError
        from temporalio.service import RPCError

        from workflows.case import CaseWorkflow
        from workflows.contracts import REGISTRATION_UPDATE, CaseInput, StepResult

        rules = rules or self.settings.rules
        catalogue = self.boot.store.catalogue
        matter = catalogue.get(matter_code)
        now = datetime.now(UTC)
        case_no = new_case_no(matter.code.split("-")[0], now) if case_no is None else case_no
        check_case_no(case_no)
        req = SubmitCase(
            case_no=case_no, matter_code=matter_code, applicant=applicant, provided_materials=materials,
            actor=actor, demo=demo,
        )  # fmt: skip
        # A dry run of the domain's own rules (nothing saved): refusals never start a workflow.
        Case.submit(
            req,
            matter=matter,
            authority=self.boot.routing.competent_authority(matter_code, now),
            ctx=StepContext(at=now, command_id="dry-run", calendar=self.boot.store.calendar, rules=rules),
        )
        inp = CaseInput(
            case_no=case_no,
            matter_code=matter_code,
            applicant=req.applicant,
            provided_materials=list(req.provided_materials),
            submitted_by=actor,
            rules=rules,
            demo=demo,
        )
        client = await self.boot.temporal()
        wait = self.register_wait if wait is None else wait
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        start = WithStartWorkflowOperation(
            CaseWorkflow.run,
            inp,
            id=case_workflow_id(case_no),
            task_queue=self.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        try:
            # One round trip: start the workflow and wait for its registration Update (Update-with-Start).
            result: StepResult = await asyncio.wait_for(
                client.execute_update_with_start_workflow(
                    REGISTRATION_UPDATE, start_workflow_operation=start, result_type=StepResult
                ),
                wait,
            )
        except WorkflowAlreadyStartedError:
            raise CaseAlreadyExists(f"办件编号「{case_no}」已存在", case_no=case_no) from None
        except RPCError as e:
            raise self._rpc(e, case_no) from None
        except WorkflowUpdateRPCTimeoutOrCancelledError as e:
            if not cut_by_server(e) or loop.time() >= deadline:
                raise CaseRegisterTimeout(
                    f"办件登记超时（{wait:.0f} 秒），请检查工作进程（worker）是否运行", case_no=case_no
                ) from None
            # The server cut the call short, long before our wait ran out: the workflow registers the case
            # all the same (its run does, not the Update), so wait for that for the rest of our time.
            # The start operation's own future holds the same error: take it (asyncio would log its traceback).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(start.workflow_handle(), 1)
            case = await self.wait_registered(case_no, deadline - loop.time(), wait)
            return await self._visible(case, None, read_your_writes)
        except TimeoutError:
            raise CaseRegisterTimeout(
                f"办件登记超时（{wait:.0f} 秒），请检查工作进程（worker）是否运行", case_no=case_no
            ) from None
        except WorkflowUpdateFailedError:
            # Refused at registration (the workflow failed: wait_registered raises the domain's error), or a
            # worker of older code without the registration Update refused the Update itself while the
            # workflow runs on: either way, wait for the workflow's registration itself.
            case = await self.wait_registered(case_no, deadline - loop.time(), wait)
            return await self._visible(case, None, read_your_writes)
        return await self._visible(result.case, result.notification_id, read_your_writes)

    async def wait_registered(self, case_no: str, wait: float, said: float | None = None) -> CaseView:
        """The case once its workflow has registered it (the store holds it, taken by the workflow's first
        command: not a case of that number recorded some other way), or the domain's refusal if the workflow
        failed instead (services/registration.py). ``said``: the wait the timeout message names (the whole of
        the submission's, when this is its rest)."""
        from services.registration import wait_registered

        handle = (await self.boot.temporal()).get_workflow_handle(case_workflow_id(case_no))
        registration = registration_command_id(case_no)
        return await wait_registered(
            handle,
            lambda: self.boot.store.taken(case_no, registration),
            absent=CaseNotFound,
            wait=wait,
            refused=lambda e: domain_error(e) or DomainError("办件登记失败"),
            timed_out=lambda: CaseRegisterTimeout(
                f"办件登记超时（{wait if said is None else said:.0f} 秒），请检查工作进程（worker）是否运行",
                case_no=case_no,
            ),
            unreachable=lambda e: self._rpc(e, handle.id),
            not_started_yet=True,  # the Update-with-Start's start may not be visible yet
        )

    @timed_step(lambda *a, **k: (k.get("request") or a[2]).step.value)
    async def step(self, case_no: str, request: StepRequest, *, read_your_writes: bool = True) -> Done:
        """One staff step as a Temporal Update; a refusal comes back as the domain's typed error."""
        from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
        from temporalio.service import RPCError, RPCStatusCode

        from workflows.contracts import StepResult

        request = await self._fill_defaults(case_no, request)
        client = await self.boot.temporal()
        handle = client.get_workflow_handle(case_workflow_id(case_no))
        loop = asyncio.get_running_loop()
        until = loop.time() + self.register_wait
        try:
            while True:
                try:
                    result = await execute_update(
                        handle, request.step.value, request, result_type=StepResult, patience=self.register_wait
                    )
                    break
                except WorkflowUpdateFailedError as e:
                    error = domain_error(e) or DomainError(f"办理失败：{e}")
                    if error.code != "CASE_NOT_READY" or loop.time() >= until:
                        raise error from None
                # Refused CASE_NOT_READY: the store holds the case but its workflow has not yet heard that the
                # registration was saved (after a crash, a lost command is retried once its 10 s timeout has
                # passed): ask again, for as long as a submission waits for its registration.
                await asyncio.sleep(0.5)
        except RPCError as e:
            if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION) or "completed" in str(e):
                raise self._no_workflow(case_no, request) from None
            raise self._rpc(e, case_no) from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            target = self.settings.temporal_target
            raise TemporalUnreachable(
                f"与 Temporal（{target}）的连接中断，办理结果未知：请稍后查看办件（oneseal case show）再决定是否重试",
                target=target,
            ) from None
        return await self._visible(result.case, result.notification_id, read_your_writes)

    async def adopt(self, case_nos: list[str], *, rules: TimeRules | None = None) -> list[str]:
        """Start a workflow for each open imported case, from its current state; return those started."""
        from temporalio.common import WorkflowIDConflictPolicy
        from temporalio.service import RPCError

        from workflows.case import CaseWorkflow
        from workflows.contracts import CaseInput

        client = await self.boot.temporal()
        store = self.boot.store
        started = []
        for case_no in case_nos:
            view = store.get_case(case_no)
            if not view.imported or view.adopted or view.is_closed:
                continue
            inp = CaseInput(
                case_no=case_no,
                matter_code=view.matter_code,
                applicant=view.applicant,
                provided_materials=[],
                submitted_by=SYSTEM_ACTOR,
                rules=rules or self.settings.rules,
                adopt=True,
            )
            try:
                await client.start_workflow(
                    CaseWorkflow.run,
                    inp,
                    id=case_workflow_id(case_no),
                    task_queue=self.settings.task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            except RPCError as e:
                raise self._rpc(e, case_no) from None
            started.append(case_no)
        return started

    # ---- reads --------------------------------------------------------------------------------

    def show(self, case_no: str) -> CaseDetail:
        self.boot.require_data()
        store = self.boot.store
        view = store.get_case(case_no)
        wid = None if view.imported and not view.adopted else case_workflow_id(case_no)
        return CaseDetail(view, store.history(case_no), wid)

    def history(self, case_no: str) -> list[TimelineEntry]:
        self.boot.require_data()
        return self.boot.store.history(case_no)

    def search(self, query: CaseQuery) -> Page[CaseRow]:
        self.boot.require_data()
        if query.region:
            self.boot.directory.check_region(query.region)
        return search_cases(self.boot.read_models, query)

    def worklist(self, actor: Actor, limit: int = 200) -> Page[WorkItem]:
        """The open tasks of the post this person holds NOW (a recorded move takes their worklist along)."""
        self.boot.require_data()
        actor = self.boot.routing.current(actor)
        return worklist_for(self.boot.read_models, actor.department, actor.post, actor.region, limit)

    # ---- helpers ------------------------------------------------------------------------------

    async def _fill_defaults(self, case_no: str, request: StepRequest) -> StepRequest:
        """A notice lists all that is missing, a supplement brings all of it, unless staff name materials."""
        if isinstance(request, Notice | Supplement) and not request.materials:
            missing = self.boot.store.get_case(case_no).missing_materials
            return replace(request, materials=missing)
        return request

    async def _visible(self, case: CaseView, notification_id: int | None, wait: bool) -> Done:
        if not wait:
            return Done(case)
        try:
            # In a thread: the wait polls the read models, and must not stall a server's event loop.
            await asyncio.to_thread(
                wait_for_case, self.boot.read_models, notification_id, case.case_no, case.version,
                float(self.settings.read_your_writes_timeout),
            )  # fmt: skip
        except ReadModelTimeout as e:
            return Done(case, str(e))
        return Done(case)

    def _no_workflow(self, case_no: str, request: StepRequest) -> DomainError:
        """No running workflow: say why, from the store (closed, imported and not taken over, or unknown)."""
        try:
            view = self.boot.store.get_case(case_no)
        except CaseNotFound:
            return CaseNotFound(f"未找到办件「{case_no}」", case_no=case_no)
        label = STEPS[request.step].label
        if view.is_closed:
            return IllegalTransition(
                f"办件已结束（{view.status.label}），不能再办理「{label}」", status=view.status.value
            )
        if view.imported and not view.adopted:
            return IllegalTransition(
                f"办件「{case_no}」是历史导入的在办件，尚未接管：请先运行 oneseal import adopt",
                status=view.status.value,
            )
        return DomainError(f"办件「{case_no}」的流程未在运行，请检查工作进程", code="CASE_WORKFLOW_MISSING")

    def _rpc(self, e: RPCError, what: str) -> DomainError:
        from temporalio.service import RPCStatusCode

        if e.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED) or "connect" in str(e).lower():
            target = self.settings.temporal_target
            return TemporalUnreachable(
                f"无法连接 Temporal（{target}）：请先在另一个终端运行 make run（或 oneseal up）", target=target
            )
        return DomainError(f"Temporal 拒绝了请求（{what}）：{e.message}", code="TEMPORAL_ERROR")
