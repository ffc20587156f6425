"""The one thin, idempotent activity of a case: execute one typed command through the domain application."""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.cases.application import CaseApplication, CommandOutcome
from domain.cases.steps import StepRequest, SubmitCase
from domain.errors import DomainError
from workflows.contracts import CaseCommand, CaseResult

log = structlog.get_logger("oneseal.activities")


class SimulatedCrash(RuntimeError):
    """Raised by the crash-after-commit fault injection (tests and drills only)."""


class CaseActivities:
    def __init__(self, app: CaseApplication, *, crash_after_commit_once: frozenset[str] = frozenset()) -> None:
        self.app = app
        # Steps whose first attempt dies right after its commit, before Temporal hears of it:
        # the drill that proves a retried activity records nothing twice.
        self._crash_after_commit_once = crash_after_commit_once

    @activity.defn(name="case_command")
    def case_command(self, cmd: CaseCommand) -> CaseResult:
        info = activity.info()
        bound = log.bind(
            case_no=cmd.case_no,
            workflow_id=info.workflow_id,
            step=cmd.step,
            command_id=cmd.command_id,
            attempt=info.attempt,
        )
        try:
            outcome = self._run(cmd)
        except DomainError as e:
            bound.info("case.command.refused", code=e.code, reason=e.message)
            raise ApplicationError(e.message, e.details, type=e.code, non_retryable=True) from None
        bound.info(
            "case.command.done",
            recorded=outcome.recorded,
            notification_id=outcome.notification_id,
            status=outcome.case.status.value,
        )
        if outcome.recorded and info.attempt == 1 and cmd.step in self._crash_after_commit_once:
            bound.warning("case.command.simulated_crash_after_commit")
            raise SimulatedCrash(f"simulated crash after commit of {cmd.command_id}")
        return CaseResult(outcome.case, outcome.recorded, outcome.notification_id, outcome.supervision_task)

    def _run(self, cmd: CaseCommand) -> CommandOutcome:
        request = cmd.typed()
        if isinstance(request, SubmitCase):
            return self.app.submit(request, at=cmd.at, command_id=cmd.command_id, rules=cmd.rules)
        assert isinstance(request, StepRequest)
        return self.app.execute(
            cmd.case_no, request, at=cmd.at, command_id=cmd.command_id, rules=cmd.rules, then=cmd.follow_on()
        )
