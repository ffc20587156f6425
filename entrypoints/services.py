"""The thin service layer the CLI (and later the HTTP API) call: staff steps go to Temporal, reads to the store."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.calendar import SHANGHAI, default_calendar
from domain.case import Case, Step
from domain.catalogue import Catalogue, default_catalogue
from domain.errors import CaseAlreadyExists, CaseNotFound, DomainError, error_from_code
from domain.staff import Actor
from workers.settings import Settings
from workflows.activities import time_rules
from workflows.case_workflow import CaseWorkflow
from workflows.contracts import CaseInput, Rules, StepRequest, case_workflow_id

STEP_UPDATES = {
    Step.NOTICE: CaseWorkflow.notice,
    Step.SUPPLEMENT: CaseWorkflow.supplement,
    Step.ACCEPT: CaseWorkflow.accept,
    Step.REFUSE: CaseWorkflow.refuse,
    Step.SUSPEND: CaseWorkflow.suspend,
    Step.RESUME: CaseWorkflow.resume,
    Step.DECIDE: CaseWorkflow.decide,
    Step.DELIVER: CaseWorkflow.deliver,
    Step.WITHDRAW: CaseWorkflow.withdraw,
}


def new_case_no(region_code: str, at: datetime | None = None) -> str:
    """e.g. ``513221-20260426-7F3A9C``: region, local date, random suffix (never reused)."""
    day = (at or datetime.now(UTC)).astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"{region_code}-{day}-{secrets.token_hex(3).upper()}"


def _domain_error(exc: BaseException) -> DomainError | None:
    """Find the domain refusal inside Temporal's wrapping (update failed / workflow failed)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type:
            return error_from_code(cause.type, cause.message)
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return None


class CaseService:
    def __init__(self, client: Client, settings: Settings, *, catalogue: Catalogue | None = None) -> None:
        self.client = client
        self.settings = settings
        self.catalogue = catalogue or default_catalogue()

    def handle(self, case_no: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(case_workflow_id(case_no))

    async def submit(
        self,
        *,
        matter_code: str,
        applicant: str,
        materials: list[str],
        actor: Actor,
        case_no: str | None = None,
        rules: Rules | None = None,
        wait: float = 30.0,
    ) -> dict[str, Any]:
        """收件: check everything the domain would refuse first, then start the case's workflow."""
        rules = rules or self.settings.rules
        matter = self.catalogue.get(matter_code)
        now = datetime.now(UTC)
        case_no = case_no or new_case_no(matter.code.split("-")[0], now)
        # A dry run of the domain's own rules (nothing saved): refusals never start a workflow.
        Case.submit(
            case_no=case_no,
            matter=matter,
            authority=self.catalogue.competent_authority(matter_code, now),
            applicant=applicant,
            provided_materials=materials,
            actor=actor,
            at=now,
            command_id="dry-run",
            calendar=default_calendar(),
            rules=time_rules(rules),
        )
        inp = CaseInput(
            case_no=case_no,
            matter_code=matter_code,
            applicant=applicant,
            provided_materials=list(materials),
            submitted_by=actor.to_dict(),
            rules=rules,
        )
        try:
            handle = await self.client.start_workflow(
                CaseWorkflow.run,
                inp,
                id=case_workflow_id(case_no),
                task_queue=self.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            raise CaseAlreadyExists(f"办件编号「{case_no}」已存在", case_no=case_no) from None
        return await self.wait_registered(handle, wait)

    async def wait_registered(self, handle: WorkflowHandle[Any, Any], wait: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            status = await handle.query(CaseWorkflow.status)
            if status["case"] is not None:
                return dict(status["case"])
            desc = await handle.describe()
            if desc.status is not None and desc.status.name != "RUNNING":
                try:
                    await handle.result()
                except WorkflowFailureError as e:
                    raise _domain_error(e) or DomainError("办件登记失败") from None
            if loop.time() > deadline:
                raise DomainError("办件登记超时，请检查工作进程（worker）是否运行", code="CASE_REGISTER_TIMEOUT")
            await asyncio.sleep(0.1)

    async def step(self, case_no: str, step: Step, req: StepRequest) -> dict[str, Any]:
        """One staff step as a Temporal Update; a refusal comes back as the domain's typed error."""
        try:
            result = await self.handle(case_no).execute_update(STEP_UPDATES[step], req)
        except WorkflowUpdateFailedError as e:
            raise _domain_error(e) or DomainError(f"办理失败：{e}") from None
        except RPCError as e:
            if "not found" in str(e).lower() or "already completed" in str(e).lower():
                raise CaseNotFound(f"办件「{case_no}」不存在或已结束，不能再办理", case_no=case_no) from None
            raise
        return dict(result)
