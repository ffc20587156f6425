"""The transfer of licensing items to an approval bureau (相对集中行政许可权改革), pure domain.

``TransferProgramme`` (batches, milestones, trial window, living list), ``LicenceItem`` (handover
checklist, cut-over, trial figures, end-of-trial decision, wind-back), ``SupervisionTask``
(审管联动) and plan files. Routing and staff moves live beside: ``domain.routing``,
``domain.staffing``.
"""

from domain.transfer.item import (
    ChecklistEntry,
    Decision,
    ItemStatus,
    LicenceItem,
    Party,
    Person,
    SignOff,
    TrialFigures,
    UndoStep,
    item_id,
    outcomes,
    personnel_to_move,
    personnel_to_return,
    trial_weeks,
    week_start_of,
)
from domain.transfer.plan import ParsedPlan, Plan, PlanError, PlanItem, load_plan, parse_plan, read_plan_file
from domain.transfer.programme import (
    Batch,
    ListChange,
    ListChangeKind,
    ListEntry,
    Milestone,
    ProgrammeStatus,
    TransferProgramme,
    programme_id,
)
from domain.transfer.supervision import SupervisionStatus, SupervisionTask, supervision_task_id

__all__ = [
    "Batch",
    "ChecklistEntry",
    "Decision",
    "ItemStatus",
    "LicenceItem",
    "ListChange",
    "ListChangeKind",
    "ListEntry",
    "Milestone",
    "ParsedPlan",
    "Party",
    "Person",
    "Plan",
    "PlanError",
    "PlanItem",
    "ProgrammeStatus",
    "SignOff",
    "SupervisionStatus",
    "SupervisionTask",
    "TransferProgramme",
    "TrialFigures",
    "UndoStep",
    "item_id",
    "load_plan",
    "outcomes",
    "parse_plan",
    "personnel_to_move",
    "personnel_to_return",
    "programme_id",
    "read_plan_file",
    "supervision_task_id",
    "trial_weeks",
    "week_start_of",
]
