"""Plain dataclasses crossing the Temporal boundary (workflow inputs, update requests, activity I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TASK_QUEUE = "oneseal-cases"


def case_workflow_id(case_no: str) -> str:
    """One workflow per case, its id derived from the case number."""
    return f"case-{case_no}"


@dataclass(frozen=True)
class Rules:
    """Lengths of the rules that are not per matter; the calendar turns them into moments."""

    deemed_acceptance_days: int = 5
    deemed_acceptance_day_type: str = "working"
    correction_window_days: int = 30
    correction_day_type: str = "natural"
    warning_share: float = 0.8


@dataclass(frozen=True)
class CaseInput:
    case_no: str
    matter_code: str
    applicant: str
    provided_materials: list[str]
    submitted_by: dict[str, str]
    rules: Rules = field(default_factory=Rules)


@dataclass(frozen=True)
class StepRequest:
    """One staff step sent as a Temporal Update. Unused fields stay empty."""

    actor: dict[str, str]
    materials: list[str] = field(default_factory=list)
    reason: str = ""
    note: str = ""
    outcome: str = ""


@dataclass(frozen=True)
class CaseCommand:
    """One command on one case aggregate, executed by the ``case_command`` activity."""

    case_no: str
    step: str
    command_id: str
    actor: dict[str, str]
    at: datetime
    rules: Rules
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseResult:
    case: dict[str, Any]
    recorded: bool
    notification_id: int | None
