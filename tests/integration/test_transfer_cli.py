"""`oneseal transfer …` as an admin and the two parties use it: separate OS processes (the CLI, a projector)
against the shared dev server and a worker on this test's store. A plan with bad rows is refused whole with
line numbers; each refusal of the issue (unknown programme / item / department, the wrong party, signing twice,
a decision before the trial, removing twice) exits 2 with its Chinese message and stable code and writes
nothing; the happy path goes plan → milestones → both parties sign → cut-over → decision in the trial.

The trial window is around today (the CLI acts at the wall clock, as staff do); SQLite only: the services
under the CLI are tested on both stores (test_transfer_rules.py, test_transfer_programme.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.calendar import SHANGHAI
from services.bootstrap import Bootstrap

from .transfer_support import BUREAU, JT, new_programme, until

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("fresh", ["sqlite"], indirect=True)]
ONESEAL = str(Path(sys.executable).parent / "oneseal")
ADMIN, ORIGIN, BUREAU_CLERK, OUTSIDER = "513201-spj-06", "513201-jt-a", "513201-spj-01", "513201-zj-a"


def plan_yaml(code: str, today: datetime, *, bad: bool = False) -> str:
    """Three 交通运输局 items in one batch that cut over a week ago; the trial runs from then to two months on."""
    start, end = (today - timedelta(days=7)).date(), (today + timedelta(days=60)).date()
    third = "department: 马尔康市咖啡局" if bad else f"department: {JT}"
    return f"""programme:
  code: {code}
  name: 命令行划转方案
  bureau: {BUREAU}
  region: 马尔康市
  level: county
  decision_no: 马府发〔2026〕1号
  approved_by: 马尔康市人民政府
  trial_start: {start}
  trial_end: {end}
batches:
  - {{no: 1, name: 第一批, cut_over: "{start}T00:00:00+08:00"}}
items:
  - {{code: 513201-JT-101, name: 道路旅客运输站（场）经营许可, department: {JT}, legal_basis: 《道路运输条例》, batch: 1}}
  - {{code: 513201-JT-102, name: 道路货物运输经营许可, department: {JT}, legal_basis: 《道路运输条例》, batch: {"9" if bad else "1"}}}
  - {{code: 513201-JT-103, name: 出租汽车经营许可, {third}, legal_basis: 《道路运输条例》, batch: 1}}
