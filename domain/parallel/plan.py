"""The stage plan of a project: per stage, the lead department, who takes part with which matters,
the time limits, what silence means and whether the lead may override a disagreement.

A plan is data recorded in the project's first event, so a later change of the standard plan (or a
transfer of a matter to the approval bureau) never rewrites a project already under way.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from domain.catalogue import Catalogue
from domain.errors import UnknownMatter
from domain.parallel.errors import ProjectPlanInvalid
from domain.parallel.values import DIVISIONS, STAGES, SilencePolicy, Stage


@dataclass(frozen=True)
class Participant:
    """A department taking part in a stage, the catalogue matters it handles there, its own time limit."""

    department: str
    matters: tuple[str, ...]
    time_limit_days: int | None = None  # working days; None = the stage's limit

    def to_dict(self) -> dict[str, Any]:
        return {"department": self.department, "matters": list(self.matters), "time_limit_days": self.time_limit_days}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Participant":
        days = data.get("time_limit_days")
        return cls(str(data["department"]), tuple(str(m) for m in data["matters"]), None if days is None else int(days))


@dataclass(frozen=True)
class StagePlan:
    stage: Stage
    lead_department: str
    participants: tuple[Participant, ...]
    time_limit_days: int  # working days from acceptance to the lead's decision
    silence_policy: SilencePolicy = SilencePolicy.ESCALATE
    deemed_consent_rule: str = ""  # the rule that allows deemed consent; required under that policy
    lead_may_override: bool = False

    def participant(self, department: str) -> Participant | None:
        return next((p for p in self.participants if p.department == department), None)

    def days_for(self, department: str) -> int:
        p = self.participant(department)
        return self.time_limit_days if p is None or p.time_limit_days is None else p.time_limit_days

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "lead_department": self.lead_department,
            "participants": [p.to_dict() for p in self.participants],
            "time_limit_days": self.time_limit_days,
            "silence_policy": self.silence_policy.value,
            "deemed_consent_rule": self.deemed_consent_rule,
            "lead_may_override": self.lead_may_override,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StagePlan":
        return cls(
            stage=Stage(data["stage"]),
            lead_department=str(data["lead_department"]),
            participants=tuple(Participant.from_dict(p) for p in data["participants"]),
            time_limit_days=int(data["time_limit_days"]),
            silence_policy=SilencePolicy(data.get("silence_policy", SilencePolicy.ESCALATE.value)),
            deemed_consent_rule=str(data.get("deemed_consent_rule", "")),
            lead_may_override=bool(data.get("lead_may_override", False)),
        )


@dataclass(frozen=True)
class ReformTarget:
    """The reform's time target (国办发〔2019〕11号: ≤120 working days, project approval to construction permit).

    Configuration, per area. ``warning_share`` of the target (rounded down) is when the warning fires.
    """

    days: int = 120
    warning_share: Decimal = field(default=Decimal("0.8"))

    def __post_init__(self) -> None:
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days <= 0:
            raise ProjectPlanInvalid(f"改革目标时限「{self.days}」应为正整数（工作日）", field="reform_target_days")
        share = Decimal(str(self.warning_share))
        if not Decimal(0) < share < Decimal(1):
            raise ProjectPlanInvalid(f"预警比例「{self.warning_share}」应在0和1之间", field="warning_share")

    @property
    def warning_days(self) -> int:
        share = Decimal(str(self.warning_share))
        return max(1, int((self.days * share).to_integral_value(rounding=ROUND_FLOOR)))


def check_plan(plan: Sequence[StagePlan]) -> tuple[StagePlan, ...]:
    """The plan's own consistency (no catalogue needed): four stages in order, every rule complete."""
    stages = tuple(plan)
    if tuple(s.stage for s in stages) != STAGES:
        expected = "、".join(s.label for s in STAGES)
        raise ProjectPlanInvalid(f"审批阶段应依次为：{expected}", field="stages")
    for s in stages:
        where = f"「{s.stage.label}」阶段"
        if not s.lead_department.strip():
            raise ProjectPlanInvalid(f"{where}未指定牵头部门", field="lead_department", stage=s.stage.value)
        if not _positive(s.time_limit_days):
            raise ProjectPlanInvalid(
                f"{where}的办理时限「{s.time_limit_days}」应为正整数（工作日）", field="time_limit_days"
            )
        if not s.participants:
            raise ProjectPlanInvalid(f"{where}没有参与审批的部门", field="participants", stage=s.stage.value)
        seen_departments: set[str] = set()
        seen_matters: set[str] = set()
        for p in s.participants:
            if not p.department.strip():
                raise ProjectPlanInvalid(f"{where}有参与部门名称为空", field="participants", stage=s.stage.value)
            if p.department in seen_departments:
                raise ProjectPlanInvalid(f"{where}参与部门「{p.department}」重复", field="participants")
            seen_departments.add(p.department)
            if not p.matters or any(not m.strip() for m in p.matters):
                raise ProjectPlanInvalid(f"{where}「{p.department}」未列明办理的事项", field="matters")
            duplicate = seen_matters.intersection(p.matters)
            if duplicate or len(set(p.matters)) != len(p.matters):
                raise ProjectPlanInvalid(f"{where}事项「{'、'.join(sorted(duplicate))}」重复列出", field="matters")
            seen_matters.update(p.matters)
            days = p.time_limit_days
            if days is not None and (not _positive(days) or days > s.time_limit_days):
                raise ProjectPlanInvalid(
                    f"{where}「{p.department}」的办理时限「{days}」应为不超过阶段时限（{s.time_limit_days}个工作日）的正整数",
                    field="time_limit_days",
                )
        if s.silence_policy is SilencePolicy.DEEMED_CONSENT and not s.deemed_consent_rule.strip():
            raise ProjectPlanInvalid(
                f"{where}实行「逾期视为同意」，须写明所依据的规定", field="deemed_consent_rule", stage=s.stage.value
            )
    return stages


