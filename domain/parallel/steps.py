"""The steps of a project as typed requests, and one registry from step to rule and command.

The workflow's one Update handler decodes a request by its step name and validates it here, on the
view it holds; the command handler validates it again here and then runs the aggregate's command
(which checks the same rules once more). A new step is a request class, a ``ProjectStep`` and one
``StepSpec`` entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from domain.calendar import ServiceCalendar
from domain.parallel import rules
from domain.parallel.errors import ProjectFieldInvalid
from domain.parallel.plan import ReformTarget, StagePlan
from domain.parallel.project import Project
from domain.parallel.values import Stage
from domain.parallel.view import ProjectView
from domain.staff import Actor
from domain.text import clean, normalise


class ProjectStep(StrEnum):
    ACCEPT_STAGE = "accept_stage"  # 阶段受理 (一窗受理)
    OPINION = "opinion"  # a department's opinion
    SUPPLEMENT = "supplement"  # the applicant's supplement to the merged notice
    DECIDE = "decide"  # the lead's decision
    SILENCE = "silence"  # system: a department's deadline passed
    REFORM_WARNING = "reform_warning"  # system
    REFORM_OVERDUE = "reform_overdue"  # system

    @property
    def label(self) -> str:
        return STEPS[self].label


@dataclass(frozen=True, kw_only=True)
class RegisterProject:
    """项目登记: a project coded on the national platform, with its stage plan and reform target.

    Investment travels as text (元, at most two decimals), never as a float."""

    code: str
    name: str
    owner: str
    investment: str
    level: str
    region: str
    plan: tuple[StagePlan, ...]
    actor: Actor
    reform_days: int = 120
    reform_warning_share: str = "0.8"
    demo: bool = False

    def __post_init__(self) -> None:
        for name in ("code", "name", "owner", "investment", "level", "region"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, normalise(value))

    def reform(self) -> ReformTarget:
        return ReformTarget(days=self.reform_days, warning_share=Decimal(self.reform_warning_share))

    def check(self, at: datetime) -> rules.Registration:
        """Every rule of registration, without recording anything (the service's dry run, the activity's check)."""
        clean(self.name, field="name", label="项目名称", limit="name")
        clean(self.owner, field="owner", label="建设单位", limit="name")
        return rules.check_registration(
            code=self.code, name=self.name, owner=self.owner, investment=self.investment, level=self.level,
            region=self.region, plan=self.plan, reform=self.reform(), actor=self.actor, at=at,
        )  # fmt: skip

    def create(self, at: datetime, command_id: str, *, batch: str = "") -> Project:
        self.check(at)
        return Project.register(
            code=self.code, name=self.name, owner=self.owner, investment=self.investment, level=self.level,
            region=self.region, plan=self.plan, actor=self.actor, at=at, command_id=command_id,
            reform=self.reform(), demo=self.demo, batch=batch,
        )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ProjectRequest:
    """Who takes the step; each step's request adds its own fields (normalised, not judged)."""

    step: ClassVar[ProjectStep]
    actor: Actor

    def fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "actor"}


def _texts(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in (normalise(x) for x in values) if v))


@dataclass(frozen=True, kw_only=True)
class AcceptStage(ProjectRequest):
    step = ProjectStep.ACCEPT_STAGE
    stage: str
    materials: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage", normalise(self.stage))
        object.__setattr__(self, "materials", _texts(self.materials))


@dataclass(frozen=True, kw_only=True)
class GiveOpinion(ProjectRequest):
    step = ProjectStep.OPINION
    stage: str
    department: str
    opinion: str
    conditions: str = ""
    reason: str = ""
    missing: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("stage", "department", "opinion", "conditions", "reason"):
            object.__setattr__(self, name, normalise(getattr(self, name)))
        object.__setattr__(self, "missing", tuple(normalise(m) for m in self.missing))


@dataclass(frozen=True, kw_only=True)
class SupplementStage(ProjectRequest):
    step = ProjectStep.SUPPLEMENT
    stage: str
    materials: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage", normalise(self.stage))
        object.__setattr__(self, "materials", _texts(self.materials))


@dataclass(frozen=True, kw_only=True)
class DecideStage(ProjectRequest):
    step = ProjectStep.DECIDE
    stage: str
    outcome: str
    reason: str = ""
    override_reason: str = ""

    def __post_init__(self) -> None:
        for name in ("stage", "outcome", "reason", "override_reason"):
            object.__setattr__(self, name, normalise(getattr(self, name)))


@dataclass(frozen=True, kw_only=True)
class RecordSilence(ProjectRequest):
    step = ProjectStep.SILENCE
    stage: str
    department: str


@dataclass(frozen=True, kw_only=True)
class WarnReform(ProjectRequest):
    step = ProjectStep.REFORM_WARNING


@dataclass(frozen=True, kw_only=True)
class MarkReformOverdue(ProjectRequest):
    step = ProjectStep.REFORM_OVERDUE


@dataclass(frozen=True)
class StepContext:
    """What a command needs beyond its request: business time, its idempotency key, the calendar."""

    at: datetime
    command_id: str
    calendar: ServiceCalendar


@dataclass(frozen=True)
class StepSpec:
    label: str
    request: type[ProjectRequest]
    check: Callable[[ProjectView, Any, datetime], object]
    run: Callable[[Project, Any, StepContext], None]
    staff: bool = True  # False: the system's own step (timers), never an Update


def _stage(value: str) -> Stage:
    return Stage.parse(value)


def _clean_text(value: str, name: str, label: str, limit: str) -> str:
    return clean(value, field=name, label=label, limit=limit, required=False)


