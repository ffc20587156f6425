"""Refusals of the transfer programme (相对集中行政许可权改革): each a stable code and a Chinese message."""

from __future__ import annotations

from domain.errors import DomainError


class TransferError(DomainError):
    code = "TRANSFER_ERROR"


class UnknownProgramme(TransferError):
    code = "TRANSFER_PROGRAMME_UNKNOWN"


class UnknownItem(TransferError):
    code = "TRANSFER_ITEM_UNKNOWN"


class UnknownDepartment(TransferError):
    code = "TRANSFER_DEPARTMENT_UNKNOWN"


class UnknownBatch(TransferError):
    code = "TRANSFER_BATCH_UNKNOWN"


class UnknownEntry(TransferError):
    """A handover checklist entry that does not exist."""

    code = "TRANSFER_ENTRY_UNKNOWN"


class UnknownMilestone(TransferError):
    code = "TRANSFER_MILESTONE_UNKNOWN"


class TransferIllegalTransition(TransferError):
    """The step is not legal in the programme's or item's current status."""

    code = "TRANSFER_ILLEGAL_TRANSITION"


class WrongParty(TransferError):
    """A sign-off by someone who is neither party, or for the other party."""

    code = "TRANSFER_WRONG_PARTY"


class AlreadySigned(TransferError):
    code = "TRANSFER_ALREADY_SIGNED"


class ChecklistOpen(TransferError):
    """Cut-over while a handover entry still lacks a sign-off."""

    code = "TRANSFER_CHECKLIST_OPEN"


class MilestoneMissing(TransferError):
    """Cut-over (or the trial) before a programme milestone that gates it."""

    code = "TRANSFER_MILESTONE_MISSING"


class MilestoneAlreadyRecorded(TransferError):
    code = "TRANSFER_MILESTONE_RECORDED"


class DecisionOutsideTrial(TransferError):
    """A go-live / extend / roll-back decision (or trial figures) outside the item's trial window."""

    code = "TRANSFER_OUTSIDE_TRIAL"


class WeekAlreadyRecorded(TransferError):
    code = "TRANSFER_WEEK_RECORDED"


class ItemAlreadyRemoved(TransferError):
    code = "TRANSFER_ITEM_ALREADY_REMOVED"


class ItemAlreadyListed(TransferError):
    code = "TRANSFER_ITEM_ALREADY_LISTED"


class ItemsUndecided(TransferError):
    """Closing a programme while listed items still wait for their end-of-trial decision."""

    code = "TRANSFER_ITEMS_UNDECIDED"


class PlanInvalid(TransferError):
    """A plan file with bad rows: refused whole; ``details["errors"]`` lists line, field and reason."""

    code = "TRANSFER_PLAN_INVALID"


class PlanConflict(TransferError):
    """The programme exists with other plan content: changes go through the living list, not a re-load."""

    code = "TRANSFER_PLAN_CONFLICT"


class SupervisionWrongDepartment(TransferError):
    code = "TRANSFER_SUPERVISION_WRONG_DEPARTMENT"


class SupervisionAlreadyClaimed(TransferError):
    code = "TRANSFER_SUPERVISION_CLAIMED"


class SupervisionNotApplicable(TransferError):
    """A supervision task for a decision the bureau did not issue, or on an item not at the bureau."""

    code = "TRANSFER_SUPERVISION_NOT_APPLICABLE"