def _positive(n: object) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n > 0


# ---- the standard plan of Aba's demo catalogue ---------------------------------------------------


@dataclass(frozen=True)
class StandardStage:
    stage: Stage
    lead_matter: str  # the lead department is whoever is competent for this matter (follows transfers)
    matters: tuple[str, ...]  # template codes (without the division prefix), grouped by competent department
    time_limit_days: int
    department_days: int
    silence_policy: SilencePolicy = SilencePolicy.ESCALATE
    deemed_consent_rule: str = ""
    lead_may_override: bool = False


DEEMED_CONSENT_RULE = "联合验收规则（演示）：参验部门在时限内未反馈意见的，视为同意"
STANDARD_STAGES: tuple[StandardStage, ...] = (
    StandardStage(
        Stage.LAND_USE_PLANNING,
        "ZRZY-002",
        ("FG-001", "ZRZY-002", "ZRZY-001", "STHJ-001", "SW-002", "LC-001"),
        20,
        18,
    ),
    StandardStage(Stage.CONSTRUCTION_PLANNING, "ZRZY-003", ("ZRZY-003", "RF-001", "JT-002"), 15, 13),
    StandardStage(Stage.CONSTRUCTION_PERMIT, "ZJ-001", ("ZJ-002", "ZJ-003", "ZJ-001", "RF-002"), 15, 13),
    StandardStage(
        Stage.COMPLETION_ACCEPTANCE,
        "ZJ-004",
        ("ZJ-004", "ZJ-005", "ZRZY-004", "RF-003"),
        12,
        10,
        SilencePolicy.DEEMED_CONSENT,
        DEEMED_CONSENT_RULE,
        lead_may_override=True,
    ),
)


def standard_plan(region: str, catalogue: Catalogue, at: datetime) -> tuple[StagePlan, ...]:
    """The demo catalogue's four stages for a region, each matter with whoever is competent ``at`` that moment.

    Departments come from the catalogue's routing (``competent_authority``), so a matter transferred to
    an approval bureau is reviewed by the bureau in projects registered after the transfer.
    """
    division = DIVISIONS.get(region)
    if division is None:
        raise ProjectPlanInvalid(f"地区「{region}」没有并联审批事项目录", field="region")
    plans: list[StagePlan] = []
    for std in STANDARD_STAGES:
        by_department: dict[str, list[str]] = {}
        for template in std.matters:
            code = f"{division}-{template}"
            try:
                authority = catalogue.competent_authority(code, at)
            except UnknownMatter:
                raise ProjectPlanInvalid(
                    f"事项目录（版本 {catalogue.version}）中没有「{std.stage.label}」阶段所需的事项「{code}」",
                    field="matters",
                    matter_code=code,
                ) from None
            if authority.region != region:
                raise ProjectPlanInvalid(f"事项「{code}」不属于「{region}」", field="matters", matter_code=code)
            by_department.setdefault(authority.department, []).append(code)
        lead = catalogue.competent_authority(f"{division}-{std.lead_matter}", at).department
        plans.append(
            StagePlan(
                stage=std.stage,
                lead_department=lead,
                participants=tuple(
                    Participant(dept, tuple(codes), std.department_days) for dept, codes in by_department.items()
                ),
                time_limit_days=std.time_limit_days,
                silence_policy=std.silence_policy,
                deemed_consent_rule=std.deemed_consent_rule,
                lead_may_override=std.lead_may_override,
            )
        )
    return check_plan(plans)
