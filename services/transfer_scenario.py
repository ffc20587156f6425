"""`oneseal scenario load maerkang-2020`: the Maerkang transfer programme driven through the real transfer workflows.

The steps, each idempotent (a rerun finds what is done and does only what is left):

1. load the shipped plan (domain/data/maerkang-2020.yaml: 177 items of 20 departments, 2 batches)
   through ``boot.transfer`` (re-loading the same plan is a no-op);
2. record the three milestones (hall ready, processes re-engineered, bureau seal announced) with
   their document numbers, in May 2020;
3. sign every handover checklist entry of every item by BOTH parties: the origin department by one
   of its own reviewers who does not move with the item, the bureau by one of its reviewers (by
   turns); each party signs for itself only;
4. let the cut-overs happen: each batch's cut-over moment (2020-06-01, 2020-07-01) is past, so the
   item workflows cut over as soon as their checklist and gates are complete; wait for that;
5. import the items' cases before and during the trial (domain/transfer/maerkang.py) through the
   ordinary historical import, as batch ``maerkang-2020`` (a re-import adds nothing);
6. take the end-of-trial decision per item on 2020-10-30 (``maerkang.outcome_of``: 169 go live,
   6 extended to 2020-12-31, 2 rolled back) and wait until every item shows its outcome.

Scenario driving calls services only (``boot.transfer.*``), never workflows directly.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from domain.calendar import SHANGHAI
from domain.errors import DomainError
from domain.staff import Actor, Post
from domain.transfer import ChecklistEntry, Decision, ItemStatus, LicenceItem, Milestone, Party, TransferProgramme
from domain.transfer import maerkang as mk
from domain.transfer.item import item_id
from domain.transfer.plan import Plan, read_plan_file, shipped_plan
from domain.transfer.programme import programme_id
from services.errors import ScenarioRefused

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap
    from services.imports import ImportReport

TRANSFER_SCENARIOS = (mk.NAME,)
MILESTONES = (
    (Milestone.HALL_READY, "马审批〔2020〕12号", date(2020, 5, 20), "政务服务中心二楼审批大厅改造完成，设投资建设、市场准入、社会事务三个综合窗口"),
    (Milestone.PROCESSES_REENGINEERED, "马审批〔2020〕15号", date(2020, 5, 26), "177项事项办事指南、流程图和审查细则修订完成"),
    (Milestone.SEAL_ANNOUNCED, "马府公告〔2020〕3号", date(2020, 5, 29), "马尔康市行政审批局行政审批专用章自2020年6月1日起启用"),
)  # fmt: skip
PLAN_DAY = date(2020, 5, 8)  # 马府发〔2020〕8号: the plan approved by the city government
APPROVED_BY = "马尔康市人民政府"
DONE_STATUSES = frozenset({ItemStatus.LIVE, ItemStatus.TRIAL_EXTENDED, ItemStatus.ROLLED_BACK, ItemStatus.REMOVED})


class TransferDriving(Protocol):
    """What the scenario needs of ``boot.transfer`` (engineer A's TransferService, services/transfer.py)."""

    async def plan(self, path: Path, *, actor: Actor | None = None, at: datetime | None = None) -> Any: ...

    async def milestone(
        self, name: str, *, actor: Actor, document_no: str, note: str = "", programme: str | None = None,
        at: datetime | None = None, read_your_writes: bool = True,
    ) -> Any: ...  # fmt: skip

    async def sign(
        self, item: str, entry: str, *, actor: Actor, party: str = "", note: str = "", document_no: str = "",
        programme: str | None = None, at: datetime | None = None, read_your_writes: bool = True,
    ) -> Any: ...  # fmt: skip

    async def decide(
        self, item: str, decision: str, *, actor: Actor, reason: str = "", until: date | None = None,
        approved_by: str = "", programme: str | None = None, at: datetime | None = None,
        read_your_writes: bool = True,
    ) -> Any: ...  # fmt: skip


@dataclass
class TransferScenarioReport:
    name: str
    items: int = 0
    departments: int = 0
    batches: dict[int, int] = field(default_factory=dict)  # batch -> items
    milestones_recorded: int = 0
    signed: int = 0  # sign-offs made by this run (a rerun makes none)
    decided: int = 0
    cases: ImportReport | None = None
    cases_before: int = 0
    cases_during: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # ItemStatus value -> items
    rolled_back: list[str] = field(default_factory=list)
    extended: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds

    def to_dict(self) -> dict[str, Any]:
        o = self.cases.outcome if self.cases else None
        return {
            "scenario": self.name,
            "items": self.items,
            "departments": self.departments,
            "batches": {str(k): v for k, v in sorted(self.batches.items())},
            "milestones_recorded": self.milestones_recorded,
            "signed": self.signed,
            "decided": self.decided,
            "cases": {"before": self.cases_before, "during": self.cases_during,
                      "added": o.added if o else 0, "already_present": o.already_present if o else 0},
            "statuses": dict(sorted(self.statuses.items())),
            "rolled_back": self.rolled_back,
            "extended": self.extended,
            "seconds": round(self.seconds, 1),
            "timings": self.timings,
        }  # fmt: skip


def beijing(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, dtime(hour), tzinfo=SHANGHAI)


def _transfer(boot: Bootstrap) -> TransferDriving:
    return boot.transfer  # type: ignore[attr-defined,no-any-return]


class TransferScenarioService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    def plan(self, name: str = mk.NAME) -> Plan:
        if name not in TRANSFER_SCENARIOS:
            raise ScenarioRefused(f"未知的划转场景「{name}」，可选：{'、'.join(TRANSFER_SCENARIOS)}")
        store = self.boot.store
        return read_plan_file(shipped_plan(name), catalogue=store.catalogue, staff=store.staff)

    # ---- reading state (the store, never a workflow) -------------------------------------------

    def programme(self, code: str) -> TransferProgramme | None:
        repo = self.boot.store.repository
        pid = programme_id(code)
        return repo.get(pid) if pid in repo else None  # type: ignore[no-any-return]

    def items(self, plan: Plan) -> dict[str, LicenceItem]:
        repo = self.boot.store.repository
        out: dict[str, LicenceItem] = {}
        for i in plan.items:
            iid = item_id(plan.code, i.code)
            if iid in repo:
                out[i.code] = repo.get(iid)
        return out

    # ---- people ----------------------------------------------------------------------------------

    def signers(self, plan: Plan) -> tuple[dict[str, Actor], list[Actor]]:
        """Origin department -> its signer (a reviewer who moves with no item), and the bureau's reviewers."""
        staff = self.boot.store.staff.all()
        movers = {p.user_id for i in plan.items for p in i.personnel}
        origin: dict[str, Actor] = {}
        for department in sorted({i.department for i in plan.items}):
            own = [a for a in staff if a.department == department and a.post == Post.REVIEWER.value]
            stay = [a for a in own if a.user_id not in movers]
            if not (stay or own):
                raise ScenarioRefused(f"人员名册中没有「{department}」的审查审批岗人员，无法签认交接")
            origin[department] = (stay or own)[0]
        bureau = [a for a in staff if a.department == plan.bureau and a.post == Post.REVIEWER.value]
        if not bureau:
            raise ScenarioRefused(f"人员名册中没有「{plan.bureau}」的审查审批岗人员，无法签认交接")
        return origin, bureau

    # ---- the drive -------------------------------------------------------------------------------

    async def load(
        self,
        name: str = mk.NAME,
        *,
        scale: float = 1.0,
        concurrency: int = 32,
        wait: float = 600.0,
        on_step: Callable[[str], None] | None = None,
    ) -> TransferScenarioReport:
        """Drive the whole programme (idempotent); ``scale`` thins the imported case volumes (tests)."""
        started = time.perf_counter()
        mark: list[tuple[float, str]] = [(time.perf_counter(), "")]

        def step(label: str) -> None:  # the time each step took, for the summary and the test's budget
            now = time.perf_counter()
            since, previous = mark[0]
            if previous:
                report.timings[previous] = round(now - since, 1)
            mark[0] = (now, label)
            if on_step is not None and label:
                on_step(label)

        plan = self.plan(name)
        transfer = _transfer(self.boot)
        origin, bureau = self.signers(plan)
        admin = bureau[0]  # the bureau records milestones and decisions (its director's office)
        report = TransferScenarioReport(name, items=len(plan.items), departments=len(plan.split()))
        report.batches = dict(Counter(i.batch for i in plan.items))

        step("载入划转方案")
        await transfer.plan(shipped_plan(name), actor=admin, at=beijing(PLAN_DAY))
        await self._until(lambda: self.programme(plan.code) is not None and len(self.items(plan)) == len(plan.items),
                          wait, "划转方案及其事项未在期限内建立")  # fmt: skip

        # The cases first: the weekly trial snapshots read them from the read models once items cut over.
        step("导入划转前后的办件")
        cases = mk.generate_cases(plan, self.boot.store.catalogue, self.boot.store.calendar, scale=scale)
        report.cases_during = sum(1 for c in cases if c.during)
        report.cases_before = len(cases) - report.cases_during
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.csv"
            path.write_text(mk.to_csv(cases), encoding="utf-8")
            report.cases = await self.boot.imports.import_file(path, batch=name, adopt=False)
        self.boot.projections.ensure_fresh()

        step("记录里程碑")
        programme = self.programme(plan.code)
        assert programme is not None
        for milestone, document_no, day, note in MILESTONES:
            if milestone in programme.milestones:
                continue
            await transfer.milestone(milestone.value, actor=admin, document_no=document_no, note=note,
                                     programme=plan.code, at=beijing(day), read_your_writes=False)  # fmt: skip
            report.milestones_recorded += 1

        step("双方签认交接清单")
        cut = {b.no: b.cut_over.astimezone(SHANGHAI).date() for b in plan.batches}
        await self._until(lambda: all(i.status not in (ItemStatus.CATALOGUED, ItemStatus.SCHEDULED)
                                      for i in self.items(plan).values()), wait, "事项未在期限内进入交接")  # fmt: skip
        jobs: list[Callable[[], Awaitable[Any]]] = []
        for n, (code, item) in enumerate(sorted(self.items(plan).items())):
            if item.status is not ItemStatus.HANDOVER:
                continue
            day = cut[item.batch or 1] - timedelta(days=7)  # the handover week before the batch's cut-over
            signers = ((Party.ORIGIN, origin[item.origin]), (Party.BUREAU, bureau[n % len(bureau)]))
            todo = [(e, p, a) for e in ChecklistEntry for p, a in signers if item.checklist[e].get(p) is None]
            jobs.append(self._sign_job(transfer, plan.code, code, todo, beijing(day)))
        report.signed = sum(await _bounded(jobs, concurrency))

        step("切换至审批局（试运行）")
        await self._until(lambda: all(i.status.at_bureau or i.status in DONE_STATUSES
                                      for i in self.items(plan).values()), wait, "事项未在期限内切换至审批局")  # fmt: skip

        step("试运行结束：逐项作出结论")
        jobs = []
        for code, item in sorted(self.items(plan).items()):
            if item.status is not ItemStatus.IN_TRIAL:
                continue  # decided by an earlier run
            decision, reason = mk.outcome_of(code)
            jobs.append(self._decide_job(transfer, plan.code, code, decision, reason, admin))
        report.decided = sum(await _bounded(jobs, concurrency))
        await self._until(lambda: all(i.status in DONE_STATUSES and not i.pending_undo
                                      for i in self.items(plan).values()), wait, "试运行结论未在期限内生效")  # fmt: skip

        step("")
        items = self.items(plan)
        report.statuses = dict(Counter(i.status.value for i in items.values()))
        report.rolled_back = sorted(c for c, i in items.items() if i.status is ItemStatus.ROLLED_BACK)
        report.extended = sorted(c for c, i in items.items() if i.status is ItemStatus.TRIAL_EXTENDED)
        report.seconds = time.perf_counter() - started
        return report

    def _sign_job(
        self,
        transfer: TransferDriving,
        programme: str,
        code: str,
        todo: list[tuple[ChecklistEntry, Party, Actor]],
        at: datetime,
    ) -> Callable[[], Awaitable[int]]:
        """One item's sign-offs, one at a time (Temporal takes at most 10 Updates in flight per workflow)."""

        async def job() -> int:
            done = 0
            for entry, party, actor in todo:
                try:
                    await transfer.sign(code, entry.value, actor=actor, party=party.value, note="已核对移交",
                                        programme=programme, at=at, read_your_writes=False)  # fmt: skip
                except DomainError as e:
                    if e.code != "TRANSFER_ALREADY_SIGNED":  # another run signed it meanwhile: done is done
                        raise
                    continue
                done += 1
            return done

        return job

    def _decide_job(
        self, transfer: TransferDriving, programme: str, code: str, decision: Decision, reason: str, actor: Actor
    ) -> Callable[[], Awaitable[int]]:
        async def job() -> int:
            await transfer.decide(
                code,
                decision.value,
                actor=actor,
                reason=reason,
                until=mk.EXTENDED_TO if decision is Decision.EXTEND else None,
                approved_by=APPROVED_BY,
                programme=programme,
                at=beijing(mk.DECISION_DAY),
                read_your_writes=False,
            )
            return 1

        return job

    async def _until(self, ready: Callable[[], bool], wait: float, message: str) -> None:
        """Poll the store until ``ready`` (workflows act asynchronously) or refuse with ``message``."""
        deadline = time.monotonic() + wait
        delay = 0.05
        while not ready():
            if time.monotonic() > deadline:
                raise ScenarioRefused(f"{message}（已等待 {wait:.0f} 秒；Worker 是否在运行？）")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)


async def _bounded(jobs: Iterable[Callable[[], Awaitable[int]]], concurrency: int) -> list[int]:
    sem = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[int]]) -> int:
        async with sem:
            return await job()

    return list(await asyncio.gather(*(one(j) for j in jobs)))