def _check_accept(view: ProjectView, r: AcceptStage, at: datetime) -> object:
    for m in r.materials:
        clean(m, field="materials", label="申请材料名称", limit="material")
    return rules.check_accept(view, _stage(r.stage), r.actor, at)


def _check_opinion(view: ProjectView, r: GiveOpinion, at: datetime) -> object:
    _clean_text(r.conditions, "conditions", "同意的条件", "reason")
    _clean_text(r.reason, "reason", "不同意的理由", "reason")
    for m in r.missing:
        if m:
            clean(m, field="missing", label="需补正的材料名称", limit="material")
    return rules.check_opinion(
        view, _stage(r.stage), r.department, r.opinion, conditions=r.conditions, reason=r.reason,
        missing=r.missing, actor=r.actor, at=at,
    )  # fmt: skip


def _check_supplement(view: ProjectView, r: SupplementStage, at: datetime) -> object:
    for m in r.materials:
        clean(m, field="materials", label="补正材料名称", limit="material")
    return rules.check_supplement(view, _stage(r.stage), r.materials, r.actor, at)


def _check_decide(view: ProjectView, r: DecideStage, at: datetime) -> object:
    _clean_text(r.reason, "reason", "不予通过的理由", "reason")
    _clean_text(r.override_reason, "override_reason", "协调通过的理由", "reason")
    return rules.check_decision(
        view, _stage(r.stage), r.outcome, reason=r.reason, override_reason=r.override_reason, actor=r.actor, at=at
    )


def _run_accept(p: Project, r: AcceptStage, c: StepContext) -> None:
    p.accept_stage(
        stage=r.stage, actor=r.actor, at=c.at, command_id=c.command_id, calendar=c.calendar, materials=r.materials
    )


def _run_opinion(p: Project, r: GiveOpinion, c: StepContext) -> None:
    p.give_opinion(
        stage=r.stage, department=r.department, opinion=r.opinion, actor=r.actor, at=c.at, command_id=c.command_id,
        conditions=r.conditions, reason=r.reason, missing=r.missing,
    )  # fmt: skip


def _run_supplement(p: Project, r: SupplementStage, c: StepContext) -> None:
    p.supplement(
        stage=r.stage, materials=r.materials, actor=r.actor, at=c.at, command_id=c.command_id, calendar=c.calendar
    )


def _run_decide(p: Project, r: DecideStage, c: StepContext) -> None:
    p.decide_stage(
        stage=r.stage, outcome=r.outcome, actor=r.actor, at=c.at, command_id=c.command_id, calendar=c.calendar,
        reason=r.reason, override_reason=r.override_reason,
    )  # fmt: skip


def _run_silence(p: Project, r: RecordSilence, c: StepContext) -> None:
    p.record_silence(stage=r.stage, department=r.department, actor=r.actor, at=c.at, command_id=c.command_id)


STEPS: dict[ProjectStep, StepSpec] = {
    ProjectStep.ACCEPT_STAGE: StepSpec("阶段受理", AcceptStage, _check_accept, _run_accept),
    ProjectStep.OPINION: StepSpec("并联审查意见", GiveOpinion, _check_opinion, _run_opinion),
    ProjectStep.SUPPLEMENT: StepSpec("接收补正材料", SupplementStage, _check_supplement, _run_supplement),
    ProjectStep.DECIDE: StepSpec("阶段决定", DecideStage, _check_decide, _run_decide),
    ProjectStep.SILENCE: StepSpec(
        "逾期处理",
        RecordSilence,
        lambda v, r, at: rules.check_silence(v, _stage(r.stage), r.department, r.actor, at),
        _run_silence,
        staff=False,
    ),
    ProjectStep.REFORM_WARNING: StepSpec(
        "改革目标预警",
        WarnReform,
        lambda v, r, at: rules.check_reform_timer(v, overdue=False, actor=r.actor, at=at),
        lambda p, r, c: p.warn_reform_target(actor=r.actor, at=c.at, command_id=c.command_id),
        staff=False,
    ),
    ProjectStep.REFORM_OVERDUE: StepSpec(
        "改革目标超时",
        MarkReformOverdue,
        lambda v, r, at: rules.check_reform_timer(v, overdue=True, actor=r.actor, at=at),
        lambda p, r, c: p.mark_reform_overdue(actor=r.actor, at=c.at, command_id=c.command_id),
        staff=False,
    ),
}
STAFF_STEPS: tuple[ProjectStep, ...] = tuple(s for s, spec in STEPS.items() if spec.staff)


def spec_for(name: str, *, staff_only: bool = False) -> StepSpec:
    """The registry entry of a step name; a name staff may not use (or no step at all) is refused."""
    try:
        step = ProjectStep(name)
    except ValueError:
        step = None
    if step is None or (staff_only and step not in STAFF_STEPS):
        allowed = "、".join(f"{s.value}（{STEPS[s].label}）" for s in STAFF_STEPS)
        raise ProjectFieldInvalid(f"未知的办理环节「{name}」，应为：{allowed}", field="step")
    return STEPS[step]


def validate(view: ProjectView, request: ProjectRequest, at: datetime) -> None:
    """The step's rules on the view: what the workflow's validator and the command handler both run."""
    STEPS[request.step].check(view, request, at)


def with_actor(request: ProjectRequest, actor: Actor) -> ProjectRequest:
    return replace(request, actor=actor)


__all__ = [
    "STAFF_STEPS",
    "STEPS",
    "AcceptStage",
    "DecideStage",
    "GiveOpinion",
    "MarkReformOverdue",
    "ProjectRequest",
    "ProjectStep",
    "RecordSilence",
    "RegisterProject",
    "StepContext",
    "StepSpec",
    "SupplementStage",
    "WarnReform",
    "spec_for",
    "validate",
    "with_actor",
]
