"""Durable routing consumed by cases, on the real Temporal dev server and BOTH event stores.

The rule: the authority valid at ACCEPTANCE handles a case to its end. Routing and staff posts are
read from the stored ``MatterRouting`` / ``StaffMember`` streams, so a second process (its own
store handle and worker) routes the same way at once, and worklists follow a recorded move. A
bureau decision on a programme item issues its supervision task exactly once, in the decision's
save, and the case workflow starts ``SupervisionWorkflow`` by name (审管联动).

Each module run has a store of its own per kind (routing is store-wide state), and each test its own
matter, so changes never cross tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.cases.model import CaseView
from domain.cases.steps import Accept, Decide, Deliver
from domain.catalogue import Authority, Level, default_catalogue
from domain.routing import RoutingCause
from domain.staff import Actor, default_staff
from domain.transfer import LicenceItem, TransferProgramme, load_plan, supervision_task_id
from domain.transfer.supervision import SupervisionTask
from services.bootstrap import Bootstrap
from services.settings import Settings
from workflows.case import SUPERVISION_PATCH, CaseWorkflow
from workflows.case_activities import CaseActivities
from workflows.contracts import SUPERVISION_WORKFLOW, supervision_workflow_id

from .conftest import PG_ADMIN, settings_for
from .supervision_stub import StubSupervision
from .support import event_names, new_case_no, record_history, take

pytestmark = pytest.mark.integration

REGION = "马尔康市"
BUREAU = "马尔康市行政审批局"
SCJG = "马尔康市市场监督管理局"
BUREAU_AUTHORITY = Authority(BUREAU, Level.COUNTY, REGION)
SCJG_AUTHORITY = Authority(SCJG, Level.COUNTY, REGION)
STAFF = default_staff()
FRONT = STAFF.get("513201-qt-a")
OUTPUT = STAFF.get("513201-cj-a")
DEPT_REVIEWER = STAFF.get("513201-scjg-a")
MOVER = "513201-scjg-b"  # moves to the bureau with the items (人随事走)
ADMIN = Actor("513201-admin", "改革办管理员", "马尔康市人民政府办公室", "reviewer", REGION)


@dataclass
class Routed:
    kind: str
    env: WorkflowEnvironment
    boot: Bootstrap

    @property
    def settings(self) -> Settings:
        return self.boot.settings

    async def cli(self, *args: str) -> Any:
        """``oneseal ARGS --json`` in a separate OS process on this store; its parsed output."""
        env = {**os.environ, "ONESEAL_DATA_DIR": str(self.settings.data_dir), "ONESEAL_EVENT_STORE": self.kind,
               "ONESEAL_EVENT_STORE_URL": self.settings.event_store_url}  # fmt: skip
        cmd = [str(Path(sys.executable).parent / "oneseal"), *args, "--json"]
        done = await asyncio.to_thread(subprocess.run, cmd, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def second_process(self, queue: str) -> Bootstrap:
        """Another process on the same store: its own settings, store handle and services."""
        return Bootstrap(replace(self.settings, task_queue=queue), client=self.env.client)


def case_worker(client: Client, boot: Bootstrap, queue: str) -> Worker:
    """The case workflow with its one activity, whose first ``decide`` attempt dies right after its commit
    (the retry must record nothing twice), and a stub answering to the name "SupervisionWorkflow" (the
    transfer's own workflow is tested with its activities in its own tests): the start by name is what
    the case workflow owes."""
    activities = CaseActivities(boot.store, crash_after_commit_once=frozenset({"decide"}))
    return Worker(
        client,
        task_queue=queue,
        workflows=[CaseWorkflow, StubSupervision],
        activities=[activities.case_command],
        activity_executor=ThreadPoolExecutor(max_workers=4),
        max_concurrent_activities=4,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def routed(
    request: pytest.FixtureRequest, temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Routed]:
    kind: str = request.param
    data_dir: Path = tmp_path_factory.mktemp(f"routing-{kind}")
    if kind == "sqlite":
        url = str(data_dir / "events.db")
    else:
        db: str = request.getfixturevalue("pg_database")
        schema = f"rt_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN.replace("dbname=postgres", f"dbname={db.rsplit('/', 1)[1]}"),
                             autocommit=True) as conn:  # fmt: skip
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{db}?schema={schema}"
    target = temporal_env.client.service_client.config.target_host
    settings = settings_for(kind, url, f"routing-{kind}-{uuid.uuid4().hex[:6]}", target, data_dir)
    boot = Bootstrap(replace(settings, read_your_writes_timeout=5.0), client=temporal_env.client)
    async with case_worker(temporal_env.client, boot, settings.task_queue):
        yield Routed(kind, temporal_env, boot)


# ---- helpers ---------------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def materials(code: str) -> list[str]:
    return list(default_catalogue().get(code).materials)


async def submit(boot: Bootstrap, env: WorkflowEnvironment, code: str) -> tuple[str, WorkflowHandle[Any, Any]]:
    """A case with time skipping off: its workflow's clock is the wall clock until a test fast-forwards it."""
    case_no = new_case_no(f"r{boot.settings.event_store}")
    with env.with_time_skipping_disabled():
        await boot.cases.submit(matter_code=code, applicant="马尔康市某某商贸有限公司", materials=materials(code),
                                actor=FRONT, case_no=case_no, read_your_writes=False)  # fmt: skip
    return case_no, env.client.get_workflow_handle(f"case-{case_no}", result_type=CaseView)


def cut_over(boot: Bootstrap, code: str, at: datetime, *, source: str = "admin", back: bool = False) -> None:
    """Record the matter's move to the bureau (or, ``back``, its roll-back to the department) from ``at`` on."""
    boot.routing.change_authority(
        code,
        department=SCJG if back else BUREAU,
        effective_from=at,
        approved_by="马尔康市人民政府",
        legal_basis="马府发〔2020〕1号",
        reason="试运行回退" if back else "相对集中行政许可权改革划转",
        cause=RoutingCause.ROLL_BACK if back else RoutingCause.TRANSFER,
        source=source,
        actor=ADMIN,
    )


def mover(boot: Bootstrap) -> Actor:
    """The department reviewer who moves with the items, moved once per store (a second move is refused)."""
    if boot.routing.actor(MOVER).department != BUREAU:
        boot.routing.reassign(MOVER, department=BUREAU, post="reviewer", reason="人随事走：随划转事项转入审批局",
                              source="transfer:test", actor=ADMIN)  # fmt: skip
    return boot.routing.actor(MOVER)


def authority(view: CaseView) -> Authority:
    return Authority(view.department, Level(view.level), view.region)


# ---- the rule: the authority valid at acceptance handles the case -----------------------------------


async def test_accepted_the_day_before_cut_over_stays_with_the_department(routed: Routed) -> None:
    boot, code = routed.boot, "513201-SCJG-110"
    case_no, handle = await submit(boot, routed.env, code)
    accepted = await take(boot.cases, case_no, Accept(actor=FRONT))
    assert authority(accepted) == SCJG_AUTHORITY
    cut_over(boot, code, accepted.accepted_at + timedelta(days=1))  # the cut-over the next day
    await routed.env.fast_forward(handle, timedelta(days=1, hours=1))
    assert boot.routing.competent_authority(code, accepted.accepted_at + timedelta(days=1, hours=1)) == BUREAU_AUTHORITY
    with pytest.raises(Exception, match="无权"):  # the bureau's (moved) reviewer may not decide it
        await take(boot.cases, case_no, Decide(actor=mover(boot), outcome="grant"))
    decided = await take(boot.cases, case_no, Decide(actor=DEPT_REVIEWER, outcome="grant"))
    assert authority(decided) == SCJG_AUTHORITY and decided.decided_at > accepted.accepted_at + timedelta(days=1)
    await take(boot.cases, case_no, Deliver(actor=OUTPUT))
    final = await handle.result()
    assert final.department == SCJG and "Rerouted" not in event_names(boot.cases.history(case_no))
    assert not boot.store.recorder.select_events(supervision_task_id(case_no))


async def test_submitted_before_and_accepted_after_moves_to_the_bureau_with_its_event(routed: Routed) -> None:
    boot, code = routed.boot, "513201-SCJG-111"
    case_no, handle = await submit(boot, routed.env, code)
    assert authority(boot.store.get_case(case_no)) == SCJG_AUTHORITY
    cut_over(boot, code, now())
    await asyncio.sleep(0.05)
    accepted = await take(boot.cases, case_no, Accept(actor=FRONT))
    assert authority(accepted) == BUREAU_AUTHORITY
    assert accepted.awaiting is not None and accepted.awaiting.department == BUREAU
    history = boot.cases.history(case_no)
    assert event_names(history) == ["Submitted", "Rerouted", "Accepted"]
    moved = history[1]
    assert moved.label == "改由新实施机关办理" and moved.actor is not None and moved.actor.user_id == "system"
    assert moved.details["from_department"] == SCJG and moved.details["department"] == BUREAU
    assert moved.details["cause"] == "transfer" and moved.details["approved_by"] == "马尔康市人民政府"
    # The bureau handles it to its end: the department's reviewer may not decide, the moved one does.
    with pytest.raises(Exception, match="无权"):
        await take(boot.cases, case_no, Decide(actor=DEPT_REVIEWER, outcome="grant"))
    await take(boot.cases, case_no, Decide(actor=mover(boot), outcome="grant"))
    await take(boot.cases, case_no, Deliver(actor=OUTPUT))
    assert (await handle.result()).department == BUREAU
    # The read models follow the event: the case counts for the bureau.
    boot.projections.ensure_fresh("cases")
    row = boot.cases.search(_query(case_no)).items[0]
    assert row.department == BUREAU
    await record_history(handle, "case_rerouted_at_acceptance")


async def test_submitted_after_goes_to_the_bureau_worklist_of_the_moved_reviewer(routed: Routed) -> None:
    boot, code = routed.boot, "513201-SCJG-112"
    reviewer = mover(boot)
    assert (reviewer.department, reviewer.post) == (BUREAU, "reviewer")
    assert boot.directory.actor(MOVER) == reviewer  # every reader of the directory sees the move
    assert any(a.user_id == MOVER for a in boot.routing.roster().holders(BUREAU, "reviewer", REGION))
    cut_over(boot, code, now())
    await asyncio.sleep(0.05)
    case_no, _ = await submit(boot, routed.env, code)
    assert authority(boot.store.get_case(case_no)) == BUREAU_AUTHORITY
    await take(boot.cases, case_no, Accept(actor=FRONT))
    assert event_names(boot.cases.history(case_no)) == ["Submitted", "Accepted"]
    boot.projections.ensure_fresh("cases")
    # The moved person's worklist is the bureau's, even asked with the post they held before the move.
    stale = STAFF.get(MOVER)
    assert stale.department == SCJG
    refs = [t.ref for t in boot.cases.worklist(stale).items]
    assert case_no in refs
    assert case_no not in [t.ref for t in boot.cases.worklist(DEPT_REVIEWER).items]


async def test_a_rolled_back_item_routes_back(routed: Routed) -> None:
    boot, code = routed.boot, "513201-SCJG-113"
    cut_over(boot, code, now())
    await asyncio.sleep(0.05)
    during, _ = await submit(boot, routed.env, code)
    assert authority(boot.store.get_case(during)) == BUREAU_AUTHORITY
    cut_over(boot, code, now(), back=True)
    await asyncio.sleep(0.05)
    # Submitted during the trial, accepted after the roll-back: back to the department, with its event.
    accepted = await take(boot.cases, during, Accept(actor=FRONT))
    assert authority(accepted) == SCJG_AUTHORITY
    moved = [e for e in boot.cases.history(during) if e.event == "Rerouted"]
    assert len(moved) == 1 and moved[0].details["cause"] == "roll_back" and moved[0].details["department"] == SCJG
    after, _ = await submit(boot, routed.env, code)
    assert authority(boot.store.get_case(after)) == SCJG_AUTHORITY
    assert [c.cause.value for c in boot.routing.history(code)] == ["transfer", "roll_back"]


async def test_a_second_process_routes_the_same_way_without_restart(routed: Routed) -> None:
    boot, code = routed.boot, "513201-SCJG-114"
    assert boot.routing.competent_authority(code) == SCJG_AUTHORITY  # process 1 has read (and cached) it
    queue = f"{routed.settings.task_queue}-2"
    second = routed.second_process(queue)
    assert second.store is not boot.store
    cut_over(second, code, now())  # written by process 2 ...
    await asyncio.sleep(0.05)
    assert boot.routing.competent_authority(code) == BUREAU_AUTHORITY  # ... seen by process 1 at once
    # ... and by a separate OS process (the CLI), with the moved reviewer's new post.
    mover(boot)
    shown = await routed.cli("matters", "routing", code)
    assert shown["department"] == BUREAU and [c["cause"] for c in shown["changes"]] == ["transfer"]
    listed = await routed.cli("matters", "list", "--region", REGION)
    assert next(m for m in listed if m["code"] == code)["department"] == BUREAU
    staff = await routed.cli("staff", "list", "--region", REGION)
    assert next(a for a in staff if a["user_id"] == MOVER)["department"] == BUREAU
    async with case_worker(
        routed.env.client, second, queue
    ):  # a worker started after the change, on its own store handle
        case_no, handle = await submit(second, routed.env, code)
        view = second.store.get_case(case_no)
        assert authority(view) == BUREAU_AUTHORITY
        assert authority(boot.store.get_case(case_no)) == BUREAU_AUTHORITY
        await take(second.cases, case_no, Accept(actor=FRONT))
        await take(second.cases, case_no, Decide(actor=mover(second), outcome="deny", reason="不符合条件"))
        await take(second.cases, case_no, Deliver(actor=OUTPUT))
        assert (await handle.result()).department == BUREAU


# ---- 审管联动 -----------------------------------------------------------------------------------------


def plan_programme(boot: Bootstrap, code: str) -> str:
    """Store a programme with its item for ``code``, as the transfer's commands would (their own test set-up)."""
    from tests.unit.transfer_helpers import PLAN_YAML

    name = f"rt-{uuid.uuid4().hex[:8]}"
    plan = load_plan(PLAN_YAML.replace("test-2020", name), source="test.yaml", catalogue=default_catalogue(),
                     staff=STAFF)  # fmt: skip
    at = now()
    programme = TransferProgramme.from_plan(plan, actor=ADMIN, at=at, command_id="plan")
    item = next(i for i in plan.items if i.code == code)
    boot.store.save(programme, LicenceItem.from_plan(programme, item, actor=ADMIN, at=at, command_id=f"plan/{code}"))
    return name


async def test_a_bureau_decision_issues_its_supervision_task_exactly_once(routed: Routed) -> None:
    boot, code = routed.boot, "513201-SCJG-001"
    programme = plan_programme(boot, code)
    before, before_handle = await submit(boot, routed.env, code)
    await take(boot.cases, before, Accept(actor=FRONT))  # accepted before the cut-over: the department's
    cut_over(boot, code, now(), source=f"transfer:{programme}")
    await asyncio.sleep(0.05)
    case_no, handle = await submit(boot, routed.env, code)
    await take(boot.cases, case_no, Accept(actor=FRONT))
    # The decide activity's first attempt dies right after its commit: the retry records nothing twice.
    decided = await take(boot.cases, case_no, Decide(actor=mover(boot), outcome="grant"))
    events = boot.store.recorder.select_events(supervision_task_id(case_no))
    assert len(events) == 1  # exactly once
    task: SupervisionTask = boot.store.repository.get(supervision_task_id(case_no))
    assert (task.programme, task.item_code, task.decision) == (programme, code, "grant")
    assert (task.bureau, task.department, task.region) == (BUREAU, SCJG, REGION)
    assert task.decided_at == decided.decided_at and task.claim_due > task.decided_at
    assert task.awaiting is not None and task.awaiting.department == SCJG  # the origin department's worklist
    # Recorded in the decision's own save: the task's event follows the Decided event in the log.
    decided_event = [e for e in boot.store.events.get(decided_id(case_no)) if type(e).__name__ == "Decided"]
    assert len(decided_event) == 1 and task.decided_at == decided_event[0].at  # type: ignore[attr-defined]
    # The case workflow started the supervision workflow by name, once.
    child = routed.env.client.get_workflow_handle(supervision_workflow_id(case_no))
    desc = await child.describe()
    assert desc.workflow_type == SUPERVISION_WORKFLOW and desc.parent_id == f"case-{case_no}"
    history = await handle.fetch_history()
    starts = [e for e in history.events if e.HasField("start_child_workflow_execution_initiated_event_attributes")]
    assert len(starts) == 1
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert any(SUPERVISION_PATCH in str(m.marker_recorded_event_attributes.details) for m in markers)
    await take(boot.cases, case_no, Deliver(actor=OUTPUT))
    await handle.result()
    await record_history(handle, "case_supervision_task")
    # The department's own decision on a case accepted before the cut-over opens no task.
    await take(boot.cases, before, Decide(actor=DEPT_REVIEWER, outcome="grant"))
    assert not boot.store.recorder.select_events(supervision_task_id(before))
    await take(boot.cases, before, Deliver(actor=OUTPUT))
    await before_handle.result()


def decided_id(case_no: str) -> Any:
    from domain.cases.model import case_id

    return case_id(case_no)


def _query(case_no: str) -> Any:
    from projections.queries import CaseQuery

    return CaseQuery(case_no=case_no)
