"""Parallel approval (并联审批) use cases: register a project, take its stage steps, show and list projects,
load the April 2020 projects, adopt open ones, and drive demonstration projects through real workflows.

Staff steps go to the project's workflow as Temporal Updates (named after the step, carrying the step's
typed request); the validator runs the domain's own checks on the workflow's view, so a refused step is
answered with the domain's code and Chinese message and nothing is written. Reads come from the store
(one project) or the ``projects`` read model (lists, worklists, the bulletin).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.calendar import to_local
from domain.errors import DomainError
from domain.parallel.commands import ProjectCommands, ProjectEntry, RecordOutcome
from domain.parallel.errors import ProjectAlreadyExists, ProjectClosed, ProjectNotFound
from domain.parallel.plan import StagePlan, standard_plan
from domain.parallel.scenario import SCENARIO, _Cast, drive, generate
from domain.parallel.statistics import month_of
from domain.parallel.steps import (
    AcceptStage,
    DecideStage,
    GiveOpinion,
    ProjectRequest,
    RegisterProject,
    SupplementStage,
)
from domain.parallel.values import (
    DIVISIONS,
    PREFECTURE_REGION,
    STAGES,
    Stage,
    check_level_and_region,
    parse_investment,
)
from domain.parallel.view import ProjectView, reform_days_used
from domain.staff import Actor, Post, service_centre
from projections.projects import (
    ProjectQuery,
    ProjectRow,
    foreign_projects,
    open_loaded_projects,
    search_projects,
    wait_for_project,
)
from projections.queries import Page, foreign_cases
from projections.runner import ReadModelTimeout
from services.cases import domain_error
from services.errors import CaseRegisterTimeout, ScenarioRefused, TemporalUnreachable
from services.registration import wait_registered
from services.updates import UPDATE_PATIENCE, execute_update
from workflows.parallel import ParallelApprovalWorkflow, ProjectProgress
from workflows.parallel_contracts import ProjectInput, ProjectStepResult, project_workflow_id

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

__all__ = [
    "ParallelService",
    "ProjectDetail",
    "ProjectDone",
    "ProjectDriveReport",
    "ProjectLoadReport",
    "ProjectQuery",
    "ProjectRow",
]


@dataclass(frozen=True)
class ProjectDone:
    """A step's answer: the project after it, and whether the lists already show it (else why not)."""

    project: ProjectView
    lists_lag: str | None = None


@dataclass(frozen=True)
class ProjectDetail:
    project: ProjectView
    timeline: list[ProjectEntry]
    workflow_id: str
    reform_days_used: int  # working days on the reform clock now (stages 1–3, pauses excluded)


@dataclass
class ProjectLoadReport:
    """What loading a scenario's projects did: recorded through the aggregate, open ones taken over."""

    added: int = 0
    already_present: int = 0
    adopted: list[str] = field(default_factory=list)
    adoption_pending: int = 0  # open projects not taken over (Temporal was not reachable)


@dataclass
class ProjectDriveReport:
    month: str
    driven: list[str]
    investment: Decimal  # exact sum of the driven projects' investment
    corrections: int
    bulletin_delta: tuple[int, Decimal]  # projects, investment: what the bulletin (demo included) moved by

    @property
    def matches(self) -> bool:
        return self.bulletin_delta == (len(self.driven), self.investment)

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "driver": {"projects": len(self.driven), "investment_yuan": f"{self.investment:.2f}",
                       "corrections": self.corrections, "codes": self.driven},
            "bulletin_delta": {"projects": self.bulletin_delta[0], "investment_yuan": f"{self.bulletin_delta[1]:.2f}"},
            "match": self.matches,
        }  # fmt: skip


