"""The whole Maerkang programme end to end: `scenario load maerkang-2020` through the real transfer workflows.

177 items of 20 departments in two batches: plan, milestones, both parties' sign-offs on every checklist
entry, cut-overs, the imported cases before and during the trial, the end-of-trial decisions (169 live,
6 extended, 2 rolled back), then a rerun that changes nothing. One store (SQLite): the programme is the
same on PostgreSQL, which the transfer tests cover on a small programme (tests/integration/test_transfer_*.py). Volumes of imported cases are thinned (``scale``): the generator is tested whole in
tests/unit/test_transfer_maerkang.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.calendar import SHANGHAI
from domain.routing import MatterRouting, RoutingPolicy, routing_id
from domain.transfer import ItemStatus
from domain.transfer import maerkang as mk
from domain.transfer.plan import shipped_plan
from services.bootstrap import Bootstrap
from tests.conftest import temporal_binary
from tests.integration.conftest import settings_for
from workers.worker import build_worker
from workflows.converter import DATA_CONVERTER
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

pytestmark = pytest.mark.integration

FG = "马尔康市发展和改革局"
ZJ = "马尔康市住房和城乡建设局"
BUREAU = "马尔康市行政审批局"


@pytest.fixture
async def maerkang(tmp_path: Path) -> AsyncIterator[Bootstrap]:
    """A store of its own: the programme moves 177 matters, which other tests' programmes must not see.

    And a dev server of its own (a few seconds to start): every moment of the 2020 programme is in the past,
    so it needs no time skipping, and on the session's server, after the hundreds of workflows the other
    tests leave behind, the same programme took 143 s where alone it takes about 50 s (2026-11-28)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), search_attributes=SEARCH_ATTRIBUTES, data_converter=DATA_CONVERTER
    )
    try:
        target = env.client.service_client.config.target_host
        settings = settings_for("sqlite", str(tmp_path / "events.db"), f"mk-{uuid.uuid4().hex[:6]}", target, tmp_path)
        boot = Bootstrap(replace(settings, read_your_writes_timeout=30.0), client=env.client)
        async with build_worker(env.client, boot.store, settings.task_queue, boot=boot):
            yield boot
    finally:
        await env.shutdown()


def authority(boot: Bootstrap, code: str, at: datetime) -> str:
    """Who is competent, from the STORED routing events (what every process reads)."""
    repo = boot.store.repository
    routings: list[MatterRouting] = [repo.get(routing_id(code))] if routing_id(code) in repo else []
    return RoutingPolicy.from_routings(boot.store.catalogue, routings).competent_authority(code, at).department


async def test_the_whole_177_item_programme_ends_live_extended_and_rolled_back(
    maerkang: Bootstrap,
) -> None:
    boot = maerkang
    t0 = time.perf_counter()
    report = await boot.scenarios.transfer.load(mk.NAME, scale=0.25, concurrency=48, wait=600)
    elapsed = time.perf_counter() - t0

    assert (report.items, report.departments, report.batches) == (177, 20, {1: 90, 2: 87})
    assert report.milestones_recorded == 3
    assert report.signed == 177 * 7 * 2  # every entry, both parties, each exactly once
    assert report.decided == 177
    assert report.statuses == {"live": 169, "trial_extended": 6, "rolled_back": 2}
    assert report.rolled_back == sorted(mk.ROLLED_BACK) and report.extended == sorted(mk.EXTENDED)
    assert report.cases is not None and report.cases.outcome.added == report.cases_before + report.cases_during > 0

    programme = boot.scenarios.transfer.programme(mk.NAME)
    assert programme is not None
    assert len(programme.listed()) == 177 and len(programme.departments()) == 20

    # Routing from the stored events: a transferred matter goes to the bureau from its batch's cut-over,
    # a rolled-back one was the bureau's during the trial and is its origin department's again now.
    now = datetime.now(UTC)
    before = datetime(2020, 5, 31, 12, tzinfo=SHANGHAI)
    assert authority(boot, "513201-FG-101", before) == FG
    assert authority(boot, "513201-FG-101", now) == BUREAU
    assert authority(boot, "513201-ZJ-117", datetime(2020, 8, 3, 10, tzinfo=SHANGHAI)) == BUREAU
    assert authority(boot, "513201-ZJ-117", now) == ZJ
    extended = next(iter(mk.EXTENDED))
    assert authority(boot, extended, now) == BUREAU  # an extended item stays with the bureau
    # ... and the same through the routing service cases use (B), and the person who moved with the item
    assert boot.routing.competent_authority("513201-FG-101").department == BUREAU
    assert boot.routing.competent_authority("513201-ZJ-117").department == ZJ
    assert boot.routing.actor("513201-fg-01").department == BUREAU  # 人随事走: moved with 513201-FG-101

    # The rerun finds everything done: nothing signed, decided or imported again, the same outcome.
    again = await boot.scenarios.transfer.load(mk.NAME, scale=0.25, wait=600)
    assert (again.signed, again.decided, again.milestones_recorded) == (0, 0, 0)
    assert again.cases is not None and again.cases.outcome.added == 0
    assert again.statuses == report.statuses
    # `transfer plan FILE` again after the cut-overs (its people now hold posts at the bureau): nothing to do.
    reloaded = await boot.transfer.plan(shipped_plan(mk.NAME))
    assert not reloaded.created
    items = boot.scenarios.transfer.items(boot.scenarios.transfer.plan(mk.NAME))
    assert items["513201-ZJ-117"].status is ItemStatus.ROLLED_BACK and not items["513201-ZJ-117"].pending_undo

    # Its wall time is a figure, not a verdict (performance lives in bench/): pytest's --durations shows it,
    # and this line says where it went when run with -s.
    print(
        f"maerkang-2020 whole programme: {elapsed:.0f} s {report.timings}; rerun {again.seconds:.0f} s {again.timings}"
    )
