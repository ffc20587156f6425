"""Thin, idempotent activities: each executes one command on one case through the domain application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.application import CaseApplication, CommandOutcome
from domain.calendar import DayType
from domain.case import TimeRules
from domain.errors import DomainError
from workflows.contracts import CaseCommand, CaseResult, Rules

log = structlog.get_logger("oneseal.activities")


def time_rules(rules: Rules) -> TimeRules:
    return TimeRules(
        deemed_acceptance_days=rules.deemed_acceptance_days,
        deemed_acceptance_day_type=DayType(rules.deemed_acceptance_day_type),
        correction_window_days=rules.correction_window_days,
        correction_day_type=DayType(rules.correction_day_type),
        warning_share=rules.warning_share,
    )


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
        handler = self._handlers().get(cmd.step)
        if handler is None:
            raise ApplicationError(f"未知的办理环节：{cmd.step}", type="STEP_UNKNOWN", non_retryable=True)
        try:
            outcome = handler(cmd)
        except DomainError as e:
            bound.info("case.command.refused", code=e.code, reason=e.message)
            raise ApplicationError(e.message, e.details, type=e.code, non_retryable=True) from None
        bound.info(
            "case.command.done",
            recorded=outcome.recorded,
            notification_id=outcome.notification_id,
            status=outcome.case["status"],
        )
        if outcome.recorded and info.attempt == 1 and cmd.step in self._crash_after_commit_once:
            bound.warning("case.command.simulated_crash_after_commit")
            raise SimulatedCrash(f"simulated crash after commit of {cmd.command_id}")
        return CaseResult(outcome.case, outcome.recorded, outcome.notification_id)

    def _handlers(self) -> dict[str, Callable[[CaseCommand], CommandOutcome]]:
        app = self.app

        def common(c: CaseCommand) -> dict[str, Any]:
            return {"actor": c.actor, "at": c.at, "command_id": c.command_id}

        return {
            "submit": lambda c: app.submit(case_no=c.case_no, rules=time_rules(c.rules), **c.args, **common(c)),
            "notice": lambda c: app.issue_notice(
                c.case_no, missing=c.args["materials"], rules=time_rules(c.rules), **common(c)
            ),
            "supplement": lambda c: app.supplement(
                c.case_no, materials=c.args["materials"], rules=time_rules(c.rules), **common(c)
            ),
            "accept": lambda c: app.accept(
                c.case_no, rules=time_rules(c.rules), deemed=bool(c.args.get("deemed")), **common(c)
            ),
            "refuse": lambda c: app.refuse(
                c.case_no,
                reason=c.args["reason"],
                overdue_correction=bool(c.args.get("overdue_correction")),
                **common(c),
            ),
            "suspend": lambda c: app.suspend(
                c.case_no, reason=c.args["reason"], note=c.args.get("note", ""), **common(c)
            ),
            "resume": lambda c: app.resume(c.case_no, **common(c)),
            "decide": lambda c: app.decide(
                c.case_no, outcome=c.args["outcome"], reason=c.args.get("reason", ""), **common(c)
            ),
            "deliver": lambda c: app.deliver(c.case_no, **common(c)),
            "complete": lambda c: app.complete(c.case_no, **common(c)),
            "withdraw": lambda c: app.withdraw(c.case_no, reason=c.args["reason"], **common(c)),
            "warn": lambda c: app.warn(c.case_no, **common(c)),
            "mark_overdue": lambda c: app.mark_overdue(c.case_no, **common(c)),
        }
