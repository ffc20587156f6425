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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.calendar import SHANGHAI
from domain.errors import DomainError
from domain.staff import Actor, Post, StaffDirectory
from domain.transfer import ChecklistEntry, Decision, ItemStatus, LicenceItem, Milestone, Party, TransferProgramme
from domain.transfer import maerkang as mk
from domain.transfer.item import item_id
from domain.transfer.plan import Plan, read_plan_file, shipped_plan
from domain.transfer.programme import programme_id
from domain.transfer.view import ALL_ENTRIES
from services.errors import ScenarioRefused

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap
    from services.imports import ImportReport
    from services.transfer import TransferService

TRANSFER_SCENARIOS = (mk.NAME,)
MILESTONES = (
    (Milestone.HALL_READY, "马审批〔2020〕12号", date(2020, 5, 20), "政务服务中心二楼审批大厅改造完成，设投资建设、市场准入、社会事务三个综合窗口"),
    (Milestone.PROCESSES_REENGINEERED, "马审批〔2020〕15号", date(2020, 5, 26), "177项事项办事指南、流程图和审查细则修订完成"),
    (Milestone.SEAL_ANNOUNCED, "马府公告〔2020〕3号", date(2020, 5, 29), "马尔康市行政审批局行政审批专用章自2020年6月1日起启用"),
)  # fmt: skip
PLAN_DAY = date(2020, 5, 8)  # 马府发〔2020〕8号: the plan approved by the city government
APPROVED_BY = "马尔康市人民政府"
BEFORE_HANDOVER = frozenset({ItemStatus.CATALOGUED, ItemStatus.SCHEDULED})
DONE_STATUSES = frozenset({ItemStatus.LIVE, ItemStatus.TRIAL_EXTENDED, ItemStatus.ROLLED_BACK, ItemStatus.REMOVED})


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


def _transfer(boot: Bootstrap) -> TransferService:
    return boot.transfer


