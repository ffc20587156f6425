"""Resident memory of the worker with many open cases cached and idle, and of the projector during a
long catch-up (issue 10 item 7). Not a test: run it and copy the printed lines into docs/performance.md.

    .venv/bin/python -m bench.bench_memory worker [N] [SECONDS]   # N open cases, at most SECONDS submitting
    .venv/bin/python -m bench.bench_memory projector [EVENTS]     # catch-up over about EVENTS events

worker: one fresh in-memory dev server; the worker runs in a process of its own (its RSS alone is read from
/proc), built by ``workers.worker.build_worker`` with a sticky cache as large as N; the driver (this process)
starts N CaseWorkflows, 50 registering at a time (submit only: every case then waits, open, on its deemed-acceptance timer), waits
until each is registered in the SQLite event store, lets the worker sit idle, and samples its RSS.

projector: seeds live-style cases through the Case aggregate (``seed_live_cases``), then copies their
stored events under new aggregate ids and case numbers (SQL, in the same store) until the store holds
about EVENTS events; a projector process (``ProjectionRunner.catch_up`` of the ``cases`` projection into a
fresh SQLite read model) catches up while this process samples its RSS every 0.5 s.
"""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

PY = sys.executable


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def header() -> str:
    return (
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load {os.getloadavg()[0]:.1f}"
    )


# ---- worker -------------------------------------------------------------------------------------------


async def _run_worker(target: str, queue: str, db: str, cache: int) -> None:
    from temporalio.client import Client

    from domain.cases.application import CaseApplication
    from workers.logging import configure_logging
    from workers.worker import build_worker

    configure_logging("console", level=40)
    client = await Client.connect(target)
    app = CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db})
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with build_worker(client, app, queue, max_cached_workflows=cache):
        print("ready", flush=True)
        await stop.wait()


