"""The typed, read-only view of a project that other layers use, and the pure queries over it.

The workflow keeps a ``ProjectView`` (returned by its activities) to validate staff steps without I/O and
to know which timers to sleep on; services, the CLI and projections read the same view. Only types that
Temporal's default converter round-trips are used: str, int, bool, datetime, StrEnum, tuples, dataclasses
(days are ISO strings, money is integer fen).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.calendar import DayType, ServiceCalendar, to_local
from domain.catalogue import Level
from domain.parallel.plan import Participant
from domain.parallel.values import (
    REFORM_STAGES,
    Opinion,
    SilencePolicy,
    Stage,
    StageOutcome,
    from_fen,
    project_level_label,
)
from domain.staff import Actor, Assignment, Post, service_centre

WORKING = DayType.WORKING


class ProjectStatus(StrEnum):
    REGISTERED = "registered"  # coded, no stage accepted yet
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"  # 竣工验收 approved
    DENIED = "denied"  # a stage was denied: the project ends

    @property
    def label(self) -> str:
        return {"registered": "已赋码", "in_progress": "审批中", "completed": "已办结", "denied": "不予通过"}[
            self.value
        ]

    @property
    def is_closed(self) -> bool:
        return self in (ProjectStatus.COMPLETED, ProjectStatus.DENIED)


class StageStatus(StrEnum):
    NOT_OPEN = "not_open"
    UNDER_REVIEW = "under_review"  # departments reviewing (or all in, awaiting the lead's decision)
    SUSPENDED = "suspended"  # merged correction notice issued; the applicant supplements; clocks stopped
    APPROVED = "approved"
    DENIED = "denied"

    @property
    def label(self) -> str:
        return {"not_open": "未受理", "under_review": "并联审查中", "suspended": "补正中（停止计时）",
                "approved": "通过", "denied": "不予通过"}[self.value]  # fmt: skip

    @property
    def is_decided(self) -> bool:
        return self in (StageStatus.APPROVED, StageStatus.DENIED)


class TaskStatus(StrEnum):
    REVIEWING = "reviewing"
    CORRECTION_REQUESTED = "correction_requested"  # asked for materials; reviews again after the supplement
    ANSWERED = "answered"  # final opinion (or deemed consent) recorded

    @property
    def label(self) -> str:
        return {"reviewing": "审查中", "correction_requested": "待补正", "answered": "已出具意见"}[self.value]


class TaskKind(StrEnum):
    """One worklist row per open task; every task names who may act."""

    ACCEPT = "accept"  # accept the next stage's application (一窗受理, 一张表单)
    OPINION = "opinion"  # a participating department's review
    SUPPLEMENT = "supplement"  # receive the applicant's supplement to the merged notice
    DECIDE = "decide"  # the lead decides the stage once every opinion is in
    SUPERVISE = "supervise"  # 督办: a department silent past its deadline (escalate policy)

    @property
    def label(self) -> str:
        return {"accept": "阶段受理", "opinion": "并联审查", "supplement": "接收补正材料",
                "decide": "阶段决定", "supervise": "督办"}[self.value]  # fmt: skip


class TimerKind(StrEnum):
    DEPARTMENT_DEADLINE = "department_deadline"  # silence: escalate or deemed consent
    REFORM_WARNING = "reform_warning"
    REFORM_OVERDUE = "reform_overdue"


@dataclass(frozen=True)
class NoticeItem:
    """One department's part of the merged one-time notice (一次性告知)."""

    department: str
    materials: tuple[str, ...]


@dataclass(frozen=True)
class TaskView:
    stage: Stage
    department: str
    matters: tuple[str, ...]
    time_limit_days: int
    status: TaskStatus
    due_day: str  # ISO date, Beijing time: the last working day of the department's time limit
    due_at: datetime  # end of ``due_day`` (UTC)
    opinion: Opinion | None = None
    conditions: str = ""
    reason: str = ""
    correction: tuple[str, ...] = ()  # materials this department asked for (kept after the supplement)
    resubmitted: bool = False  # the applicant supplemented: a second correction request is refused
    answered_at: datetime | None = None
    answered_by: str = ""  # user id
    escalated_at: datetime | None = None
    deemed_consent_rule: str = ""


