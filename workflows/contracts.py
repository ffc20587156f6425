"""Plain dataclasses crossing the Temporal boundary (workflow inputs, activity commands and results).

Steps themselves are the domain's typed requests (``domain.cases.steps``): an Update named after
the step carries its request, and the activity command carries it on to the aggregate. On the
wire a request is its JSON form beside the step name, which is its type tag; ``CaseCommand.typed``
decodes it with the registry, so both ends hold the typed request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.converter import value_to_type

from domain.cases.model import CaseView, TimeRules
from domain.cases.steps import StepRequest, SubmitCase, spec_for
from domain.staff import SYSTEM_ACTOR, Actor
from workflows.converter import TYPE_CONVERTERS
from workflows.names import SUBMIT

REGISTRATION_UPDATE = "registration"  # answers once the case is registered: submitted by Update-with-Start


@dataclass(frozen=True)
class CaseInput:
    """How a case's workflow starts: a new application, or (``adopt``) an imported open case."""

    case_no: str
    matter_code: str
    applicant: str
    provided_materials: list[str]
    submitted_by: Actor
    rules: TimeRules = field(default_factory=TimeRules)
    demo: bool = False
    adopt: bool = False

    def submission(self) -> SubmitCase:
        return SubmitCase(
            case_no=self.case_no,
            matter_code=self.matter_code,
            applicant=self.applicant,
            provided_materials=list(self.provided_materials),
            actor=self.submitted_by,
            demo=self.demo,
        )


@dataclass(frozen=True)
class CaseCommand:
    """One command on one case aggregate, executed by the ``case_command`` activity."""

    case_no: str
    command_id: str
    at: datetime
    rules: TimeRules
    step: str  # "submit" or a Step: the request's type tag
    request: Any  # the step's typed request (SubmitCase for "submit"); JSON on the wire
    then: str | None = None  # a step the same command takes at once afterwards, as the system (出件 → 办结)

    def typed(self) -> SubmitCase | StepRequest:
        if isinstance(self.request, SubmitCase | StepRequest):
            return self.request
        kind: type[Any] = SubmitCase if self.step == SUBMIT else spec_for(self.step).request
        return value_to_type(kind, self.request, TYPE_CONVERTERS)  # type: ignore[no-any-return]

    def follow_on(self) -> StepRequest | None:
        """The ``then`` step's request, taken by the system in the same command."""
        return None if self.then is None else spec_for(self.then).request(actor=SYSTEM_ACTOR)


@dataclass(frozen=True)
class CaseResult:
    case: CaseView
    recorded: bool
    notification_id: int | None
    supervision_task: bool = False  # the decision opened a supervision task: start its workflow (审管联动)


SUPERVISION_WORKFLOW = "SupervisionWorkflow"  # started by name: the transfer's workers register it


def supervision_workflow_id(case_no: str) -> str:
    return f"supervision-{case_no}"


@dataclass(frozen=True)
class StepResult:
    """What a staff step answers: the case after it, and where the read models must reach to show it."""

    case: CaseView
    notification_id: int | None
