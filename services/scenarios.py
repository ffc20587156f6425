"""Demonstration scenarios: load a month of legacy cases, or drive a share of it through real workflows.

A drive writes demonstration cases (marked ``demo``): they stay out of the bulletin unless asked
for, and a drive refuses a data directory that holds cases it did not create (live cases of real
clerks, or imports other than a scenario's), so a demonstration never lands in a real month.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.cases.scenario import MATTER_WEIGHTS, SCENARIOS, Scenario, generate_csv, split
from domain.cases.steps import Accept, Decide, Deliver, Notice, Supplement
from domain.catalogue import Matter
from domain.errors import InvalidValue
from domain.staff import Actor, Post, service_centre
from projections.cases import month_of
from projections.queries import foreign_cases
from services.errors import ScenarioRefused

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
                       "corrections": c.corrections},
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
        before = reports.totals(month, include_demo=True)
        counts = await _drive(self.boot, scenario, scale, concurrency=concurrency, on_plan=on_plan, on_case=on_case)
        after = reports.totals(month, include_demo=True)
        if _this_month() != month:
            raise ScenarioRefused("驱动期间跨月，通报数字无法核对，请重新驱动")
        return DriveReport(month, counts, (after[0] - before[0], after[1] - before[1]))

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


async def _drive(
    boot: Bootstrap,
    scenario: Scenario,
    scale: float,
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
    if on_plan:
        on_plan(len(plan))
    counts = DriveCounts()
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int, m: Matter, completes: bool, correction: bool) -> None:
        region, dept = m.authority.region, m.authority.department
        front = first(service_centre(region), Post.FRONT_DESK, region)
        materials = list(m.materials[:-1] if correction else m.materials)
        async with sem:
            done = await cases.submit(
                matter_code=m.code, applicant=f"模拟申请人{i:05d}", materials=materials, actor=front, demo=True,
                read_your_writes=False,
            )  # fmt: skip
            no = done.case.case_no
            counts.submitted += 1
            if correction:
                await cases.step(no, Notice(actor=front, materials=[m.materials[-1]]), read_your_writes=False)
                await cases.step(no, Supplement(actor=front, materials=[m.materials[-1]]), read_your_writes=False)
                counts.corrections += 1
            await cases.step(no, Accept(actor=front), read_your_writes=False)
            counts.accepted += 1
            if completes:
                reviewer = first(dept, Post.REVIEWER, region)
                outcome = "grant" if rng.random() < 0.97 else "deny"
                reason = "" if outcome == "grant" else "不符合许可条件"
                await cases.step(no, Decide(actor=reviewer, outcome=outcome, reason=reason), read_your_writes=False)
                output = first(service_centre(region), Post.OUTPUT_WINDOW, region)
                await cases.step(no, Deliver(actor=output), read_your_writes=False)
                counts.completed += 1
            else:
                counts.open += 1
        if on_case:
            on_case()

    await asyncio.gather(*(one(i, *p) for i, p in enumerate(plan)))
    return counts