@dataclass(frozen=True)
class StageView:
    stage: Stage
    status: StageStatus
    lead_department: str
    time_limit_days: int
    silence_policy: SilencePolicy
    deemed_consent_rule: str
    lead_may_override: bool
    participants: tuple[Participant, ...]  # the plan: who takes part with which matters
    tasks: tuple[TaskView, ...] = ()  # one per participant once the stage is accepted
    opened_at: datetime | None = None
    opened_day: str = ""
    due_day: str = ""  # the lead's decision deadline, moved by suspensions
    due_at: datetime | None = None
    materials: tuple[str, ...] = ()
    notice: tuple[NoticeItem, ...] = ()
    notice_at: datetime | None = None
    suspended_since: datetime | None = None
    suspended_days: int = 0
    supplemented_at: datetime | None = None
    decided_at: datetime | None = None
    outcome: StageOutcome | None = None
    reason: str = ""
    override_reason: str = ""
    overridden: tuple[str, ...] = ()  # disagreeing departments the lead overrode
    used_days: int | None = None  # working days from acceptance to decision, suspensions excluded

    def task(self, department: str) -> TaskView | None:
        return next((t for t in self.tasks if t.department == department), None)

    @property
    def departments(self) -> tuple[str, ...]:
        return tuple(t.department for t in self.tasks)

    @property
    def awaiting_decision(self) -> bool:
        """Every opinion is in and no correction is outstanding: the lead's turn."""
        return self.status is StageStatus.UNDER_REVIEW and all(t.status is TaskStatus.ANSWERED for t in self.tasks)

    @property
    def disagreements(self) -> tuple[TaskView, ...]:
        return tuple(t for t in self.tasks if t.opinion is Opinion.DISAGREE)

    @property
    def conditions(self) -> tuple[tuple[str, str], ...]:
        """(department, conditions) of every conditional consent: they go with the stage's result."""
        return tuple((t.department, t.conditions) for t in self.tasks if t.opinion is Opinion.AGREE_WITH_CONDITIONS)


@dataclass(frozen=True)
class ReformView:
    """The reform target clock: working days of government time, stages 1–3, suspensions excluded."""

    target_days: int
    warning_days: int
    closed_days: int  # used by stages of the clock already decided
    warning_day: str = ""  # ISO date; set while a counted stage is open and the warning has not fired
    warning_at: datetime | None = None
    overdue_day: str = ""
    overdue_at: datetime | None = None
    warned_at: datetime | None = None
    overdue_marked_at: datetime | None = None
    final_days: int | None = None  # set when the construction permit stage is decided

    @property
    def exceeded(self) -> bool:
        """Past the target: marked overdue by the timer, or finished beyond it."""
        return self.overdue_marked_at is not None or (self.final_days or 0) > self.target_days


def reform_days_used(view: "ProjectView", at: datetime, calendar: ServiceCalendar) -> int:
    """Working days on the reform clock at ``at``: decided stages 1–3, plus the open one up to ``at``'s day,
    without the days the applicant spent supplementing (the same counting as the stage's ``used_days``)."""
    r = view.reform
    current = view.current_stage
    if r.final_days is not None or current is None or current.stage not in REFORM_STAGES or not current.opened_day:
        return r.final_days if r.final_days is not None else r.closed_days
    opened = date.fromisoformat(current.opened_day)
    today = to_local(at).date()
    used = calendar.count_days(opened + timedelta(days=1), today + timedelta(days=1), WORKING, allow_provisional=True)
    used -= current.suspended_days
    if current.suspended_since is not None:
        since = to_local(current.suspended_since).date()
        used -= calendar.count_days(since, today + timedelta(days=1), WORKING, allow_provisional=True)
    return r.closed_days + max(0, used)


@dataclass(frozen=True)
class ProjectView:
    id: str
    code: str
    name: str
    owner: str
    investment_fen: int
    level: Level
    region: str
    status: ProjectStatus
    registered_at: datetime
    stages: tuple[StageView, ...]
    reform: ReformView
    version: int = 0
    demo: bool = False  # a demonstration drive's project: out of the bulletin unless asked
    batch: str = ""  # the scenario that loaded it ("" when registered live)

    @property
    def investment(self) -> Decimal:
        """Total investment in 元, exact."""
        return from_fen(self.investment_fen)

    @property
    def level_label(self) -> str:
        return project_level_label(self.level)

    def stage(self, stage: Stage) -> StageView:
        return self.stages[stage.position]

    @property
    def current_stage(self) -> StageView | None:
        """The open stage, else the next one to open; None when the project is closed."""
        if self.status.is_closed:
            return None
        return next((s for s in self.stages if not s.status.is_decided), None)

    def decided_stages(self) -> tuple[StageView, ...]:
        return tuple(s for s in self.stages if s.status.is_decided)


# ---- who acts --------------------------------------------------------------------------------


