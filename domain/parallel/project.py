"""The ``Project`` aggregate: one investment project approved stage by stage, each stage by several
departments at once under a lead department ("一家牵头、并联审批、限时办结").

Commands check every rule first (``domain.parallel.rules``, the same checks the workflow's validators
use), then trigger explicit events whose ``apply`` changes the state. Deadlines are computed in the
command (with the service calendar) and carried by the event, so replaying never needs the calendar.
The state is kept as the frozen view types, replaced on every event, so ``view()`` is a plain copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.calendar import DayType, ServiceCalendar, end_of_day, to_local
from domain.catalogue import Level
from domain.events import Recorded
from domain.parallel.plan import ReformTarget, StagePlan
from domain.parallel.rules import (
    check_accept,
    check_decision,
    check_opinion,
    check_reform_timer,
    check_registration,
    check_silence,
    check_supplement,
)
from domain.parallel.values import REFORM_STAGES, Opinion, SilencePolicy, Stage, StageOutcome, to_fen
from domain.parallel.view import (
    NoticeItem,
    ProjectStatus,
    ProjectView,
    ReformView,
    StageStatus,
    StageView,
    TaskKind,
    TaskStatus,
    TaskView,
    who_acts,
)
from domain.staff import SYSTEM_ACTOR, Actor

WORKING = DayType.WORKING


def project_id(code: str) -> UUID:
    """The aggregate id from the national project code (the project's lifetime id)."""
    return uuid5(NAMESPACE_URL, f"/oneseal/projects/{code}")


class Project(Aggregate):
    class Event(Recorded):
        LABEL = ""  # what the timeline calls this fact

    class StageEvent(Event):
        """Every event after registration concerns one stage."""

        stage: str

    class Registered(Aggregate.Created, Event):
        LABEL = "项目登记"
        code: str
        name: str
        owner: str
        investment_fen: int
        level: str
        region: str
        stages: list[dict[str, Any]]
        reform_target_days: int
        reform_warning_days: int
        demo: bool = False  # registered by a demonstration drive: out of the bulletin unless asked
        batch: str = ""  # the scenario (or import) that loaded it; "" for a project registered live

    class StageAccepted(StageEvent):
        """The lead (through the one window) accepted the stage application; every department starts."""

        LABEL = "阶段受理"

        materials: list[str]
        opened_day: str
        due_day: str
        due_at: datetime
        tasks: list[dict[str, Any]]  # department, due_day, due_at
        reform_warning_day: str = ""
        reform_warning_at: datetime | None = None
        reform_overdue_day: str = ""
        reform_overdue_at: datetime | None = None

        def apply(self, p: Project) -> None:
            stage = Stage(self.stage)
            s = p.stages[stage.position]
            tasks = tuple(
                TaskView(
                    stage=stage,
                    department=part.department,
                    matters=part.matters,
                    time_limit_days=part.time_limit_days or s.time_limit_days,
                    status=TaskStatus.REVIEWING,
                    due_day=str(t["due_day"]),
                    due_at=t["due_at"],
                )
                for part, t in zip(s.participants, self.tasks, strict=True)
            )
            p._set_stage(
                stage,
                status=StageStatus.UNDER_REVIEW,
                tasks=tasks,
                opened_at=self.at,
                opened_day=self.opened_day,
                due_day=self.due_day,
                due_at=self.due_at,
                materials=tuple(self.materials),
            )
            p.status = ProjectStatus.IN_PROGRESS
            if stage in REFORM_STAGES:
                p.reform = replace(
                    p.reform,
                    warning_day=self.reform_warning_day,
                    warning_at=self.reform_warning_at,
                    overdue_day=self.reform_overdue_day,
                    overdue_at=self.reform_overdue_at,
                )
            p.processed_commands.append(self.command_id)

    class OpinionGiven(StageEvent):
        """A department's final opinion: agree, agree with conditions, or disagree."""

        LABEL = "出具审查意见"

        department: str
        opinion: str
        conditions: str = ""
        reason: str = ""

        def apply(self, p: Project) -> None:
            p._set_task(
                Stage(self.stage),
                self.department,
                status=TaskStatus.ANSWERED,
                opinion=Opinion(self.opinion),
                conditions=self.conditions,
                reason=self.reason,
                answered_at=self.at,
                answered_by=self.actor.get("user_id", ""),
            )
            p.processed_commands.append(self.command_id)

    class CorrectionRequested(StageEvent):
        """A department needs materials; it reviews again after the merged notice is answered."""

        LABEL = "要求补正材料"

        department: str
        materials: list[str]

        def apply(self, p: Project) -> None:
            p._set_task(
                Stage(self.stage),
                self.department,
                status=TaskStatus.CORRECTION_REQUESTED,
                opinion=Opinion.NEEDS_CORRECTION,
                correction=tuple(self.materials),
                answered_at=self.at,
                answered_by=self.actor.get("user_id", ""),
            )
            p.processed_commands.append(self.command_id)

    class CorrectionNoticeIssued(StageEvent):
        """ONE notice to the applicant listing every department's missing materials; the clocks stop."""

        LABEL = "一次性告知（汇总）"

        lead_department: str
        items: list[dict[str, Any]]  # department, materials

        def apply(self, p: Project) -> None:
            p._set_stage(
                Stage(self.stage),
                status=StageStatus.SUSPENDED,
                notice=tuple(NoticeItem(str(i["department"]), tuple(i["materials"])) for i in self.items),
                notice_at=self.at,
                suspended_since=self.at,
            )
            p.processed_commands.append(self.command_id)

    class Supplemented(StageEvent):
        """The applicant supplied everything listed; clocks restart, every deadline moved by the pause."""

        LABEL = "补正材料"

        materials: list[str]
        suspended_days: int
        due_day: str
        due_at: datetime
        tasks: list[dict[str, Any]]  # department, due_day, due_at (the departments that review again)
        reform_warning_day: str = ""
        reform_warning_at: datetime | None = None
        reform_overdue_day: str = ""
        reform_overdue_at: datetime | None = None

        def apply(self, p: Project) -> None:
            stage = Stage(self.stage)
            s = p.stages[stage.position]
            for t in self.tasks:
                p._set_task(
                    stage,
                    str(t["department"]),
                    status=TaskStatus.REVIEWING,
                    opinion=None,
                    resubmitted=True,
                    due_day=str(t["due_day"]),
                    due_at=t["due_at"],
                    escalated_at=None,
                    answered_at=None,
                    answered_by="",
                )
            p._set_stage(
                stage,
                status=StageStatus.UNDER_REVIEW,
                suspended_since=None,
                suspended_days=s.suspended_days + self.suspended_days,
                supplemented_at=self.at,
                due_day=self.due_day,
                due_at=self.due_at,
            )
            if stage in REFORM_STAGES:
                p.reform = replace(
                    p.reform,
                    warning_day=self.reform_warning_day,
                    warning_at=self.reform_warning_at,
                    overdue_day=self.reform_overdue_day,
                    overdue_at=self.reform_overdue_at,
                )
            p.processed_commands.append(self.command_id)

    class Escalated(StageEvent):
        """督办: the department is past its deadline; the lead and the centre's supervisor chase it."""

        LABEL = "逾期督办"

        department: str
        due_at: datetime
        assignments: list[dict[str, str]]

        def apply(self, p: Project) -> None:
            p._set_task(Stage(self.stage), self.department, escalated_at=self.at)
            p.processed_commands.append(self.command_id)

    class DeemedConsent(StageEvent):
        """No opinion by the deadline counts as consent, under the named rule."""

        LABEL = "逾期视为同意"

        department: str
        due_at: datetime
        rule: str

        def apply(self, p: Project) -> None:
            p._set_task(
                Stage(self.stage),
                self.department,
                status=TaskStatus.ANSWERED,
                opinion=Opinion.DEEMED_CONSENT,
                deemed_consent_rule=self.rule,
                answered_at=self.at,
                answered_by=self.actor.get("user_id", ""),
            )
            p.processed_commands.append(self.command_id)

    class StageDecided(StageEvent):
        """The lead's decision; a denial ends the project, approval of 竣工验收 completes it."""

        LABEL = "阶段决定"

        outcome: str
        reason: str
        override_reason: str
        overridden: list[str]
        conditions: list[dict[str, str]]  # department, conditions: they go with the stage's result
        used_days: int  # working days from acceptance to decision, suspensions excluded

        def apply(self, p: Project) -> None:
            stage = Stage(self.stage)
            outcome = StageOutcome(self.outcome)
            p._set_stage(
                stage,
                status=StageStatus.APPROVED if outcome is StageOutcome.APPROVED else StageStatus.DENIED,
                decided_at=self.at,
                outcome=outcome,
                reason=self.reason,
                override_reason=self.override_reason,
                overridden=tuple(self.overridden),
                used_days=self.used_days,
            )
            if stage in REFORM_STAGES:
                closed = p.reform.closed_days + self.used_days
                p.reform = replace(
                    p.reform,
                    closed_days=closed,
                    warning_day="",
                    warning_at=None,
                    overdue_day="",
                    overdue_at=None,
                    final_days=closed if stage is REFORM_STAGES[-1] else None,
                )
            if outcome is StageOutcome.DENIED:
                p.status = ProjectStatus.DENIED
            elif stage is Stage.COMPLETION_ACCEPTANCE:
                p.status = ProjectStatus.COMPLETED
            p.processed_commands.append(self.command_id)

    class ReformTargetWarned(StageEvent):
        LABEL = "改革目标预警"
        target_days: int
        warning_days: int

        def apply(self, p: Project) -> None:
            p.reform = replace(p.reform, warned_at=self.at)
            p.processed_commands.append(self.command_id)

    class ReformTargetOverdue(StageEvent):
        LABEL = "改革目标超时"
        target_days: int

        def apply(self, p: Project) -> None:
            p.reform = replace(p.reform, overdue_marked_at=self.at)
            p.processed_commands.append(self.command_id)

    # ---- creation ----------------------------------------------------------------------------

    @staticmethod
    def create_id(code: str) -> UUID:
        return project_id(code)

    @event(Registered)
    def __init__(
        self,
        code: str,
        name: str,
        owner: str,
        investment_fen: int,
        level: str,
        region: str,
        stages: list[dict[str, Any]],
        reform_target_days: int,
        reform_warning_days: int,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        demo: bool = False,
        batch: str = "",
    ) -> None:
        self.code = code
        self.demo = demo
        self.batch = batch
        self.name = name
        self.owner = owner
        self.investment_fen = investment_fen
        self.level = Level(level)
        self.region = region
        self.registered_at = at
        self.status = ProjectStatus.REGISTERED
        self.stages: list[StageView] = [
            StageView(
                stage=plan.stage,
                status=StageStatus.NOT_OPEN,
                lead_department=plan.lead_department,
                time_limit_days=plan.time_limit_days,
                silence_policy=plan.silence_policy,
                deemed_consent_rule=plan.deemed_consent_rule,
                lead_may_override=plan.lead_may_override,
                participants=plan.participants,
            )
            for plan in (StagePlan.from_dict(d) for d in stages)
        ]
        self.reform = ReformView(target_days=reform_target_days, warning_days=reform_warning_days, closed_days=0)
        self.processed_commands: list[str] = [command_id]

    @classmethod
    def register(
        cls,
        *,
        code: str,
        name: str,
        owner: str,
        investment: str | int | Decimal,
        level: str,
        region: str,
        plan: Sequence[StagePlan],
        actor: Actor,
        at: datetime,
        command_id: str,
        reform: ReformTarget | None = None,
        demo: bool = False,
        batch: str = "",
    ) -> Project:
        """Register a coded project (项目赋码 done on the national platform) with its stage plan."""
        r = check_registration(
            code=code,
            name=name,
            owner=owner,
            investment=investment,
            level=level,
            region=region,
            plan=plan,
            reform=reform or ReformTarget(),
            actor=actor,
            at=at,
        )
        return cls(
            code=str(r.code),
            name=r.name,
            owner=r.owner,
            investment_fen=to_fen(r.investment),
            level=r.level.value,
            region=r.region,
            stages=[p.to_dict() for p in r.plan],
            reform_target_days=r.reform.days,
            reform_warning_days=r.reform.warning_days,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            demo=demo,
            batch=batch,
        )

    # ---- commands ----------------------------------------------------------------------------

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    def accept_stage(
        self,
        *,
        stage: Stage | str,
        actor: Actor,
        at: datetime,
        command_id: str,
        calendar: ServiceCalendar,
        materials: Sequence[str] = (),
    ) -> None:
        """One window, one form: the stage opens and every participating department starts its own clock."""
        if self.has_processed(command_id):
            return
        view = self.view()
        s = check_accept(view, stage, actor, at)
        opened = to_local(at).date()
        tasks = []
        for part in s.participants:
            day = _add(calendar, opened, part.time_limit_days or s.time_limit_days)
            tasks.append({"department": part.department, "due_day": day.isoformat(), "due_at": end_of_day(day)})
        due = _add(calendar, opened, s.time_limit_days)
        reform: dict[str, Any] = {}
        if s.stage in REFORM_STAGES:
            r = view.reform
            if r.warned_at is None:
                day = _add(calendar, opened, max(0, r.warning_days - r.closed_days))
                reform.update(reform_warning_day=day.isoformat(), reform_warning_at=end_of_day(day))
            if r.overdue_marked_at is None:
                day = _add(calendar, opened, max(0, r.target_days - r.closed_days))
                reform.update(reform_overdue_day=day.isoformat(), reform_overdue_at=end_of_day(day))
        self.trigger_event(
            self.StageAccepted,
            stage=s.stage.value,
            materials=[m.strip() for m in materials if m.strip()],
            opened_day=opened.isoformat(),
            due_day=due.isoformat(),
            due_at=end_of_day(due),
            tasks=tasks,
            **reform,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
        )

    def give_opinion(
        self,
        *,
        stage: Stage | str,
        department: str,
        opinion: Opinion | str,
        actor: Actor,
        at: datetime,
        command_id: str,
        conditions: str = "",
        reason: str = "",
        missing: Sequence[str] = (),
    ) -> None:
        """A department's opinion; the last answer of a stage with correction requests issues the merged notice."""
        if self.has_processed(command_id):
            return
        o = check_opinion(
            self.view(),
            stage,
            department,
            opinion,
            conditions=conditions,
            reason=reason,
            missing=missing,
            actor=actor,
            at=at,
        )
        s = Stage(stage)
        common = {"stage": s.value, "department": department, "actor": actor.to_dict(), "at": at}
        if o.opinion is Opinion.NEEDS_CORRECTION:
            self.trigger_event(self.CorrectionRequested, materials=list(o.missing), command_id=command_id, **common)
        else:
            self.trigger_event(
                self.OpinionGiven,
                opinion=o.opinion.value,
                conditions=o.conditions,
                reason=o.reason,
                command_id=command_id,
                **common,
            )
        self._issue_notice_if_complete(s, at, command_id)

    def supplement(
        self,
        *,
        stage: Stage | str,
        materials: Sequence[str],
        actor: Actor,
        at: datetime,
        command_id: str,
        calendar: ServiceCalendar,
    ) -> None:
        """The applicant's supplement to the merged notice: the clocks restart, deadlines move by the pause."""
        if self.has_processed(command_id):
            return
        view = self.view()
        supplied = check_supplement(view, stage, materials, actor, at)
        s = view.stage(Stage(stage))
        assert s.suspended_since is not None
        days = calendar.count_days(
            to_local(s.suspended_since).date(), to_local(at).date(), WORKING, allow_provisional=True
        )
        tasks = []
        for t in s.tasks:
            if t.status is TaskStatus.CORRECTION_REQUESTED:
                day = _add(calendar, date.fromisoformat(t.due_day), days)
                tasks.append({"department": t.department, "due_day": day.isoformat(), "due_at": end_of_day(day)})
        due = _add(calendar, date.fromisoformat(s.due_day), days)
        reform: dict[str, Any] = {}
        if s.stage in REFORM_STAGES:
            r = view.reform
            for key, day_text in (("warning", r.warning_day), ("overdue", r.overdue_day)):
                if day_text:
                    moved = _add(calendar, date.fromisoformat(day_text), days)
                    reform.update({f"reform_{key}_day": moved.isoformat(), f"reform_{key}_at": end_of_day(moved)})
        self.trigger_event(
            self.Supplemented,
            stage=s.stage.value,
            materials=list(supplied),
            suspended_days=days,
            due_day=due.isoformat(),
            due_at=end_of_day(due),
            tasks=tasks,
            **reform,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
        )

    def record_silence(
        self, *, stage: Stage | str, department: str, actor: Actor, at: datetime, command_id: str
    ) -> None:
        """The department's deadline passed without an answer: escalate (督办) or deemed consent, per the stage."""
        if self.has_processed(command_id):
            return
        view = self.view()
        task = check_silence(view, stage, department, actor, at)
        s = view.stage(Stage(stage))
        common = {"stage": s.stage.value, "department": department, "due_at": task.due_at}
        if s.silence_policy is SilencePolicy.ESCALATE:
            assignments = who_acts(TaskKind.SUPERVISE, self.region, s.lead_department)
            self.trigger_event(
                self.Escalated,
                assignments=[a.to_dict() for a in assignments],
                actor=actor.to_dict(),
                at=at,
                command_id=command_id,
                **common,
            )
            return
        self.trigger_event(
            self.DeemedConsent,
            rule=s.deemed_consent_rule,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
            **common,
        )
        self._issue_notice_if_complete(s.stage, at, command_id)

    def decide_stage(
        self,
        *,
        stage: Stage | str,
        outcome: StageOutcome | str,
        actor: Actor,
        at: datetime,
        command_id: str,
        calendar: ServiceCalendar,
        reason: str = "",
        override_reason: str = "",
    ) -> None:
        """The lead's decision once every opinion is in."""
        if self.has_processed(command_id):
            return
        view = self.view()
        decided = check_decision(
            view, stage, outcome, reason=reason, override_reason=override_reason, actor=actor, at=at
        )
        s = view.stage(Stage(stage))
        opened = date.fromisoformat(s.opened_day)
        decided_day = to_local(at).date()
        elapsed = calendar.count_days(
            opened + timedelta(days=1), decided_day + timedelta(days=1), WORKING, allow_provisional=True
        )
        self.trigger_event(
            self.StageDecided,
            stage=s.stage.value,
            outcome=decided.value,
            reason=reason.strip(),
            override_reason=override_reason.strip(),
            overridden=[t.department for t in s.disagreements] if decided is StageOutcome.APPROVED else [],
            conditions=[{"department": d, "conditions": c} for d, c in s.conditions],
            used_days=max(0, elapsed - s.suspended_days),
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
        )

    def warn_reform_target(self, *, actor: Actor, at: datetime, command_id: str) -> None:
        """The project nears the reform target (预警)."""
        if self.has_processed(command_id):
            return
        s = check_reform_timer(self.view(), overdue=False, actor=actor, at=at)
        self.trigger_event(
            self.ReformTargetWarned,
            stage=s.stage.value,
            target_days=self.reform.target_days,
            warning_days=self.reform.warning_days,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
        )

    def mark_reform_overdue(self, *, actor: Actor, at: datetime, command_id: str) -> None:
        """The project passed the reform target (超时)."""
        if self.has_processed(command_id):
            return
        s = check_reform_timer(self.view(), overdue=True, actor=actor, at=at)
        self.trigger_event(
            self.ReformTargetOverdue,
            stage=s.stage.value,
            target_days=self.reform.target_days,
            actor=actor.to_dict(),
            at=at,
            command_id=command_id,
        )

    # ---- queries -----------------------------------------------------------------------------

    def view(self) -> ProjectView:
        return ProjectView(
            id=str(self.id),
            code=self.code,
            name=self.name,
            owner=self.owner,
            investment_fen=self.investment_fen,
            level=self.level,
            region=self.region,
            status=self.status,
            registered_at=self.registered_at,
            stages=tuple(self.stages),
            reform=self.reform,
            version=self.version,
            demo=self.demo,
            batch=self.batch,
        )

    # ---- helpers -----------------------------------------------------------------------------

    def _issue_notice_if_complete(self, stage: Stage, at: datetime, command_id: str) -> None:
        """一次性告知 across departments: once every department has answered, the correction requests
        of all of them go out as ONE notice, and the stage (with every clock in it) stops."""
        s = self.stages[stage.position]
        if any(t.status is TaskStatus.REVIEWING for t in s.tasks):
            return
        asking = [t for t in s.tasks if t.status is TaskStatus.CORRECTION_REQUESTED]
        if not asking:
            return
        self.trigger_event(
            self.CorrectionNoticeIssued,
            stage=stage.value,
            lead_department=s.lead_department,
            items=[{"department": t.department, "materials": list(t.correction)} for t in asking],
            actor=SYSTEM_ACTOR.to_dict(),
            at=at,
            command_id=f"{command_id}/notice",
        )

    def _set_stage(self, stage: Stage, **changes: Any) -> None:
        self.stages[stage.position] = replace(self.stages[stage.position], **changes)

    def _set_task(self, stage: Stage, department: str, **changes: Any) -> None:
        s = self.stages[stage.position]
        self._set_stage(stage, tasks=tuple(replace(t, **changes) if t.department == department else t for t in s.tasks))


def _add(calendar: ServiceCalendar, start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (provisional years allowed, as for cases)."""
    return calendar.add_days(start, days, WORKING, allow_provisional=True)[0]
