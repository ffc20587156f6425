"""The transfer read models from the events the REAL workflows record (engineer A's services and workflows,
Temporal with time skipping, both stores): a two-item programme through handover (a sign-off missing, then
given), trial (weekly figures), go-live and roll-back, then `transfer status` and the report from the projection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.transfer.view import ProgrammeState
from services.bootstrap import Bootstrap
from workflows.transfer_contracts import programme_workflow_id

from .transfer_support import ADMIN, DECIDED, ITEMS, JT, milestones, new_programme, ready, sign_all, until, write_plan

pytestmark = pytest.mark.integration
TWO = [ITEMS[0], ITEMS[3]]  # 513201-JT-101 in batch 1, 513201-JT-104 in batch 2


async def test_the_read_models_follow_the_real_workflows(fresh: Bootstrap, tmp_path: Path) -> None:
    boot = fresh
    code = new_programme()
    await boot.transfer.plan(write_plan(tmp_path, code, TWO), actor=ADMIN, at=datetime(2020, 4, 20, 2, tzinfo=UTC))
    await milestones(boot, code)
    for c, *_ in TWO:
        await ready(boot, code, c, "handover")
    await sign_all(boot, code, "513201-JT-101")
    await sign_all(boot, code, "513201-JT-104", skip=(("seal", "bureau"),))
    mid = boot.transfer_reports.status(code, as_of=datetime(2020, 6, 2, tzinfo=UTC))
    assert mid["checklist"]["by_party"] == {"origin": 0, "bureau": 1}
    await sign_all_rest(boot, code)
    for c, _, batch, _ in TWO:
        await ready(boot, code, c, "in_trial")
        weeks = 22 if batch == 1 else 18
        await until(lambda c=c, w=weeks: len(boot.transfer.commands.item(code, c).figures) == w)  # type: ignore[misc]
    await boot.transfer.decide("513201-JT-101", "live", actor=ADMIN, programme=code, at=DECIDED,
                               read_your_writes=False)  # fmt: skip
    await boot.transfer.decide("513201-JT-104", "rollback", actor=ADMIN, reason="专业性强，退回原部门",
                               programme=code, at=DECIDED, read_your_writes=False)  # fmt: skip
    handle = (await boot.temporal()).get_workflow_handle(programme_workflow_id(code), result_type=ProgrammeState)
    final: ProgrammeState = await asyncio.wait_for(handle.result(), 30)
    assert final.status == "closed"

    data = boot.transfer_reports.report(code, as_of=datetime(2021, 1, 1, tzinfo=UTC))
    g = data["progress"]
    assert data["programme"]["status"] == "closed" and all(m["done"] for m in data["programme"]["milestones"])
    assert (g["items"], g["listed"], g["cut_over"]) == (2, 2, 2)
    assert g["outcomes"] == {"live": 1, "trial_extended": 0, "rolled_back": 1, "removed": 0}
    assert [(b["batch"], b["items"]) for b in g["by_batch"]] == [(1, 1), (2, 1)]
    assert [(d["department"], d["items"]) for d in g["by_department"]] == [(JT, 2)]
    assert data["checklist"]["by_party"] == {"origin": 0, "bureau": 0} and data["behind_schedule"] == []
    weeks = {i["code"]: i["weeks"] for i in data["trial_figures"]["by_item"]}
    assert weeks == {"513201-JT-101": 22, "513201-JT-104": 18}
    assert {d["code"]: d["decision"] for d in data["decisions"]} == {"513201-JT-101": "go_live",
                                                                    "513201-JT-104": "roll_back"}  # fmt: skip
    rolled = next(i for i in data["before_after"]["by_item"] if i["code"] == "513201-JT-104")
    assert rolled["after"]["to"] == DECIDED  # AFTER ends at the roll-back
    text = boot.transfer_reports.render(data, "md")
    assert isinstance(text, str) and "回退原部门" in text and "专业性强，退回原部门" in text


async def sign_all_rest(boot: Bootstrap, code: str) -> None:
    from .transfer_support import BUREAU_STAFF, SIGNED

    await boot.transfer.sign("513201-JT-104", "seal", actor=BUREAU_STAFF, programme=code, at=SIGNED,
                             read_your_writes=False)  # fmt: skip