def who_acts(kind: TaskKind, region: str, lead_department: str, department: str = "") -> tuple[Assignment, ...]:
    """Posts that may take a step (never a person: AB岗). The lead's steps are taken by its reviewer post;
    the region's comprehensive window (综合受理窗口, the "one window") may also receive stage applications
    and supplements on the lead's behalf; 督办 goes to the lead's reviewer and the centre's supervisor."""
    front = Assignment(service_centre(region), Post.FRONT_DESK.value, region)
    lead = Assignment(lead_department, Post.REVIEWER.value, region)
    match kind:
        case TaskKind.ACCEPT | TaskKind.SUPPLEMENT:
            return (front, lead)
        case TaskKind.OPINION:
            return (Assignment(department, Post.REVIEWER.value, region),)
        case TaskKind.DECIDE:
            return (lead,)
        case TaskKind.SUPERVISE:
            return (lead, Assignment(service_centre(region), Post.SUPERVISOR.value, region))
    raise AssertionError(kind)  # pragma: no cover


@dataclass(frozen=True)
class WorkItem:
    """One open task = one worklist row."""

    task_id: str
    kind: TaskKind
    project_id: str
    project_code: str
    project_name: str
    stage: Stage
    department: str  # the department whose task it is (the reviewing one; the lead for accept/decide/督办)
    region: str
    assignments: tuple[Assignment, ...]
    due_at: datetime | None = None

    def admits(self, actor: Actor) -> bool:
        return any(a.admits(actor) for a in self.assignments)


def task_id(code: str, stage: Stage, kind: TaskKind, department: str = "") -> str:
    """Deterministic, from business keys: the worklist row and the workflow's child ids can share it."""
    base = f"{code}/{stage.value}/{kind.value}"
    return f"{base}/{department}" if department else base


def open_tasks(view: ProjectView, *, include_applicant_steps: bool = False) -> tuple[WorkItem, ...]:
    """Every task that waits for staff now: one per reviewing department, 督办 of the silent ones, and the
    lead's decision once every opinion is in. Steps that wait for the applicant (the next stage's
    application, the supplement to a notice) are not staff work until the applicant comes; ask for them
    with ``include_applicant_steps`` (e.g. to show what a project waits for)."""
    if view.status.is_closed:
        return ()
    current = view.current_stage
    if current is None:
        return ()

    def item(kind: TaskKind, department: str, due_at: datetime | None, reviewing: str = "") -> WorkItem:
        return WorkItem(
            task_id=task_id(view.code, current.stage, kind, reviewing),
            kind=kind,
            project_id=view.id,
            project_code=view.code,
            project_name=view.name,
            stage=current.stage,
            department=department,
            region=view.region,
            assignments=who_acts(kind, view.region, current.lead_department, department),
            due_at=due_at,
        )

    if current.status is StageStatus.NOT_OPEN:
        return (item(TaskKind.ACCEPT, current.lead_department, None),) if include_applicant_steps else ()
    if current.status is StageStatus.SUSPENDED:
        return (item(TaskKind.SUPPLEMENT, current.lead_department, None),) if include_applicant_steps else ()
    items: list[WorkItem] = []
    for t in current.tasks:
        if t.status is TaskStatus.REVIEWING:
            items.append(item(TaskKind.OPINION, t.department, t.due_at, t.department))
            if t.escalated_at is not None:
                items.append(item(TaskKind.SUPERVISE, current.lead_department, None, t.department))
    if current.awaiting_decision:
        items.append(item(TaskKind.DECIDE, current.lead_department, current.due_at))
    return tuple(items)


@dataclass(frozen=True)
class Timer:
    """A moment the workflow must wake up at, and what it then asks the project to do."""

    kind: TimerKind
    at: datetime
    stage: Stage
    department: str = ""


def next_timers(view: ProjectView) -> tuple[Timer, ...]:
    """Pending timers, earliest first. Nothing runs while the applicant supplements (the clocks stand)."""
    current = view.current_stage
    if current is None or current.status is not StageStatus.UNDER_REVIEW:
        return ()
    timers: list[Timer] = []
    for t in current.tasks:
        if t.status is TaskStatus.REVIEWING and not (
            current.silence_policy is SilencePolicy.ESCALATE and t.escalated_at is not None
        ):
            timers.append(Timer(TimerKind.DEPARTMENT_DEADLINE, t.due_at, current.stage, t.department))
    if current.stage in REFORM_STAGES:
        r = view.reform
        if r.warning_at is not None and r.warned_at is None:
            timers.append(Timer(TimerKind.REFORM_WARNING, r.warning_at, current.stage))
        if r.overdue_at is not None and r.overdue_marked_at is None:
            timers.append(Timer(TimerKind.REFORM_OVERDUE, r.overdue_at, current.stage))
    return tuple(sorted(timers, key=lambda t: (t.at, t.kind.value, t.department)))