class ParallelService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    @cached_property
    def commands(self) -> ProjectCommands:
        return ProjectCommands.over(self.boot.store)

    @property
    def settings(self) -> Any:
        return self.boot.settings

    # ---- commands -----------------------------------------------------------------------------

    def plan(self, region: str, at: datetime | None = None) -> tuple[StagePlan, ...]:
        """The standard four stages for a region, with whoever is competent for each matter now."""
        return standard_plan(region, self.boot.store.catalogue, at or datetime.now(UTC))

    async def submit(
        self,
        *,
        code: str,
        name: str,
        owner: str,
        investment: str | int | Decimal,
        level: str,
        region: str,
        actor: Actor,
        reform_days: int = 120,
        plan: Sequence[StagePlan] | None = None,
        demo: bool = False,
        wait: float = 30.0,
        read_your_writes: bool = True,
    ) -> ProjectDone:
        """项目登记: every rule is checked first (nothing is started when one fails), then the workflow starts."""
        now = datetime.now(UTC)
        amount = parse_investment(investment)
        req = RegisterProject(
            code=code, name=name, owner=owner, investment=f"{amount:.2f}", level=level, region=region,
            plan=tuple(plan) if plan is not None else (), actor=self.boot.directory.actor(actor.user_id),
            reform_days=reform_days, demo=demo,
        )  # fmt: skip
        if plan is None:
            check_level_and_region(req.level, req.region)  # name a bad region before planning for it
            req = replace(req, plan=self.plan(req.region, now))
        req.check(now)  # a dry run of the domain's own rules: nothing saved
        if self.commands.exists(req.code):
            raise ProjectAlreadyExists(f"项目代码「{req.code}」已登记", project_code=req.code)
        client = await self.boot.temporal()
        try:
            handle = await client.start_workflow(
                ParallelApprovalWorkflow.run,
                ProjectInput(code=req.code, registration=req),
                id=project_workflow_id(req.code),
                task_queue=self.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            raise ProjectAlreadyExists(f"项目代码「{req.code}」已登记", project_code=req.code) from None
        except RPCError as e:
            raise self._rpc(e, req.code) from None
        view = await self._wait_registered(handle, req.code, wait)
        return await self._visible(view, None, read_your_writes)

    async def step(self, code: str, request: ProjectRequest, *, read_your_writes: bool = True) -> ProjectDone:
        """One staff step as a Temporal Update; a refusal comes back as the domain's typed error."""
        client = await self.boot.temporal()
        handle = client.get_workflow_handle(project_workflow_id(code))
        try:
            result = await execute_update(
                handle, request.step.value, request, result_type=ProjectStepResult, patience=UPDATE_PATIENCE
            )
        except WorkflowUpdateFailedError as e:
            raise domain_error(e) or DomainError(f"办理失败：{e}") from None
        except RPCError as e:
            if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION) or "completed" in str(e):
                raise self._no_workflow(code) from None
            raise self._rpc(e, code) from None
        return await self._visible(result.view, result.notification_id, read_your_writes)

    async def open_stage(
        self, code: str, *, actor: Actor, stage: str | None = None, materials: Sequence[str] = (),
        read_your_writes: bool = True,
    ) -> ProjectDone:  # fmt: skip
        """阶段受理 (一窗受理, 一张表单): every participating department starts reviewing at once."""
        stage = stage or self._next_stage(code)
        req = AcceptStage(actor=actor, stage=stage, materials=tuple(materials))
        return await self.step(code, req, read_your_writes=read_your_writes)

    async def opinion(
        self, code: str, *, actor: Actor, opinion: str, stage: str | None = None, department: str | None = None,
        conditions: str = "", reason: str = "", missing: Sequence[str] = (), read_your_writes: bool = True,
    ) -> ProjectDone:  # fmt: skip
        """A department's opinion (by default the acting reviewer's department, in the open stage)."""
        req = GiveOpinion(
            actor=actor, stage=stage or self._open_stage(code), department=department or actor.department,
            opinion=opinion, conditions=conditions, reason=reason, missing=tuple(missing),
        )  # fmt: skip
        return await self.step(code, req, read_your_writes=read_your_writes)

    async def supplement(
        self, code: str, *, actor: Actor, stage: str | None = None, materials: Sequence[str] | None = None,
        read_your_writes: bool = True,
    ) -> ProjectDone:  # fmt: skip
        """The applicant's supplement to the merged notice (by default: everything the notice lists)."""
        stage = stage or self._open_stage(code)
        if materials is None:
            view = self.commands.get(code)
            materials = [m for item in view.stage(Stage.parse(stage)).notice for m in item.materials]
        req = SupplementStage(actor=actor, stage=stage, materials=tuple(materials))
        return await self.step(code, req, read_your_writes=read_your_writes)

    async def decide(
        self, code: str, *, actor: Actor, outcome: str, stage: str | None = None, reason: str = "",
        override_reason: str = "", read_your_writes: bool = True,
    ) -> ProjectDone:  # fmt: skip
        """The lead's decision once every opinion is in."""
        req = DecideStage(
            actor=actor, stage=stage or self._open_stage(code), outcome=outcome, reason=reason,
            override_reason=override_reason,
        )  # fmt: skip
        return await self.step(code, req, read_your_writes=read_your_writes)

    async def adopt(self, codes: Sequence[str]) -> list[str]:
        """Start a workflow for each open project that was loaded without one (a scenario's), from its state."""
        client = await self.boot.temporal()
        started = []
        for code in codes:
            try:
                await client.start_workflow(
                    ParallelApprovalWorkflow.run,
                    ProjectInput(code=code, adopt=True),
                    id=project_workflow_id(code),
                    task_queue=self.settings.task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            except RPCError as e:
                raise self._rpc(e, code) from None
            started.append(code)
        return started

    async def adopt_loaded(self) -> list[str]:
        """Take over every open project a scenario loaded (``oneseal parallel adopt``)."""
        self.boot.require_data()
        self.boot.projections.ensure_fresh("projects")
        return await self.adopt(open_loaded_projects(self.boot.read_models, SCENARIO))

    # ---- reads --------------------------------------------------------------------------------

    def get(self, code: str) -> ProjectView:
        self.boot.require_data()
        return self.commands.get(code)

    def show(self, code: str) -> ProjectDetail:
        self.boot.require_data()
        view = self.commands.get(code)
        used = reform_days_used(view, datetime.now(UTC), self.boot.store.calendar)
        return ProjectDetail(view, self.commands.history(code), project_workflow_id(code), used)

    def history(self, code: str) -> list[ProjectEntry]:
        self.boot.require_data()
        return self.commands.history(code)

    def search(self, query: ProjectQuery) -> Page[ProjectRow]:
        self.boot.require_data()
        if query.region:
            self.boot.directory.check_region(query.region)
        self.boot.projections.ensure_fresh("projects")
        return search_projects(self.boot.read_models, query)

    async def progress(self, code: str) -> ProjectProgress:
        """What the running workflow holds: its branches and the moments it sleeps on (for operators)."""
        client = await self.boot.temporal()
        try:
            return await client.get_workflow_handle(project_workflow_id(code)).query(ParallelApprovalWorkflow.status)
        except RPCError as e:
            raise self._rpc(e, code) from None

    # ---- the April 2020 projects and demonstration drives ------------------------------------

    async def load_scenario(self, name: str, *, adopt: bool = True) -> ProjectLoadReport | None:
        """Record the scenario's projects through the Project aggregate's own commands (so the bulletin counts
        them from real events, by the one definition); open ones are then taken over by their workflows."""
        if name != SCENARIO:
            return None
        store = self.boot.store
        cast = _Cast(store.staff)
        projects = [
            drive(r, store.catalogue, store.staff, store.calendar, cast=cast)
            for r in generate(store.catalogue, store.calendar)
        ]
        out: RecordOutcome = self.commands.record(projects)
        report = ProjectLoadReport(out.added, out.already_present)
        open_codes = [p.code for p in projects if not p.view().status.is_closed]
        if adopt and open_codes:
            try:
                report.adopted = await self.adopt(open_codes)
            except TemporalUnreachable:
                report.adoption_pending = len(open_codes)
        return report

    async def drive_demo(
        self,
        count: int,
        *,
        concurrency: int = 4,
        corrections_every: int = 3,
        on_project: Callable[[], None] | None = None,
    ) -> ProjectDriveReport:
        """Take ``count`` demonstration projects through all four stages with simulated staff on the real
        workflows (every ``corrections_every``-th with two departments asking for materials in stage 1),
        then check that this month's bulletin (demo included) moved by exactly those projects."""
        if not 1 <= count <= 200:
            raise ScenarioRefused(f"项目数须在 1 到 200 之间，而不是 {count}", field="count")
        self._refuse_foreign_data()
        _ = self.boot.store
        month = _this_month()
        before = self._bulletin_line(month)
        regions = [PREFECTURE_REGION, *list(DIVISIONS)[1:]]
        plan: list[tuple[str, str, Decimal]] = []
        serial = 900001
        year = to_local(datetime.now(UTC)).year
        for i in range(count):
            region = regions[i % len(regions)]
            while True:
                code = f"{year}-{DIVISIONS[region]}-47-01-{serial:06d}"
                serial += 1
                if not self.commands.exists(code):
                    break
            plan.append((code, region, Decimal(10_000_000 + 1_234_567 * (i + 1)) + Decimal("0.50")))
        sem = asyncio.Semaphore(concurrency)
        corrections = 0

        async def one(i: int, code: str, region: str, amount: Decimal) -> None:
            nonlocal corrections
            async with sem:
                asked = await self._drive_one(code, region, amount, correction=i % corrections_every == 0)
                corrections += asked
            if on_project:
                on_project()

        await asyncio.gather(*(one(i, *p) for i, p in enumerate(plan)))
        after = self._bulletin_line(month)
        if _this_month() != month:
            raise ScenarioRefused("驱动期间跨月，通报数字无法核对，请重新驱动")
        return ProjectDriveReport(
            month,
            [p[0] for p in plan],
            sum((p[2] for p in plan), Decimal("0.00")),
            corrections,
            (after[0] - before[0], after[1] - before[1]),
        )

    async def _drive_one(self, code: str, region: str, amount: Decimal, *, correction: bool) -> int:
        staff = self.boot.store.staff
        cast = _Cast(staff)
        front = cast(service_centre(region), Post.FRONT_DESK, region)
        level = "prefecture" if region == PREFECTURE_REGION else "county"
        await self.submit(
            code=code, name=f"演示并联审批项目{code[-6:]}", owner=f"{region}演示建设单位", investment=amount,
            level=level, region=region, actor=front, demo=True, read_your_writes=False,
        )  # fmt: skip
        asked = 0
        for stage in STAGES:
            view = (await self.open_stage(code, actor=front, stage=stage.value, read_your_writes=False)).project
            s = view.stage(stage)
            askers = [t.department for t in s.tasks][:2] if correction and stage is STAGES[0] else []
            for t in s.tasks:
                reviewer = cast(t.department, Post.REVIEWER, region)
                if t.department in askers:
                    missing = [f"{t.department}要求补充的说明材料"]
                    await self.opinion(code, actor=reviewer, opinion="needs_correction", stage=stage.value,
                                       missing=missing, read_your_writes=False)  # fmt: skip
                else:
                    await self.opinion(code, actor=reviewer, opinion="agree", stage=stage.value, read_your_writes=False)
            if askers:
                asked += 1
                await self.supplement(code, actor=front, stage=stage.value, read_your_writes=False)
                for d in askers:
                    reviewer = cast(d, Post.REVIEWER, region)
                    await self.opinion(code, actor=reviewer, opinion="agree", stage=stage.value, read_your_writes=False)
            lead = cast(s.lead_department, Post.REVIEWER, region)
            await self.decide(code, actor=lead, outcome="approved", stage=stage.value, read_your_writes=False)
        return asked

    def _bulletin_line(self, month: str) -> tuple[int, Decimal]:
        data = self.boot.reports.bulletin(month, include_demo=True)["parallel_approval"]["prefecture_wide"]
        return int(data["projects"]), Decimal(data["investment_yuan"])

    def _refuse_foreign_data(self) -> None:
        """A demonstration runs only in a data directory of demonstrations and scenarios."""
        try:
            self.boot.require_data()
        except DomainError:
            return  # an empty data directory: nothing of anyone else's to protect
        from domain.cases.scenario import SCENARIOS

        for name in ("cases", "projects"):
            self.boot.projections.ensure_fresh(name)
        engine = self.boot.read_models
        n = foreign_cases(engine, tuple(SCENARIOS)) + foreign_projects(engine, (SCENARIO,))
        if n:
            raise ScenarioRefused(
                f"数据目录 {self.settings.data_dir} 中有 {n} 件不是演示场景生成的办件或项目：演示驱动只在演示用的数据目录中"
                "运行（用 ONESEAL_DATA_DIR 指定一个新的数据目录后再运行 oneseal up 和本命令）",
                records=n,
            )

    # ---- helpers ------------------------------------------------------------------------------

    def _next_stage(self, code: str) -> str:
        """The stage to accept next: the first one not yet decided (the rules refuse it if out of order)."""
        view = self.commands.get(code)
        current = view.current_stage
        return (current or view.stages[-1]).stage.value

    def _open_stage(self, code: str) -> str:
        view = self.commands.get(code)
        current = view.current_stage
        if current is None:
            raise ProjectClosed(f"项目已{view.status.label}，不能再办理", status=view.status.value)
        return current.stage.value

    async def _wait_registered(self, handle: WorkflowHandle[Any, Any], code: str, wait: float) -> ProjectView:
        """The project once its workflow has registered it (the store holds it: a project is only ever
        registered by its workflow, and the code was checked free before the start), or the domain's refusal
        if the workflow failed instead (services/registration.py)."""
        return await wait_registered(
            handle,
            lambda: self.commands.get(code),
            absent=ProjectNotFound,
            wait=wait,
            refused=lambda e: domain_error(e) or DomainError("项目登记失败"),
            timed_out=lambda: CaseRegisterTimeout("项目登记超时，请检查工作进程（worker）是否运行"),
            unreachable=lambda e: self._rpc(e, handle.id),
        )

    async def _visible(self, view: ProjectView, notification_id: int | None, wait: bool) -> ProjectDone:
        if not wait:
            return ProjectDone(view)
        try:
            wait_for_project(
                self.boot.read_models, notification_id, view.code, view.version,
                float(self.settings.read_your_writes_timeout),
            )  # fmt: skip
        except ReadModelTimeout as e:
            return ProjectDone(view, str(e))
        return ProjectDone(view)

    def _no_workflow(self, code: str) -> DomainError:
        """No running workflow: say why, from the store (closed, loaded and not taken over, or unknown)."""
        try:
            view = self.commands.get(code)
        except ProjectNotFound as e:
            return e
        if view.status.is_closed:
            return ProjectClosed(f"项目已{view.status.label}，不能再办理", status=view.status.value)
        return DomainError(
            f"项目「{code}」的流程未在运行（场景载入的项目须先接管：oneseal parallel adopt），或工作进程未运行",
            code="PROJECT_WORKFLOW_MISSING",
        )

    def _rpc(self, e: RPCError, what: str) -> DomainError:
        if e.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED) or "connect" in str(e).lower():
            target = self.settings.temporal_target
            return TemporalUnreachable(
                f"无法连接 Temporal（{target}）：请先在另一个终端运行 make run（或 oneseal up）", target=target
            )
        return DomainError(f"Temporal 拒绝了请求（{what}）：{e.message}", code="TEMPORAL_ERROR")


def _this_month() -> str:
    return month_of(datetime.now(UTC))
