"""A small transfer programme end to end on real Temporal (time skipping), the event store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from domain.routing import MatterRouting, RoutingCause, routing_id
from domain.staffing import StaffMember, staff_member_id
from domain.transfer.view import ProgrammeState
from services.bootstrap import Bootstrap
from workflows.transfer import TransferProgrammeWorkflow
from workflows.transfer_contracts import ProgrammeInput, item_workflow_id, programme_workflow_id

from .support import record_history
from .transfer_support import (
    ADMIN,
    BUREAU,
    DECIDED,
    ITEMS,
    JT,
    milestones,
    new_programme,
    ready,
    sign_all,
    until,
    write_plan,
)

pytestmark = pytest.mark.integration


async def test_six_items_in_two_batches_cut_over_run_their_trial_and_end_live_extended_or_rolled_back(
    fresh: Bootstrap, tmp_path: Path
) -> None:
    boot = fresh
    code = new_programme()
    path = write_plan(tmp_path, code)
    loaded = await boot.transfer.plan(path, actor=ADMIN, at=datetime(2020, 4, 20, 2, tzinfo=UTC))
    assert loaded.created and len(loaded.programme.items) == 6
    again = await boot.transfer.plan(path, actor=ADMIN)  # idempotent: nothing recorded, the workflow kept
    assert not again.created and again.programme.version == loaded.programme.version
    await milestones(boot, code)
    for c, *_ in ITEMS:  # straight away: a step waits for an item's workflow that is still starting
        await sign_all(boot, code, c)
    assert set((await boot.transfer.wait_for({"in_trial"}, programme=code, timeout=30)).values()) == {"in_trial"}
    for c, _, batch, _ in ITEMS:
        await ready(boot, code, c, "in_trial")
        # Every week of the trial snapshotted at once (all in the past): 2020-06-01 (07-01 for batch 2) to 10-31.
        weeks = 22 if batch == 1 else 18
        await until(lambda c=c, w=weeks: len(boot.transfer.commands.item(code, c).figures) == w)  # type: ignore[misc]
    jt101 = boot.transfer.commands.item(code, "513201-JT-101")
    assert jt101.cut_over_at == datetime(2020, 5, 31, 16, tzinfo=UTC)  # the batch's planned moment
    # Decisions on the trial's second-to-last day; one extended, then live; one rolled back.
    for c in ("513201-JT-101", "513201-JT-104", "513201-JT-105", "513201-JT-106"):
        await boot.transfer.decide(c, "live", actor=ADMIN, programme=code, at=DECIDED, read_your_writes=False)
    await boot.transfer.decide("513201-JT-102", "extend", actor=ADMIN, reason="办件量不足，延长观察",
                               until=date(2020, 12, 31), programme=code, at=DECIDED, read_your_writes=False)  # fmt: skip
    await boot.transfer.decide("513201-JT-103", "rollback", actor=ADMIN, reason="专业性强，退回原部门",
                               programme=code, at=DECIDED, read_your_writes=False)  # fmt: skip
    extended = await ready(boot, code, "513201-JT-102", "trial_extended")
    await boot.transfer.decide("513201-JT-102", "live", actor=ADMIN, programme=code,
                               at=datetime(2020, 12, 30, 2, tzinfo=UTC), read_your_writes=False)  # fmt: skip
    assert extended.trial_end == date(2020, 12, 31)
    handle = (await boot.temporal()).get_workflow_handle(programme_workflow_id(code), result_type=ProgrammeState)
    final: ProgrammeState = await asyncio.wait_for(handle.result(), 30)
    assert final.status == "closed"
    statuses = {i.code: i.status.value for i in boot.transfer.commands.items(code)}
    assert statuses == {**{c: "live" for c, *_ in ITEMS}, "513201-JT-103": "rolled_back"}
    assert len(boot.transfer.commands.item(code, "513201-JT-102").figures) > 22  # snapshots went on
    # Routing stored: to the bureau at the planned moment; the rolled-back item back at the decision.
    r101: MatterRouting = boot.store.repository.get(routing_id("513201-JT-101"))
    assert [(c.authority.department, c.cause, c.source) for c in r101.changes] == [
        (BUREAU, RoutingCause.TRANSFER, f"transfer:{code}")
    ]
    r103: MatterRouting = boot.store.repository.get(routing_id("513201-JT-103"))
    assert [(c.authority.department, c.cause) for c in r103.changes] == [
        (BUREAU, RoutingCause.TRANSFER),
        (JT, RoutingCause.ROLL_BACK),
    ]
    assert r103.changes[1].effective_from == DECIDED
    r104: MatterRouting = boot.store.repository.get(routing_id("513201-JT-104"))
    assert r104.changes[0].effective_from == datetime(2020, 6, 30, 16, tzinfo=UTC)
    # People moved with their items (人随事走), by events.
    for uid in ("513201-jt-01", "513201-jt-02"):
        member: StaffMember = boot.store.repository.get(staff_member_id(uid))
        assert member.department == BUREAU and member.posts[-1].source == f"transfer:{code}"
    await record_history(handle, "transfer_programme")
    extended_handle = (await boot.temporal()).get_workflow_handle(item_workflow_id(code, "513201-JT-102"))
    await record_history(extended_handle, "transfer_item_extended")


async def test_a_programme_continues_as_new_and_keeps_its_items_and_what_they_reported(
    fresh: Bootstrap, tmp_path: Path
) -> None:
    """Two child starts per run (500 in production): six items take several runs; none is started twice and the
    programme still closes when the last item (started by an earlier run) reports its end."""
    boot = fresh
    code = new_programme()
    await boot.transfer.plan(write_plan(tmp_path, code), actor=ADMIN, start=False)
    client = await boot.temporal()
    handle = await client.start_workflow(
        TransferProgrammeWorkflow.run,
        ProgrammeInput(code, children_per_run=2),
        id=programme_workflow_id(code),
        task_queue=boot.settings.task_queue,
    )
    await milestones(boot, code)
    for c, *_ in ITEMS:
        await sign_all(boot, code, c)
    await boot.transfer.wait_for({"in_trial"}, programme=code, timeout=30)
    for c, *_ in ITEMS:
        await boot.transfer.decide(c, "live", actor=ADMIN, programme=code, at=DECIDED, read_your_writes=False)
    final = await asyncio.wait_for(handle.result(), 30)
    assert final.status == "closed"
    described = await client.get_workflow_handle(programme_workflow_id(code)).describe()
    assert described.run_id != handle.first_execution_run_id  # it continued as new
    assert {i.status.value for i in boot.transfer.commands.items(code)} == {"live"}
