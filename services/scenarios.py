"""Demonstration scenarios: load a month of legacy cases, or drive a share of it through real workflows.

A drive writes demonstration cases (marked ``demo``): they stay out of the bulletin unless asked
for, and a drive refuses a data directory that holds cases it did not create (live cases of real
clerks, or imports other than a scenario's), so a demonstration never lands in a real month.

A drive is resumable: its case numbers derive from a run id kept in ``<data dir>/drives/`` until
the drive finishes, and each case is driven from the state the store holds. A drive cut short (the
dev server gone, the client killed) is finished by running the same command again: it takes up its
own cases where they stand and submits no new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.cases.model import CaseStatus, CaseView
from domain.cases.scenario import MATTER_WEIGHTS, SCENARIOS, Scenario, generate_csv, split
from domain.cases.steps import Accept, Decide, Deliver, Notice, StepRequest, Supplement
from domain.catalogue import Matter
from domain.errors import CaseAlreadyExists, CaseNotFound, DomainError, IllegalTransition, InvalidValue
from domain.staff import Actor, Post, service_centre
from projections.cases import month_of
from projections.queries import foreign_cases
from services.errors import (
    CaseRegisterTimeout,
    ReadModelUnreadable,
    ScenarioRefused,
    StoreUnreachable,
    TemporalUnreachable,
    infra_error,
)

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap
    from services.imports import ImportReport
    from services.transfer_scenario import TransferScenarioService


@dataclass
class DriveCounts:
    submitted: int = 0
    accepted: int = 0
    completed: int = 0
    open: int = 0
    corrections: int = 0
    resumed: int = 0  # cases of an earlier, interrupted run of this drive, taken up where they stood


@dataclass(frozen=True)
class DriveReport:
    month: str
    counts: DriveCounts
    bulletin_delta: tuple[int, int]  # accepted, completed: what the bulletin (demo cases included) moved by

    @property
    def matches(self) -> bool:
        return self.bulletin_delta == (self.counts.accepted, self.counts.completed)

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "month": self.month,
            "driver": {"submitted": c.submitted, "accepted": c.accepted, "completed": c.completed, "open": c.open,
                       "corrections": c.corrections, "resumed": c.resumed},
            "bulletin_delta": {"accepted": self.bulletin_delta[0], "completed": self.bulletin_delta[1]},
            "match": self.matches,
        }  # fmt: skip


class ScenarioService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    @property
    def transfer(self) -> TransferScenarioService:
        """Transfer-programme scenarios (``maerkang-2020``): driven through the transfer workflows."""
        from services.transfer_scenario import TransferScenarioService

        return TransferScenarioService(self.boot)

    def get(self, name: str) -> Scenario:
        if name not in SCENARIOS:
            raise InvalidValue(f"未知场景「{name}」，可选：{'、'.join(SCENARIOS)}", field="scenario")
        return SCENARIOS[name]

    async def load(self, name: str, *, adopt: bool = True) -> ImportReport:
        """Generate the scenario's month (deterministic from its seed) and import it as batch ``name``, with
        its parallel-approval projects (recorded through the Project aggregate)."""
        scenario = self.get(name)
        text = generate_csv(scenario, self.boot.store.catalogue, self.boot.store.calendar)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.csv"
            path.write_text(text, encoding="utf-8")
            report = await self.boot.imports.import_file(path, batch=name, adopt=adopt)
        report.projects = await self.boot.parallel.load_scenario(name, adopt=adopt)
        return report

    async def drive(
        self,
        name: str,
        scale: float,
        *,
        concurrency: int = 16,
        on_plan: Callable[[int], None] | None = None,
        on_case: Callable[[], None] | None = None,
    ) -> DriveReport:
        """Drive ``scale`` of the month through real CaseWorkflows with simulated staff, then check
        that the bulletin (demonstration cases included) moved by exactly what the driver did."""
        scenario = self.get(name)
        if not 0 < scale <= 1:
            raise InvalidValue(f"比例须在 (0, 1] 之间，而不是 {scale}", field="scale")
        self._refuse_foreign_data()
        _ = self.boot.store  # a drive writes: open (and on a fresh data directory create) the store first
        reports = self.boot.reports
        month = _this_month()
        journal = DriveJournal.open(self.boot.settings.data_dir, name, scale, month)
        if journal.resumed:
            try:
                await self._settle(self.boot.cases.register_wait)
            except Exception as e:
                raise infra_error(e) or e from None
        before = reports.totals(month, include_demo=True)
        try:
            counts = await _drive(
                self.boot, scenario, scale, journal, concurrency=concurrency, on_plan=on_plan, on_case=on_case
            )
        except Exception as e:
            infra = infra_error(e)
            if not isinstance(
                infra, TemporalUnreachable | StoreUnreachable | ReadModelUnreadable | CaseRegisterTimeout
            ):
                raise
            raise type(infra)(
                f"{infra.message}。驱动已中断：已办理的演示办件都在；恢复后重新运行同一命令，会接着办理本次驱动的办件（不新建办件）",
                code=infra.code,
                **infra.details,
            ) from None
        after = reports.totals(month, include_demo=True)
        journal.finish()
        if _this_month() != month:
            raise ScenarioRefused("驱动期间跨月，通报数字无法核对，请重新驱动")
        return DriveReport(month, counts, (after[0] - before[0], after[1] - before[1]))

    async def _settle(self, wait: float) -> None:
        """A rerun after a crash: a command of the interrupted run lost with its worker is retried after its
        10 s start-to-close timeout, and what it records must land before the bulletin's baseline is read, or
        the check would count it as this run's doing. Wait (at most ``wait`` seconds) until no running case
        workflow has an activity or a workflow task pending, then bring the read models up to the store."""
        client = await self.boot.temporal()
        loop = asyncio.get_running_loop()
        until = loop.time() + wait
        while loop.time() < until:
            busy = 0
            async for wf in client.list_workflows('WorkflowType="CaseWorkflow" AND ExecutionStatus="Running"'):
                raw = (await client.get_workflow_handle(wf.id, run_id=wf.run_id).describe()).raw_description
                busy += bool(raw.pending_activities) or raw.HasField("pending_workflow_task")
            if not busy:
                break
            await asyncio.sleep(0.5)
        self.boot.projections.ensure_fresh()

    def _refuse_foreign_data(self) -> None:
        try:
            self.boot.require_data()
        except Exception:
            return  # an empty data directory: nothing of anyone else's to protect
        self.boot.projections.ensure_fresh()
        n = foreign_cases(self.boot.read_models, tuple(SCENARIOS))
        if n:
            raise ScenarioRefused(
                f"数据目录 {self.boot.settings.data_dir} 中有 {n} 件不是演示场景生成的办件：演示驱动只在演示用的数据目录中"
                "运行（用 ONESEAL_DATA_DIR 指定一个新的数据目录后再运行 oneseal up 和本命令）",
                cases=n,
            )


def _this_month() -> str:
    return month_of(datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))


@dataclass(frozen=True)
class DriveJournal:
    """The run id of a drive that has not finished yet: its case numbers derive from it, so a rerun of
    the same drive (scenario and scale, in the same month) finds its own cases again."""

    path: Path
    run: str
    day: str  # the date in the case numbers
    resumed: bool = False  # an interrupted run's journal, taken up again

    @classmethod
    def open(cls, data_dir: Path, name: str, scale: float, month: str) -> DriveJournal:
        path = data_dir / "drives" / f"{name}-{scale:g}.json"
        with contextlib.suppress(OSError, ValueError, KeyError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["month"] == month:
                return cls(path, str(data["run"]), str(data["day"]), resumed=True)
        day = datetime.now(UTC).strftime("%Y%m%d")
        journal = cls(path, secrets.token_hex(4), day)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"run": journal.run, "day": day, "month": month}), encoding="utf-8")
        tmp.replace(path)
        return journal

    def case_no(self, region_code: str, i: int) -> str:
        digest = hashlib.sha256(f"{self.run}/{i}".encode()).hexdigest()[:6].upper()
        return f"{region_code}-{self.day}-{digest}"

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


async def _view(boot: Bootstrap, case_no: str, patience: float = 60.0) -> CaseView | None:
    """The case as the store holds it (None if it has none); a store that is restarting (PostgreSQL) is
    waited for, as the worker's activities wait for it, before the drive gives up."""
    from eventsourcing.persistence import PersistenceError

    delay, waited = 0.2, 0.0
    while True:
        try:
            return boot.store.get_case(case_no)
        except CaseNotFound:
            return None
        except PersistenceError:
            if waited >= patience:
                raise
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)


