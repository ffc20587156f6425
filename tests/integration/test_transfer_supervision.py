"""审管联动 on real Temporal (time skipping), both stores: the supervising department claims in 2 working days, or
the task goes overdue; a late claim is recorded as late."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.transfer import SupervisionTask
from services.bootstrap import Bootstrap
from workflows.transfer_contracts import SUPERVISION_WORKFLOW, supervision_workflow_id

from .support import record_history
from .transfer_support import ADMIN, BUREAU, BUREAU_STAFF, ITEMS, JT, JT_STAFF, new_programme, refused, write_plan

pytestmark = pytest.mark.integration


async def _issue(boot: Bootstrap, programme: str, case_no: str) -> datetime:
    """The bureau's decision on a transferred item opens the origin department's task (what B's case step does)."""
    item = boot.transfer.commands.item(programme, ITEMS[0][0])
    now = datetime.now(UTC)
    task = SupervisionTask.issue(
        case_no=case_no, item=item, decision="grant", decided_by=BUREAU, decided_at=now,
        calendar=boot.store.calendar, actor=BUREAU_STAFF, at=now, command_id=f"test/{case_no}",
    )  # fmt: skip
    boot.store.save(task)
    return task.claim_due


async def _start(boot: Bootstrap, env: object, case_no: str) -> object:
    client = await boot.temporal()
    with env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        return await client.start_workflow(
            SUPERVISION_WORKFLOW, case_no, id=supervision_workflow_id(case_no), task_queue=boot.settings.task_queue
        )


async def test_the_origin_department_claims_its_task_once_and_an_unclaimed_one_goes_overdue(
    fresh: Bootstrap, temporal_env: object, tmp_path: Path
) -> None:
    boot, t = fresh, fresh.transfer
    code = new_programme()
    await t.plan(write_plan(tmp_path, code, ITEMS[:1]), actor=ADMIN, start=False)
    claimed_no, late_no = f"TS-{uuid.uuid4().hex[:8]}", f"TS-{uuid.uuid4().hex[:8]}"
    await _issue(boot, code, claimed_no)
    handle = await _start(boot, temporal_env, claimed_no)
    assert await refused(t.claim(claimed_no, actor=BUREAU_STAFF)) == "TRANSFER_SUPERVISION_WRONG_DEPARTMENT"
    done = await t.claim(claimed_no, actor=JT_STAFF, read_your_writes=False)
    assert done.task is not None and done.task.status == "claimed" and done.task.department == JT
    assert await asyncio.wait_for(handle.result(), 30) == "claimed"  # type: ignore[attr-defined]
    assert await refused(t.claim(claimed_no, actor=JT_STAFF)) == "TRANSFER_SUPERVISION_CLAIMED"
    await record_history(handle, "transfer_supervision_claimed")  # type: ignore[arg-type]
    # Nobody claims the other one: at its deadline (2 working days) it goes overdue; a late claim says so.
    due = await _issue(boot, code, late_no)
    handle = await _start(boot, temporal_env, late_no)
    await temporal_env.fast_forward(handle, due - datetime.now(UTC) + timedelta(hours=1))  # type: ignore[attr-defined]
    assert await asyncio.wait_for(handle.result(), 30) == "overdue"  # type: ignore[attr-defined]
    task = t.commands.task(late_no)
    assert task.status.value == "overdue" and task.awaiting is not None  # still in the department's worklist
    # The workflow ended: the late claim goes to the command handler (at the skipped clock's moment).
    late = await t.claim(late_no, actor=JT_STAFF, at=due + timedelta(hours=2), read_your_writes=False)
    assert late.task is not None and late.task.status == "claimed" and t.commands.task(late_no).claimed_late
    assert await refused(t.claim("TS-nope", actor=JT_STAFF)) == "TRANSFER_SUPERVISION_UNKNOWN"
    await record_history(handle, "transfer_supervision_overdue")  # type: ignore[arg-type]
