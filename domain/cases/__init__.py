"""The case lifecycle (办件): model, step registry, aggregate, legacy cases, command handlers.

Events recorded before the case code moved into this package carry the old module names in their
topics (``domain.case:Case.Submitted``, ``domain.history:HistoricalCase.Imported``); registering
the old module names makes those topics resolve to the classes here, so old stores still load.
"""

from __future__ import annotations

from eventsourcing.utils import register_topic

from domain.cases import case as _case
from domain.cases import legacy as _legacy
from domain.cases.application import CaseApplication, CommandOutcome, ImportOutcome, TimelineEntry
from domain.cases.case import Case, StepContext, promised_deadlines
from domain.cases.legacy import HistoricalCase
from domain.cases.model import (
    DECISION_OUTCOMES,
    SUSPENSION_REASONS,
    CaseStatus,
    CaseView,
    TimeRules,
    case_id,
)
from domain.cases.steps import STEPS, Step, StepRequest, StepSpec, SubmitCase, spec_for, validate

register_topic("domain.case", _case)
register_topic("domain.history", _legacy)

__all__ = [
    "DECISION_OUTCOMES",
    "STEPS",
    "SUSPENSION_REASONS",
    "Case",
    "CaseApplication",
    "CaseStatus",
    "CaseView",
    "CommandOutcome",
    "HistoricalCase",
    "ImportOutcome",
    "Step",
    "StepContext",
    "StepRequest",
    "StepSpec",
    "SubmitCase",
    "TimeRules",
    "TimelineEntry",
    "case_id",
    "promised_deadlines",
    "spec_for",
    "validate",
]
