"""The HTTP API's request and response shapes (pydantic), built from the domain's typed values.

Step bodies are generated from the step registry (``domain.cases.steps.STEPS``): each staff step's
request dataclass gives its fields, so a new step needs no change here.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from domain.cases.application import TimelineEntry
from domain.cases.model import CaseView
from domain.cases.steps import STEPS, StepSpec
from services.auth import CaseAccess, CaseRow, DoneItem, WorkItem


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    code: str = Field(description="stable error code, e.g. CASE_ILLEGAL_TRANSITION")
    message: str = Field(description="the refusal in Chinese, for staff")
    details: dict[str, Any] | None = None


class AssignmentOut(BaseModel):
    department: str
    post: str
    region: str


class ActorOut(BaseModel):
    user_id: str
    name: str
    department: str
    post: str
    region: str
    via: str = ""


class CaseOut(BaseModel):
    case_no: str
    status: str
    status_label: str
    matter_code: str
    matter_name: str
    matter_kind: str
    department: str
    level: str
    region: str
    applicant: str
    required_materials: list[str]
    provided_materials: list[str]
    missing_materials: list[str]
    missing_listed: list[str]
    correction_round: int
    submitted_at: datetime
    deemed_acceptance_at: datetime | None
    correction_due_at: datetime | None
    accepted_at: datetime | None
    deemed_accepted: bool
    promised_days: int
    day_type: str
    promised_deadline: datetime | None
    warning_at: datetime | None
    deadline_provisional: bool
    suspended_since: datetime | None
    suspended_days: int
    decision: str | None
    decision_reason: str
    decided_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    closed_reason: str | None
    suspension_reason: str
    suspension_note: str
    warned: bool
    overdue: bool
    awaiting: AssignmentOut | None
    version: int
    imported: bool
    adopted: bool
    demo: bool
    import_batch: str

    @classmethod
    def of(cls, view: CaseView) -> CaseOut:
        return cls.model_validate(view.to_dict())


class TimelineOut(BaseModel):
    version: int
    event: str
    label: str
    at: datetime
    recorded_at: datetime
    actor: ActorOut | None
    awaiting: AssignmentOut | None
    details: dict[str, Any]

    @classmethod
    def of(cls, e: TimelineEntry) -> TimelineOut:
        return cls(
            version=e.version, event=e.event, label=e.label, at=e.at, recorded_at=e.recorded_at,
            actor=ActorOut(**e.actor.__dict__) if e.actor else None,
            awaiting=AssignmentOut(**e.awaiting.__dict__) if e.awaiting else None,
            details={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in e.details.items()},
        )  # fmt: skip


class DeadlineOut(BaseModel):
    key: str
    label: str
    at: datetime
    day_type: str
    days_left: int
    state: str


class StepOut(BaseModel):
    step: str
    label: str
    fields: list[str]


class CaseDetailOut(BaseModel):
    case: CaseOut
    timeline: list[TimelineOut]
    workflow_id: str | None
    deadlines: list[DeadlineOut]
    steps: list[StepOut] = Field(description="the steps the signed-in user may take now")


class StepDoneOut(BaseModel):
    case: CaseOut
    lists_lag: str | None = Field(None, description="set when the lists did not show the step in time")


class CaseRowOut(BaseModel):
    case_no: str
    matter_code: str
    matter_name: str
    matter_kind: str
    department: str
    level: str
    region: str
    applicant: str
    status: str
    submitted_at: datetime
    accepted_at: datetime | None
    completed_at: datetime | None
    promised_deadline: datetime | None
    current_task: str | None
    task_department: str | None
    task_post: str | None
    warned: bool
    overdue: bool
    imported: bool
    demo: bool
    deadline_provisional: bool

    @classmethod
    def of(cls, r: CaseRow) -> CaseRowOut:
        return cls(**r.__dict__)


class CasePageOut(BaseModel):
    items: list[CaseRowOut]
    total: int
    next_cursor: str | None


class WorkItemOut(BaseModel):
    task_id: str
    kind: str
    ref: str
    title: str
    task: str
    label: str
    department: str
    post: str
    region: str
    opened_at: datetime
    due_at: datetime | None
    priority: int

    @classmethod
    def of(cls, w: WorkItem) -> WorkItemOut:
        return cls(**w.__dict__)


class DoneItemOut(BaseModel):
    case_no: str
    task: str
    department: str
    post: str
    region: str
    opened_at: datetime
    done_at: datetime
    done_by: str
    outcome: str

    @classmethod
    def of(cls, d: DoneItem) -> DoneItemOut:
        return cls(**d.__dict__)


class WorklistOut(BaseModel):
    tab: str
    items: list[WorkItemOut]
    done: list[DoneItemOut]
    total: int


class MatterOut(BaseModel):
    code: str
    name: str
    kind: str
    department: str
    level: str
    region: str
    statutory_days: int
    promised_days: int
    day_type: str
    materials: list[str]

    @classmethod
    def of(cls, m: Any) -> MatterOut:
        return cls(
            code=m.code, name=m.name, kind=m.kind.value, department=m.authority.department,
            level=m.authority.level.value, region=m.authority.region, statutory_days=m.statutory_days,
            promised_days=m.promised_days, day_type=m.day_type.value, materials=list(m.materials),
        )  # fmt: skip


class MeOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    regions: list[str]
    departments: list[str]
    staff: ActorOut | None


class ProjectionOut(BaseModel):
    name: str
    position: int
    head: int
    lag: int


class ImportOut(BaseModel):
    added: int
    already_present: int
    conflicts: int
    errors: int
    duplicates_in_file: int
    adopted: int
    adoption_pending: int
    error_rows: list[str]


class AdoptOut(BaseModel):
    adopted: list[str]


class UserOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    regions: list[str]
    departments: list[str]
    staff_id: str
    tokens: list[dict[str, str]]
    locked_until: datetime | None
    must_change_password: bool
    created_at: datetime


class UserIn(Strict):
    username: str = Field(max_length=64)
    display_name: str = Field("", max_length=100)
    password: str | None = Field(None, max_length=256, description="omitted: a random one is generated and returned")
    roles: list[str] = Field(default_factory=list, max_length=8)
    regions: list[str] | None = Field(None, max_length=20, description="'*' for all; omitted: from the staff post")
    departments: list[str] = Field(default_factory=list, max_length=20)
    staff_id: str = Field("", max_length=64)


class UserCreatedOut(BaseModel):
    user: UserOut
    password: str | None = Field(None, description="the generated password, shown this once")


class GrantIn(Strict):
    role: str = Field(max_length=32)
    regions: list[str] | None = Field(None, max_length=20)
    departments: list[str] | None = Field(None, max_length=20)
    staff_id: str | None = Field(None, max_length=64)


class PasswordIn(Strict):
    password: str = Field(max_length=256)


class OwnPasswordIn(Strict):
    old_password: str = Field(max_length=256)
    password: str = Field(max_length=256)


class TokenIn(Strict):
    name: str = Field(max_length=100)


class TokenOut(BaseModel):
    token_id: str
    token: str = Field(description="shown this once; send as Authorization: Bearer <token>")


class SubmitIn(Strict):
    matter_code: str = Field(max_length=64, description="see GET /api/matters")
    applicant: str = Field(max_length=200)
    materials: list[str] = Field(default_factory=list, max_length=50, description="materials handed in")
    all_materials: bool = Field(False, description="every material the matter requires was handed in")
    case_no: str | None = Field(None, max_length=64, description="omitted: generated")


def step_out(spec: StepSpec) -> StepOut:
    return StepOut(step=spec.step.value, label=spec.label, fields=CaseAccess.form_fields(spec))


def _step_body(spec: StepSpec) -> type[BaseModel]:
    """The body of a staff step: the request's own text and list fields, nothing else."""
    defs: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(spec.request)}
    for name in CaseAccess.form_fields(spec):
        if types[name] == "list[str]":
            defs[name] = (list[str], Field(default_factory=list, max_length=50))
        else:
            defs[name] = (str, Field("", max_length=1000))
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{spec.request.__name__}In", __base__=Strict, __doc__=f"{spec.label}", **defs
    )
    return model


STEP_BODIES: dict[str, type[BaseModel]] = {s.step.value: _step_body(s) for s in STEPS.values() if s.staff}