"""


class Cli:
    def __init__(self, boot: Bootstrap) -> None:
        s = boot.settings
        self.boot = boot
        self.env = {**os.environ, "ONESEAL_DATA_DIR": str(s.data_dir), "ONESEAL_EVENT_STORE": "sqlite",
                    "ONESEAL_EVENT_STORE_URL": s.event_store_url, "ONESEAL_READ_MODEL_URL": s.read_model_url,
                    "ONESEAL_TEMPORAL_ADDRESS": s.temporal_address, "ONESEAL_TASK_QUEUE": s.task_queue,
                    "COLUMNS": "80"}  # fmt: skip

    async def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run, [ONESEAL, *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def head(self) -> int:
        return self.boot.store.recorder.max_notification_id() or 0

    async def settled(self) -> int:
        """The store's head once the workflows' own steps stopped writing (a second without a new event)."""
        last = -1
        while (head := self.head()) != last:
            last = head
            await asyncio.sleep(1.0)
        return head

    async def refused(self, code: str, *args: str) -> str:
        """The command exits 2 with ``code`` and a Chinese message, and the store holds nothing new."""
        head = await self.settled()
        r = await self(*args)
        assert r.returncode == 2 and f"({code})" in r.stderr, (args, r.returncode, r.stdout, r.stderr)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in r.stderr), r.stderr
        assert self.head() == head, args  # nothing written
        return r.stderr


@pytest.fixture
async def cli(fresh: Bootstrap) -> AsyncIterator[Cli]:
    c = Cli(fresh)
    projector = subprocess.Popen([ONESEAL, "project"], env=c.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield c
    finally:
        projector.terminate()
        projector.wait(timeout=30)


async def test_an_admin_and_both_parties_take_an_item_through_the_cli_and_every_refusal_writes_nothing(
    fresh: Bootstrap, cli: Cli, tmp_path: Path
) -> None:
    code = new_programme()
    today = datetime.now(UTC).astimezone(SHANGHAI)
    item, other = "513201-JT-101", "513201-JT-102"
    # A plan with bad rows is refused whole, every bad row named by its line.
    bad = tmp_path / "bad.yaml"
    bad.write_text(plan_yaml(code, today, bad=True), encoding="utf-8")
    err = await cli.refused("TRANSFER_PLAN_INVALID", "transfer", "plan", str(bad))
    assert "马尔康市咖啡局" in err and "第" in err and "行" in err, err
    good = tmp_path / "plan.yaml"
    good.write_text(plan_yaml(code, today), encoding="utf-8")
    r = await cli("transfer", "plan", str(good))
    assert r.returncode == 0, r.stdout + r.stderr
    r = await cli("transfer", "plan", str(good))  # idempotent: nothing recorded twice
    assert r.returncode == 0 and "未重复记录" in r.stdout, r.stdout + r.stderr

    for m in ("hall_ready", "processes_reengineered", "seal_announced"):
        r = await cli("transfer", "milestone", m, "--as", ADMIN, "--document-no", f"马审批〔2026〕{m}",
                      "--programme", code)  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
    for c in (item, other, "513201-JT-103"):
        await until(lambda c=c: fresh.transfer.commands.item(code, c).status.value == "handover")  # type: ignore[misc]

    # Unknown programme, item, department; the wrong party; a decision before the trial.
    await cli.refused("TRANSFER_PROGRAMME_UNKNOWN", "transfer", "show", "--programme", "nowhere")
    await cli.refused("TRANSFER_ITEM_UNKNOWN", "transfer", "sign", "513201-JT-999", "seal", "--as", ORIGIN,
                      "--programme", code)  # fmt: skip
    await cli.refused("TRANSFER_DEPARTMENT_UNKNOWN", "transfer", "add-item", "513201-JT-104", "--as", ADMIN,
                      "--department", "马尔康市咖啡局", "--approved-by", "马尔康市人民政府", "--reason", "试点",
                      "--programme", code)  # fmt: skip
    await cli.refused("TRANSFER_WRONG_PARTY", "transfer", "sign", item, "seal", "--as", OUTSIDER, "--programme", code)
    r = await cli("transfer", "sign", "513201-JT-103", "seal", "--as", ORIGIN, "--programme", code)
    assert r.returncode == 0 and "尚待签认 13 处" in r.stdout, r.stdout + r.stderr
    await cli.refused("TRANSFER_ALREADY_SIGNED", "transfer", "sign", "513201-JT-103", "seal", "--as", ORIGIN,
                      "--programme", code)  # fmt: skip
    await cli.refused("TRANSFER_ILLEGAL_TRANSITION", "transfer", "decide", item, "live", "--as", ADMIN,
                      "--programme", code)  # fmt: skip

    # Both parties sign everything (one step each): the item cuts over (its batch's moment has passed).
    for who in (ORIGIN, BUREAU_CLERK):
        r = await cli("transfer", "sign", item, "all", "--as", who, "--programme", code)
        assert r.returncode == 0 and "已签认" in r.stdout, r.stdout + r.stderr
    await until(lambda: fresh.transfer.commands.item(code, item).status.value == "in_trial")

    # In the trial the bureau's admin decides; the item is live and its matter is the bureau's.
    r = await cli("transfer", "decide", item, "live", "--as", ADMIN, "--programme", code)
    assert r.returncode == 0 and "正式运行" in r.stdout, r.stdout + r.stderr
    r = await cli("transfer", "show", item, "--programme", code, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    shown = json.loads(r.stdout)
    assert shown["status"] == "live", shown
    assert fresh.routing.competent_authority(item).department == BUREAU

    # The living list: an item removed while in its handover goes back; removing it again is refused.
    r = await cli("transfer", "remove-item", other, "--as", ADMIN, "--approved-by", "马尔康市人民政府",
                  "--reason", "法规调整", "--programme", code)  # fmt: skip
    assert r.returncode == 0 and "已移出清单" in r.stdout, r.stdout + r.stderr
    await cli.refused("TRANSFER_ITEM_ALREADY_REMOVED", "transfer", "remove-item", other, "--as", ADMIN,
                      "--approved-by", "马尔康市人民政府", "--reason", "法规调整", "--programme", code)  # fmt: skip
