"""The one thin, idempotent activity of a project: execute one typed command through the command handlers."""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.errors import DomainError
from domain.parallel.codec import view_to_json
from domain.parallel.commands import ProjectCommands, ProjectOutcome
from domain.parallel.steps import ProjectRequest, RegisterProject
from workflows.parallel_contracts import LOAD, ProjectCommand, ProjectResult

log = structlog.get_logger("oneseal.activities")


class SimulatedCrash(RuntimeError):
    """Raised by the crash-after-commit fault injection (tests and drills only)."""


class ProjectActivities:
    def __init__(self, commands: ProjectCommands, *, crash_after_commit_once: frozenset[str] = frozenset()) -> None:
        self.commands = commands
        # Steps whose first attempt dies right after its commit, before Temporal hears of it.
        self._crash_after_commit_once = crash_after_commit_once

    @activity.defn(name="project_command")
    def project_command(self, cmd: ProjectCommand) -> ProjectResult:
        info = activity.info()
        bound = log.bind(
            project_code=cmd.code,
            workflow_id=info.workflow_id,
            step=cmd.step,
            command_id=cmd.command_id,
            attempt=info.attempt,
        )
        try:
            outcome = self._run(cmd)
        except DomainError as e:
            bound.info("project.command.refused", code=e.code, reason=e.message)
            raise ApplicationError(e.message, e.details, type=e.code, non_retryable=True) from None
        bound.info(
            "project.command.done",
            recorded=outcome.recorded,
            notification_id=outcome.notification_id,
            status=outcome.view.status.value,
        )
        if outcome.recorded and info.attempt == 1 and cmd.step in self._crash_after_commit_once:
            bound.warning("project.command.simulated_crash_after_commit")
            raise SimulatedCrash(f"simulated crash after commit of {cmd.command_id}")
        return ProjectResult(view_to_json(outcome.view), outcome.recorded, outcome.notification_id)

    def _run(self, cmd: ProjectCommand) -> ProjectOutcome:
        if cmd.step == LOAD:
            return ProjectOutcome(self.commands.get(cmd.code), False, None)
        request = cmd.typed()
        if isinstance(request, RegisterProject):
            return self.commands.register(request, at=cmd.at, command_id=cmd.command_id)
        assert isinstance(request, ProjectRequest)
        return self.commands.execute(cmd.code, request, at=cmd.at, command_id=cmd.command_id)
