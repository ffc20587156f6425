"""The shapes of a case: its statuses, the time rules, and the typed view that crosses every layer.

``CaseView`` is what the aggregate answers, what the workflow holds between steps, what the service
layer returns and what the CLI and the pages render: one typed shape instead of a dict. It is
also what a recorded activity result decodes into on replay, so new fields always get defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.calendar import DayType
from domain.errors import InvalidValue
from domain.staff import Assignment


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    AWAITING_CORRECTION = "awaiting_correction"
    UNDER_REVIEW = "under_review"
    SUSPENDED = "suspended"
    DECIDED = "decided"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def is_closed(self) -> bool:
        return self in (CaseStatus.COMPLETED, CaseStatus.REFUSED, CaseStatus.WITHDRAWN)

    @classmethod
    def parse(cls, value: str) -> CaseStatus:
        """A status by its code or by the Chinese label the tables show; refused with the valid list."""
        for s in cls:
            if value in (s.value, s.label):
                return s
        allowed = "、".join(f"{s.value}（{s.label}）" for s in cls)
        raise InvalidValue(f"办件状态「{value}」无效，应为：{allowed}", field="status")


_STATUS_LABELS = {
    CaseStatus.SUBMITTED: "待受理",
    CaseStatus.AWAITING_CORRECTION: "待补正",
    CaseStatus.UNDER_REVIEW: "审查中",
    CaseStatus.SUSPENDED: "中止计时",
    CaseStatus.DECIDED: "已决定待出件",
    CaseStatus.DELIVERED: "已出件",
    CaseStatus.COMPLETED: "已办结",
    CaseStatus.REFUSED: "不予受理",
    CaseStatus.WITHDRAWN: "已撤回",
}

SUSPENSION_REASONS = {"hearing": "听证", "testing": "检验检测", "expert_review": "专家评审", "other": "其他法定情形"}
DECISION_OUTCOMES = {"grant": "准予", "deny": "不予许可"}


@dataclass(frozen=True)
class TimeRules:
    """Lengths of the rules that are not per matter: the ONE place their defaults are written.

    Configuration (per area, each with its day type); settings read the environment over these
    defaults, and workflows carry them in their input so a test can shorten them."""

    deemed_acceptance_days: int = 5  # 行政许可法 §32: no notice within 5 working days = accepted
    deemed_acceptance_day_type: DayType = DayType.WORKING
    correction_window_days: int = 30
    correction_day_type: DayType = DayType.NATURAL
    warning_share: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.warning_share <= 1:
            raise InvalidValue("预警比例必须在 (0, 1] 之间", field="warning_share")
        if self.deemed_acceptance_days <= 0 or self.correction_window_days <= 0:
            raise InvalidValue("期限天数必须为正整数", field="days")


def case_id(case_no: str) -> UUID:
    """Deterministic aggregate id: a retried submission collides instead of creating a twin."""
    return uuid5(NAMESPACE_URL, f"/oneseal/cases/{case_no}")


class CaseState(Protocol):
    """What the step rules read: the aggregate and its view both have it, so one check serves both."""

    @property
    def status(self) -> CaseStatus: ...

    @property
    def region(self) -> str: ...

    @property
    def department(self) -> str: ...

    @property
    def required_materials(self) -> list[str]: ...

    @property
    def provided_materials(self) -> list[str]: ...

    @property
    def deemed_acceptance_at(self) -> datetime | None: ...

    @property
    def correction_due_at(self) -> datetime | None: ...

    @property
    def promised_deadline(self) -> datetime | None: ...

    @property
    def warning_at(self) -> datetime | None: ...

    @property
    def deadline_provisional(self) -> bool: ...

    @property
    def warned(self) -> bool: ...

    @property
    def overdue(self) -> bool: ...

    @property
    def imported(self) -> bool: ...

    @property
    def adopted(self) -> bool: ...

    @property
    def missing_materials(self) -> list[str]: ...


@dataclass(frozen=True)
class CaseView:
    """A case as every layer sees it. Times are aware UTC datetimes."""

    case_no: str
    status: CaseStatus
    matter_code: str
    matter_name: str
    matter_kind: str
    department: str
    level: str
    region: str
    applicant: str
    required_materials: list[str]
    provided_materials: list[str]
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
    decided_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    closed_reason: str | None
    warned: bool
    overdue: bool
    awaiting: Assignment | None
    version: int
    imported: bool = False
    adopted: bool = False
    decision_reason: str = ""
    suspension_reason: str = ""
    suspension_note: str = ""
    missing_listed: list[str] = field(default_factory=list)  # what the last one-time notice listed
    demo: bool = False
    import_batch: str = ""

    @property
    def missing_materials(self) -> list[str]:
        return [m for m in self.required_materials if m not in self.provided_materials]

    @property
    def is_closed(self) -> bool:
        return self.status.is_closed

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (ISO times) for programs: ``--json`` and the HTTP API."""
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        out["status_label"] = self.status.label
        out["missing_materials"] = self.missing_materials
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Assignment):
        return asdict(value)
    if isinstance(value, StrEnum):
        return value.value
    return value
