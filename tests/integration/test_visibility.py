"""Findable in Temporal's own tools: typed search attributes upserted as a case's status changes, a
visibility query by region and status (also through the `temporal` CLI an operator would use), and the
worker registering the attributes on a server that lacks them."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.cases.model import CaseView
from domain.cases.steps import Accept, Decide, Deliver
from domain.catalogue import default_catalogue
from domain.staff import Post
from services.bootstrap import Bootstrap
from services.visibility import ensure_search_attributes, list_workflow_ids
from tests.conftest import temporal_binary
from workflows.search_attributes import (
    ALL,
    CASE_NO,
    CASE_STATUS,
    DEPARTMENT,
    MATTER,
    OVERDUE,
    PROMISED_DEADLINE,
    REGION,
)

from .support import FRONT, OUTPUT, REVIEWER, new_case_no, record_history, staff, take
from .support import MATTER as WENCHUAN_MATTER

pytestmark = pytest.mark.integration
LIXIAN = "理县"
LIXIAN_MATTER = "513222-SCJG-001"
LIXIAN_FRONT = staff(Post.FRONT_DESK, region=LIXIAN)
LIXIAN_REVIEWER = staff(Post.REVIEWER, department="理县市场监督管理局", region=LIXIAN)


async def eventually(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Visibility is eventually consistent: poll until the query answers as expected."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.2)


async def submit(boot: Bootstrap, env: WorkflowEnvironment, matter: str, front: Any) -> str:
    case_no = new_case_no("va")
    with env.with_time_skipping_disabled():  # no timer may act while the test drives the case
        await boot.cases.submit(
            matter_code=matter, applicant="某某餐饮有限公司", materials=list(default_catalogue().get(matter).materials),
            actor=front, case_no=case_no, read_your_writes=False,
        )  # fmt: skip
    return case_no


@pytest.mark.parametrize("fresh", ["sqlite"], indirect=True)
async def test_search_attributes_follow_the_status(fresh: Bootstrap, temporal_env: WorkflowEnvironment) -> None:
    case_no = await submit(fresh, temporal_env, WENCHUAN_MATTER, FRONT)
    handle = temporal_env.client.get_workflow_handle(f"case-{case_no}", result_type=CaseView)
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(CASE_NO) == case_no and attrs.get(REGION) == "汶川县"
    assert attrs.get(DEPARTMENT) == "汶川县市场监督管理局" and attrs.get(MATTER) == WENCHUAN_MATTER
    assert attrs.get(CASE_STATUS) == "submitted" and attrs.get(OVERDUE) is False
    assert attrs.get(PROMISED_DEADLINE) is None  # counted from acceptance

    accepted = await take(fresh.cases, case_no, Accept(actor=FRONT))
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(CASE_STATUS) == "under_review" and attrs.get(PROMISED_DEADLINE) == accepted.promised_deadline

    await take(fresh.cases, case_no, Decide(actor=REVIEWER, outcome="grant"))
    await take(fresh.cases, case_no, Deliver(actor=OUTPUT))
    await handle.result()
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(CASE_STATUS) == "completed"
    history = await handle.fetch_history()
    statuses = [
        json.loads(f["CaseStatus"].data)
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
        and "CaseStatus" in (f := e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
    ]
    # Only what changed; 出件 and 办结 are one command since the one-command-then patch: no 'delivered' between.
    assert statuses == ["submitted", "under_review", "decided", "completed"]
    await record_history(handle, "case_search_attributes")


@pytest.mark.parametrize("fresh", ["postgres"], indirect=True)
async def test_query_by_region_and_status_finds_exactly_those_cases(
    fresh: Bootstrap, temporal_env: WorkflowEnvironment
) -> None:
    queue = fresh.settings.task_queue  # this test's own: other tests' cases are not counted
    wenchuan = [await submit(fresh, temporal_env, WENCHUAN_MATTER, FRONT) for _ in range(4)]
    lixian = [await submit(fresh, temporal_env, LIXIAN_MATTER, LIXIAN_FRONT) for _ in range(3)]
    for case_no in (wenchuan[0], wenchuan[1], wenchuan[3]):
        await take(fresh.cases, case_no, Accept(actor=FRONT))
    for case_no in lixian[:2]:
        await take(fresh.cases, case_no, Accept(actor=LIXIAN_FRONT))
    await take(fresh.cases, wenchuan[3], Decide(actor=REVIEWER, outcome="grant"))
    await take(fresh.cases, wenchuan[3], Deliver(actor=OUTPUT))  # completed: closed
    await take(fresh.cases, lixian[0], Decide(actor=LIXIAN_REVIEWER, outcome="grant"))
    client = temporal_env.client

    def ids(case_nos: list[str]) -> set[str]:
        return {f"case-{c}" for c in case_nos}

    reviewing = f"TaskQueue='{queue}' AND Region='汶川县' AND CaseStatus='under_review'"
    open_here = f"TaskQueue='{queue}' AND Region='汶川县' AND ExecutionStatus='Running'"

    async def answers(query: str, expected: set[str]) -> bool:
        return set(await list_workflow_ids(client, query)) == expected

    await eventually("under review in 汶川县", lambda: answers(reviewing, ids(wenchuan[:2])))
    await eventually("open in 汶川县", lambda: answers(open_here, ids(wenchuan[:3])))
    await eventually(
        "decided in 理县", lambda: answers(f"TaskQueue='{queue}' AND CaseStatus='decided'", ids(lixian[:1]))
    )
    # The open cases of the region are exactly those the store holds as open there.
    store = fresh.store
    open_in_store = {
        c for c in wenchuan + lixian if store.get_case(c).region == "汶川县" and not store.get_case(c).is_closed
    }
    assert set(await list_workflow_ids(client, open_here)) == ids(sorted(open_in_store))

    # What an operator types (docs/operations.md), through the temporal CLI.
    target = client.service_client.config.target_host
    out = subprocess.run(
        [temporal_binary(), "workflow", "list", "--address", target, "--query", reviewing, "--output", "json"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    listed = {w["execution"]["workflowId"] for w in json.loads(out.stdout)}
    assert listed == ids(wenchuan[:2])


async def test_the_worker_registers_missing_attributes(tmp_path: Path) -> None:
    """A server without them (a dev-server database made before, a new cluster): added once, then present."""
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_binary())
    try:
        checked = await ensure_search_attributes(env.client, "default", add=False)
        assert {s.state for s in checked} == {"missing"}
        added = await ensure_search_attributes(env.client, "default")
        assert [s.name for s in added if s.state == "added"] == [k.name for k in ALL]
        again = await ensure_search_attributes(env.client, "default")
        assert {s.state for s in again} == {"present"}
        assert {s.type for s in again} == {"Keyword", "Datetime", "Bool"}
    finally:
        await env.shutdown()