def registered(db: str) -> int:
    with sqlite3.connect(db, timeout=30) as c:
        try:
            return int(c.execute("SELECT count(*) FROM stored_events WHERE originator_version = 1").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


async def bench_worker(n: int, budget: float) -> None:
    from temporalio.service import RPCError
    from temporalio.testing import WorkflowEnvironment

    from domain.catalogue import default_catalogue
    from domain.staff import default_staff
    from services.settings import Settings
    from workers.logging import configure_logging
    from workflows.case import CaseWorkflow
    from workflows.contracts import CaseInput
    from workflows.names import case_workflow_id
    from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

    configure_logging("console", level=40)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(PY).parent / "temporal"), search_attributes=SEARCH_ATTRIBUTES
    )
    d = tempfile.mkdtemp()
    db = f"{d}/events.db"
    queue = "bench-memory"
    target = env.client.service_client.config.target_host
    worker = subprocess.Popen(
        [PY, "-m", "bench.bench_memory", "_worker", target, queue, db, str(n)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        await asyncio.sleep(2)
        print(header())
        print(f"worker idle, 0 cases: RSS {rss_mib(worker.pid):.0f} MiB", flush=True)
        rules = Settings.from_env().rules
        front = default_staff().get("513221-qt-a")
        matter = "513221-SCJG-001"
        materials = list(default_catalogue().get(matter).materials)
        sem = asyncio.Semaphore(50)
        started = 0
        t0 = time.perf_counter()

        async def one(i: int) -> None:
            nonlocal started
            async with sem:  # bounded by registration, not by the start alone (a flood of starts starves it)
                if time.perf_counter() - t0 > budget:
                    return
                no = f"M{i:06d}"
                inp = CaseInput(no, matter, "bench", materials, front, rules)
                h = await env.client.start_workflow(CaseWorkflow.run, inp, id=case_workflow_id(no), task_queue=queue)
                started += 1
                while True:
                    try:
                        if (await h.query(CaseWorkflow.status)).case is not None:
                            break
                    except RPCError:  # a query timed out on the starved server: ask again
                        pass
                    await asyncio.sleep(0.2)

        async def sample() -> None:
            while True:
                await asyncio.sleep(30)
                print(
                    f"  {time.perf_counter() - t0:.0f} s: {started} started, {registered(db)} registered, "
                    f"worker RSS {rss_mib(worker.pid):.0f} MiB, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )

        sampler = asyncio.create_task(sample())
        await asyncio.gather(*(one(i) for i in range(n)))
        while registered(db) < started and time.perf_counter() - t0 < budget + 600:
            await asyncio.sleep(1)
        sampler.cancel()
        took = time.perf_counter() - t0
        open_cases = registered(db)
        print(f"{started} started, {open_cases} registered (open, idle, cached) in {took:.0f} s", flush=True)
        samples = []
        for _ in range(6):  # idle: nothing runs but the pollers
            await asyncio.sleep(10)
            samples.append(rss_mib(worker.pid))
        print(
            f"worker idle with {open_cases} open cases cached: RSS {samples[-1]:.0f} MiB "
            f"(samples over 60 s: {', '.join(f'{s:.0f}' for s in samples)}); load {os.getloadavg()[0]:.1f}"
        )
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        await env.shutdown()


# ---- projector ----------------------------------------------------------------------------------------


def replicate(db: str, target: int) -> int:
    """Copy the stored events under new aggregate ids (the last 8 hex digits replaced by the copy number)
    and new case numbers, until the store holds about ``target`` events."""
    with sqlite3.connect(db) as c:
        base = int(c.execute("SELECT count(*) FROM stored_events").fetchone()[0])
        copies = max(0, -(-target // base) - 1)
        for k in range(1, copies + 1):
            c.execute(
                "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                "SELECT substr(originator_id, 1, 24) || printf('%08x', ?), originator_version, topic, "
                'CAST(replace(CAST(state AS TEXT), \'"case_no":"S1-\', ?) AS BLOB) '
                "FROM stored_events WHERE rowid <= ?",
                (k, f'"case_no":"C{k}-', base),
            )
        c.commit()
        return int(c.execute("SELECT count(*) FROM stored_events").fetchone()[0])


def _run_projector(db: str, rm: str) -> None:
    from domain.cases.application import CaseApplication
    from projections.cases import CasesProjection
    from projections.runner import ProjectionRunner, make_engine

    app = CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db})
    runner = ProjectionRunner(app, make_engine(f"sqlite:///{rm}"), CasesProjection())
    w, c = time.perf_counter(), time.process_time()
    n = runner.catch_up()
    w, c = time.perf_counter() - w, time.process_time() - c
    print(f"caught up {n:,} events in {w:.1f} s (CPU {c:.1f} s): {n / w:,.0f} events/s (CPU: {n / c:,.0f}/s)")


def bench_projector(target: int, cases: int = 30_000) -> None:
    from domain.cases.application import CaseApplication
    from tests.integration.support import seed_live_cases

    with tempfile.TemporaryDirectory() as d:
        db = f"{d}/events.db"
        app = CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db})
        t = time.perf_counter()
        seeded = seed_live_cases(app, cases, seed=1)
        del app
        total = replicate(db, target)
        print(header())
        print(
            f"store: {seeded:,} events seeded from {cases:,} cases, {total:,} with copies ({time.perf_counter() - t:.0f} s)"
        )
        proc = subprocess.Popen([PY, "-m", "bench.bench_memory", "_project", db, f"{d}/rm.db"])
        samples: list[tuple[float, float]] = []
        t = time.perf_counter()
        while proc.poll() is None:
            try:
                samples.append((time.perf_counter() - t, rss_mib(proc.pid)))
            except FileNotFoundError:
                break
            time.sleep(0.5)
        peak = max(s for _, s in samples)
        print(
            f"projector RSS over the catch-up: peak {peak:.0f} MiB; at 10/50/90 % of the time: "
            + ", ".join(f"{samples[int(len(samples) * p)][1]:.0f}" for p in (0.1, 0.5, 0.9))
            + f" MiB; load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "worker"
    if cmd == "_worker":
        asyncio.run(_run_worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
    elif cmd == "_project":
        _run_projector(sys.argv[2], sys.argv[3])
    elif cmd == "worker":
        asyncio.run(
            bench_worker(
                int(sys.argv[2]) if len(sys.argv) > 2 else 10_000, float(sys.argv[3]) if len(sys.argv) > 3 else 900
            )
        )
    else:
        bench_projector(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
    sys.stdout.flush()
    os._exit(0)  # skip finalisation: the Temporal runtime's native threads can abort it (as workers/worker.py)