class TransferScenarioService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    def plan(self, name: str = mk.NAME) -> Plan:
        if name not in TRANSFER_SCENARIOS:
            raise ScenarioRefused(f"未知的划转场景「{name}」，可选：{'、'.join(TRANSFER_SCENARIOS)}")
        store = self.boot.store
        return read_plan_file(shipped_plan(name), catalogue=store.catalogue, staff=self.seed_staff())

    def seed_staff(self) -> StaffDirectory:
        """The staff as before the transfer (staff.csv), not as the recorded moves have made it since: the plan
        names the people who move from their origin department, and the signers never move."""
        staff = self.boot.store.staff
        seed = getattr(staff, "seed", None)
        return seed if isinstance(seed, StaffDirectory) else staff

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
        staff = self.seed_staff().all()
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
        concurrency: int = 48,
        wait: float = 900.0,
        on_step: Callable[[str], None] | None = None,
    ) -> TransferScenarioReport:
        """Drive the whole programme (idempotent); ``scale`` thins the imported case volumes (tests)."""
        started = time.perf_counter()
        mark: list[tuple[float, str]] = [(started, "")]
        plan = self.plan(name)
        transfer = _transfer(self.boot)
        origin, bureau = self.signers(plan)
        admin = bureau[0]  # the bureau records milestones and decisions (its director's office)
        report = TransferScenarioReport(name, items=len(plan.items), departments=len(plan.split()))
        report.batches = dict(Counter(i.batch for i in plan.items))

        def step(label: str) -> None:  # the time each step took, for the summary and the test's budget
            now = time.perf_counter()
            since, previous = mark[0]
            if previous:
                report.timings[previous] = round(now - since, 1)
            mark[0] = (now, label)
            if on_step is not None and label:
                on_step(label)

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

        step("载入划转方案")
        loaded = self.programme(plan.code)
        if loaded is not None and loaded.plan_hash == plan.content_hash:
            await transfer.start(plan.code)  # loaded by an earlier run: only make sure its workflow runs
        else:
            await transfer.plan(shipped_plan(name), actor=admin, at=beijing(PLAN_DAY))

        step("记录里程碑")
        programme = self.programme(plan.code)
        assert programme is not None
        for milestone, document_no, day, note in MILESTONES:
            if milestone in programme.milestones:
                continue
            await transfer.milestone(milestone.value, actor=admin, document_no=document_no, note=note,
                                     programme=plan.code, at=beijing(day), read_your_writes=False)  # fmt: skip
            report.milestones_recorded += 1

        # Each item on its own as soon as its workflow has opened the handover: both parties sign every entry,
        # the workflow cuts over (its batch's moment is past), then the end-of-trial decision (dated 2020-10-30).
        step("交接签认、切换、试运行结论（逐项）")
        cut = {b.no: b.cut_over.astimezone(SHANGHAI).date() for b in plan.batches}
        deadline = time.monotonic() + wait
        order = sorted(plan.items, key=lambda i: i.batch)  # the order the programme starts them

        async def one(n: int, code: str) -> tuple[int, int]:
            iid = item_id(plan.code, code)
            item: LicenceItem = self.boot.store.repository.get(iid)  # what is left
            if item.status in DONE_STATUSES:
                return 0, 0  # decided by an earlier run (or taken off the list)
            signed = 0
            if item.status in BEFORE_HANDOVER or item.status is ItemStatus.HANDOVER:
                # The programme starts the item workflows 20 at a time and each opens its handover itself: watch
                # the stored item for that instead of asking a workflow that is not there yet (every refused step
                # is an RPC, a workflow task and a store read; 48 items asking at once kept the worker busy).
                item = await self._stored(iid, lambda i: i.status not in BEFORE_HANDOVER, deadline)
                day = cut[item.batch or 1] - timedelta(days=7)  # the handover week before the batch's cut-over
                signers = ((Party.ORIGIN, origin[item.origin]), (Party.BUREAU, bureau[n % len(bureau)]))
                todo = [(p, a, sum(1 for e in ChecklistEntry if item.checklist[e].get(p) is None)) for p, a in signers]
                signed = await self._sign(transfer, plan.code, code, [t for t in todo if t[2]], beijing(day), deadline)
            # Likewise the cut-over: the workflow takes it by itself once the last sign-off is in.
            await self._stored(iid, lambda i: i.status not in BEFORE_HANDOVER and i.status is not ItemStatus.HANDOVER,
                               deadline)  # fmt: skip
            decision, reason = mk.outcome_of(code)
            # The item workflow cuts over by itself once the last sign-off is in (its batch's moment is past);
            # until then the decision is refused as "still in handover": ask again.
            await _again(
                lambda: transfer.decide(
                    code,
                    decision.value,
                    actor=admin,
                    reason=reason,
                    until=mk.EXTENDED_TO if decision is Decision.EXTEND else None,
                    approved_by=APPROVED_BY,
                    programme=plan.code,
                    at=beijing(mk.DECISION_DAY),
                    read_your_writes=False,
                ),
                deadline,
            )
            return signed, 1

        sem = asyncio.Semaphore(concurrency)

        async def bounded(n: int, code: str) -> tuple[int, int]:
            async with sem:
                return await one(n, code)

        done = await asyncio.gather(*(bounded(n, i.code) for n, i in enumerate(order)))
        report.signed = sum(s for s, _ in done)
        report.decided = sum(d for _, d in done)

        step("等待结论生效")
        await self._until(lambda: all(i.status in DONE_STATUSES and not i.pending_undo
                                      for i in self.items(plan).values()), wait, "试运行结论未在期限内生效")  # fmt: skip
        step("")
        items = self.items(plan)
        report.statuses = dict(Counter(i.status.value for i in items.values()))
        report.rolled_back = sorted(c for c, i in items.items() if i.status is ItemStatus.ROLLED_BACK)
        report.extended = sorted(c for c, i in items.items() if i.status is ItemStatus.TRIAL_EXTENDED)
        report.seconds = time.perf_counter() - started
        return report

    async def _sign(
        self,
        transfer: TransferService,
        programme: str,
        code: str,
        todo: list[tuple[Party, Actor, int]],
        at: datetime,
        deadline: float,
    ) -> int:
        """One item's sign-offs: each party signs every entry still open for it in ONE step (entry "all": one
        Update, one save); before its workflow has opened the handover that is refused as an illegal
        transition: ask again. Answers how many entries this run signed."""
        done = 0
        for party, actor, entries in todo:
            try:
                await _again(
                    lambda party=party, actor=actor: transfer.sign(  # type: ignore[misc]
                        code, ALL_ENTRIES, actor=actor, party=party.value, note="已核对移交", programme=programme,
                        at=at, read_your_writes=False,
                    ),
                    deadline,
                )  # fmt: skip
            except DomainError as e:
                if e.code != "TRANSFER_ALREADY_SIGNED":  # another run signed it meanwhile: done is done
                    raise
                continue
            done += entries
        return done

    async def _stored(self, iid: Any, ready: Callable[[LicenceItem], bool], deadline: float) -> LicenceItem:
        """The stored item once ``ready`` (its workflow acts asynchronously), or as it is at ``deadline``: the
        step that follows then says what is wrong."""
        delay = 0.1
        while True:
            item: LicenceItem = self.boot.store.repository.get(iid)
            if ready(item) or time.monotonic() > deadline:
                return item
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    async def _until(self, ready: Callable[[], bool], wait: float, message: str) -> None:
        """Poll the store until ``ready`` (workflows act asynchronously) or refuse with ``message``."""
        deadline = time.monotonic() + wait
        delay = 0.05
        while not ready():
            if time.monotonic() > deadline:
                raise ScenarioRefused(f"{message}（已等待 {wait:.0f} 秒；Worker 是否在运行？）")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)


# Refusals that mean "not yet": the workflow has not reached that state (illegal transition now), or it is busy
# moving between states (a cut-over and its weekly snapshots in flight: TRANSFER_NOT_READY after the service's
# own short retry). Both pass on their own; anything else is a real refusal.
_NOT_YET = frozenset({"TRANSFER_ILLEGAL_TRANSITION", "TRANSFER_NOT_READY"})


async def _again(step: Callable[[], Awaitable[Any]], deadline: float) -> Any:
    """Run a staff step; while the item's workflow has not reached the state for it yet (an illegal transition
    now, not for ever: it opens the handover, or cuts over, on its own) or is busy getting there, wait and ask
    again until ``deadline``."""
    delay = 0.1
    while True:
        try:
            return await step()
        except DomainError as e:
            if e.code not in _NOT_YET or time.monotonic() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 1.0)
