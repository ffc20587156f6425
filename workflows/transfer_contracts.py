"""Plain dataclasses crossing the Temporal boundary for the transfer programme: workflow inputs, the one
activity's command and result, the Updates' requests and their answer. Workflow ids come from business
keys (contract 3 in notes/interfaces.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.staff import Actor
from domain.transfer.view import ItemState, ProgrammeState, SupervisionState

PROGRAMME_WORKFLOW = "TransferProgrammeWorkflow"
ITEM_WORKFLOW = "ItemTransferWorkflow"
SUPERVISION_WORKFLOW = "SupervisionWorkflow"


def programme_workflow_id(programme: str) -> str:
    return f"transfer-{programme}"


def item_workflow_id(programme: str, code: str) -> str:
    return f"transfer-{programme}-{code}"


def supervision_workflow_id(case_no: str) -> str:
    return f"supervision-{case_no}"


@dataclass(frozen=True)
class ProgrammeInput:
    """How a programme's workflow starts (or continues as new: what the last run knew)."""

    programme: str
    next_batch: int = 0  # index (in cut-over order) of the next batch to open
    started: tuple[str, ...] = ()  # items whose workflow this programme started (in any run)
    finished: dict[str, str] = field(default_factory=dict)  # item -> final status, as the items reported
    children_per_run: int = 500  # child starts per run, then continue as new (bounded pending children)


@dataclass(frozen=True)
class ItemInput:
    programme: str
    code: str


@dataclass(frozen=True)
class TransferCommand:
    """One command on the transfer aggregates, executed by the ``transfer_command`` activity."""

    step: str
    programme: str
    code: str  # the item code (item steps), the case number (supervision steps), "" otherwise
    command_id: str
    at: datetime  # the business moment (the workflow's clock, or the one the staff step names)
    actor: Actor
    args: dict[str, Any] = field(default_factory=dict)  # JSON values only


@dataclass(frozen=True)
class TransferResult:
    programme: ProgrammeState | None = None
    item: ItemState | None = None
    task: SupervisionState | None = None
    recorded: bool = False
    notification_id: int | None = None


# ---- Update requests (one per staff step) -------------------------------------------------------


@dataclass(frozen=True)
class SignRequest:
    actor: Actor
    entry: str
    party: str = ""  # the party the actor signs for; empty: the actor's own (a mismatch is refused)
    note: str = ""
    document_no: str = ""
    at: datetime | None = None  # the business moment; None: now (a scenario replays 2020 with its dates)


@dataclass(frozen=True)
class DecideRequest:
    actor: Actor
    decision: str  # go_live | extend | roll_back
    reason: str = ""
    new_end: str | None = None  # ISO date, for extend
    approved_by: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class MilestoneRequest:
    actor: Actor
    milestone: str
    document_no: str
    note: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class AddItemRequest:
    actor: Actor
    code: str
    department: str
    batch: int | None
    approved_by: str
    reason: str
    legal_basis: str = ""
    name: str = ""
    personnel: tuple[str, ...] = ()
    document_no: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class RemoveItemRequest:
    actor: Actor
    code: str
    approved_by: str
    reason: str
    document_no: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class ClaimRequest:
    actor: Actor
    at: datetime | None = None


@dataclass(frozen=True)
class StepAnswer:
    """What an Update answers: the aggregate's snapshot after it, and where the read models must reach."""

    programme: ProgrammeState | None = None
    item: ItemState | None = None
    task: SupervisionState | None = None
    notification_id: int | None = None