async def _drive(
    boot: Bootstrap,
    scenario: Scenario,
    scale: float,
    journal: DriveJournal,
    *,
    concurrency: int,
    on_plan: Callable[[int], None] | None,
    on_case: Callable[[], None] | None,
) -> DriveCounts:
    cases = boot.cases
    catalogue = boot.store.catalogue
    staff = boot.store.staff.all()
    rng = random.Random(scenario.seed)

    def first(department: str, post: Post, region: str) -> Actor:
        return next(a for a in staff if (a.department, a.post, a.region) == (department, post.value, region))

    plan: list[tuple[Matter, bool, bool]] = []  # matter, completes, needs correction
    acc = split(scenario.counties[0], scenario.county_weights)
    targets = [("阿坝州", *scenario.prefecture)] + [
        (r, acc[r], round(acc[r] * scenario.counties[1] / scenario.counties[0])) for r in acc
    ]
    for region, accepted, completed in targets:
        n = max(1, round(accepted * scale))
        done = min(n, round(completed * scale))
        matters = [m for m in catalogue.matters.values() if m.authority.region == region]
        weights = [MATTER_WEIGHTS.get(m.code.split("-", 1)[1], 1) for m in matters]
        for i in range(n):
            plan.append((rng.choices(matters, weights)[0], i < done, rng.random() < 0.1))
    rng.shuffle(plan)
    grants = [rng.random() < 0.97 for _ in plan]
    if on_plan:
        on_plan(len(plan))
    counts = DriveCounts()
    sem = asyncio.Semaphore(concurrency)

    def next_step(view: CaseView, m: Matter, completes: bool, correction: bool, grant: bool) -> StepRequest | None:
        """What the simulated staff do next with a case in this state (None: nothing more to do)."""
        region, dept = m.authority.region, m.authority.department
        front = first(service_centre(region), Post.FRONT_DESK, region)
        last = m.materials[-1]
        if view.status is CaseStatus.SUBMITTED:
            if correction and view.missing_materials:
                return Notice(actor=front, materials=[last])
            return Accept(actor=front)
        if view.status is CaseStatus.AWAITING_CORRECTION:
            return Supplement(actor=front, materials=[last])
        if view.status is CaseStatus.UNDER_REVIEW and completes:
            reviewer = first(dept, Post.REVIEWER, region)
            outcome, reason = ("grant", "") if grant else ("deny", "不符合许可条件")
            return Decide(actor=reviewer, outcome=outcome, reason=reason)
        if view.status is CaseStatus.DECIDED:
            return Deliver(actor=first(service_centre(region), Post.OUTPUT_WINDOW, region))
        return None

    async def one(i: int, m: Matter, completes: bool, correction: bool, grant: bool) -> None:
        region = m.authority.region
        front = first(service_centre(region), Post.FRONT_DESK, region)
        no = journal.case_no(m.code.split("-")[0], i)
        async with sem:
            if await _view(boot, no) is None:
                materials = list(m.materials[:-1] if correction else m.materials)
                try:
                    await cases.submit(
                        matter_code=m.code, applicant=f"模拟申请人{i:05d}", materials=materials, actor=front,
                        demo=True, case_no=no, read_your_writes=False,
                    )  # fmt: skip
                    counts.submitted += 1
                except CaseAlreadyExists:  # the interrupted run had started it: wait for its registration
                    await cases.wait_registered(no, cases.register_wait)
                    counts.resumed += 1
            else:
                counts.resumed += 1
            for _ in range(20):
                view = await _view(boot, no)
                assert view is not None, no
                request = next_step(view, m, completes, correction, grant)
                if request is None:
                    break
                try:
                    await cases.step(no, request, read_your_writes=False)
                except IllegalTransition:
                    await asyncio.sleep(0.2)  # a step of the interrupted run landed meanwhile: look again
                    continue
                if isinstance(request, Supplement):
                    counts.corrections += 1
                elif isinstance(request, Accept):
                    counts.accepted += 1
                elif isinstance(request, Deliver):
                    counts.completed += 1
            else:
                raise DomainError(f"演示办件「{no}」未能办到预定状态", code="SCENARIO_STUCK")
            if not completes:
                counts.open += 1
        if on_case:
            on_case()

    tasks = [asyncio.ensure_future(one(i, *p, grants[i])) for i, p in enumerate(plan)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:  # one case failed: stop the others, and collect every outcome (no stray tracebacks)
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return counts
