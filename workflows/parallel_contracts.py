"""Plain dataclasses crossing the Temporal boundary for parallel approval (workflow input, activity
command and result, the Update's answer). Steps are the domain's typed requests
(``domain.parallel.steps``); on the wire a request is its JSON form beside its step name (its type tag).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.converter import value_to_type

from domain.parallel.codec import view_from_json
from domain.parallel.steps import ProjectRequest, RegisterProject, spec_for
from domain.parallel.view import ProjectView
from workflows.converter import TYPE_CONVERTERS

REGISTER = "register"
LOAD = "load"  # adopt: read the project as it stands, record nothing


def project_workflow_id(code: str) -> str:
    """One workflow per project, its id the project's lifetime code."""
    return f"project-{code}"


@dataclass(frozen=True)
class ProjectInput:
    """How a project's workflow starts: a new registration, or (``adopt``) a project already in the store
    (loaded by a scenario) whose open stage it takes over."""

    code: str
    registration: RegisterProject | None = None
    adopt: bool = False


@dataclass(frozen=True)
class ProjectCommand:
    """One command on one project aggregate, executed by the ``project_command`` activity."""

    code: str
    command_id: str
    at: datetime  # the workflow's clock: business time
    step: str  # "register", "load" or a ProjectStep: the request's type tag
    request: Any  # RegisterProject, a ProjectRequest, or None for "load"; JSON on the wire

    def typed(self) -> RegisterProject | ProjectRequest | None:
        if self.step == LOAD:
            return None
        if isinstance(self.request, RegisterProject | ProjectRequest):
            return self.request
        kind: type[Any] = RegisterProject if self.step == REGISTER else spec_for(self.step).request
        return value_to_type(kind, self.request, TYPE_CONVERTERS)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ProjectResult:
    """The project after a command, as its exact JSON form (``domain.parallel.codec``: decoded once per
    type instead of by reflection on every field), whether it recorded anything, its notification id."""

    view_json: str
    recorded: bool
    notification_id: int | None

    @property
    def view(self) -> ProjectView:
        return view_from_json(self.view_json)


@dataclass(frozen=True)
class ProjectStepResult:
    """What a staff step answers: the project after it, and where the read models must reach to show it."""

    view_json: str
    notification_id: int | None

    @property
    def view(self) -> ProjectView:
        return view_from_json(self.view_json)
