"""A production-shaped OneSeal without containers: real processes on one machine.

An external Temporal dev server (with the search attributes), the event store and the read models
in two PostgreSQL databases of their own, N ``oneseal worker`` processes, an active ``oneseal project``
and a ``oneseal project --standby``, each worker and projector with its own metrics ports. Used by
tests/e2e/test_scale_out.py (a short run) and bench/bench_scale_out.py (the 500-case figures).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, select

from domain.cases.steps import Accept, Decide, Deliver
from domain.staff import default_staff
from projections.runner import ProjectionRunner, make_engine
from services.bootstrap import Bootstrap
from services.projections import PROJECTIONS
from services.settings import Settings
from tests.ports import free_port
from workflows.search_attributes import dev_server_args

BIN = Path(sys.executable).parent
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
MATTER = "513221-SCJG-001"


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(what: str, ok: Callable[[], bool], timeout: float = 60.0, every: float = 0.1) -> float:
    """Poll until ``ok()``; return the seconds it took."""
    t = time.monotonic()
    while not ok():
        if time.monotonic() - t > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - t


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of every sample of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{(.*)\}})? (\S+)$", line)
        if not m:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    metrics_port: int = 0
    sdk_metrics_port: int = 0
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)  # fmt: skip

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.popen is not None
            os.kill(self.popen.pid, sig)

    def stop(self, grace: float = 5.0) -> None:
        if self.popen is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines of this process (ONESEAL_LOG_FORMAT=json)."""
        found = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    def logged(self, event: str) -> bool:
        return any(e.get("event") == event for e in self.events())


@dataclass
class Cluster:
    workdir: Path
    workers: int = 3
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    temporal_port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)
    temporal: Proc | None = None

    @property
    def databases(self) -> dict[str, str]:
        return {k: f"oneseal_{k}_{self.tag}" for k in ("events", "read", "spare")}

    def url(self, which: str) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.databases[which]}"

    @property
    def task_queue(self) -> str:
        return f"scale-{self.tag}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONESEAL_")}
        return {
            **env,
            "ONESEAL_DATA_DIR": str(self.workdir / "var"),
            "ONESEAL_EVENT_STORE": "postgres",
            "ONESEAL_EVENT_STORE_URL": self.url("events"),
            "ONESEAL_READ_MODEL_URL": self.url("read"),
            "ONESEAL_TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
            "ONESEAL_TASK_QUEUE": self.task_queue,
            "ONESEAL_LOG_FORMAT": "json",
            "ONESEAL_LEASE_POLL": "0.5",
            "ONESEAL_PROJECTION_BATCH": "200",
            **extra,
        }

    def settings(self) -> Settings:
        base = Settings.from_env()
        return replace(
            base, data_dir=self.workdir / "var", event_store="postgres", event_store_url=self.url("events"),
            read_model_url=self.url("read"), temporal_address=f"127.0.0.1:{self.temporal_port}",
            task_queue=self.task_queue, log_format="json", metrics_port=0, temporal_metrics_port=0,
        )  # fmt: skip

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for db in self.databases.values():
                conn.execute(f'CREATE DATABASE "{db}"')
        self.start_temporal()
        for i in range(self.workers):  # together, as a scaled deployment starts them
            self.add("worker", i)
        for p in self.procs:
            wait_for(f"{p.name} metrics", lambda p=p: port_open(p.metrics_port) or not p.alive())
            assert p.alive(), p.log.read_text()[-2000:]
        # Both projectors wait for the lease (as in docker-compose.yml); the first one started is active.
        first = self.add("projector", 0, standby=True)
        wait_for("active projector", lambda: first.logged("projector.active") or not first.alive())
        assert first.alive(), first.log.read_text()[-2000:]
        second = self.add("projector", 1, standby=True)
        wait_for("standby projector", lambda: second.logged("projector.standby"))

    def start_temporal(self) -> None:
        self.temporal = Proc("temporal", [str(BIN / "temporal"), "server", "start-dev", "--headless", "--ip",
                             "127.0.0.1", "--port", str(self.temporal_port), "--log-level", "error",
                             *dev_server_args()], dict(os.environ), self.workdir / "temporal.log")  # fmt: skip
        self.temporal.start()
        wait_for("Temporal dev server", lambda: port_open(self.temporal_port))

    def add(self, role: str, i: int, *, standby: bool = False) -> Proc:
        mport, sport = free_port(), free_port()
        env = self.env(ONESEAL_METRICS_PORT=str(mport), ONESEAL_TEMPORAL_METRICS_PORT=str(sport))
        argv = [str(BIN / "oneseal"), "worker" if role == "worker" else "project"]
        if standby:
            argv.append("--standby")
        p = Proc(f"{role}-{i}", argv, env, self.workdir / f"{role}-{i}.log", mport, sport)
        p.start()
        self.procs.append(p)
        return p

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def stop(self) -> None:
        for p in self.procs:
            p.stop()
        if self.temporal is not None:
            self.temporal.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for db in self.databases.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    # ---- the checks ------------------------------------------------------------------------------

    def duplicates(self) -> dict[str, int]:
        """Events stored twice: by (case, command id) and by (case, event type); and the totals."""
        with psycopg.connect(self.url("events"), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT originator_id, topic, convert_from(state, 'UTF8')::json->>'command_id' FROM cases_events"
            ).fetchall()
        by_command = {(r[0], r[2]) for r in rows}
        by_topic = {(r[0], r[1]) for r in rows}
        return {
            "events": len(rows),
            "cases": len({r[0] for r in rows}),
            "duplicate_commands": len(rows) - len(by_command),
            "duplicate_event_types": len(rows) - len(by_topic),
        }

    def snapshot(self, engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every read model (surrogate integer ids left out), sorted."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with engine.connect() as conn:
            for make in PROJECTIONS.values():
                for table in make().tables:
                    cols = [c for c in table.columns if not (c.name == "id" and c.primary_key)]
                    out[table.name] = sorted((tuple(r) for r in conn.execute(select(*cols))), key=repr)
        return out

    def recompute(self, boot: Bootstrap, until: int) -> dict[str, list[tuple[Any, ...]]]:
        engine = make_engine(self.url("spare"))
        try:
            for make in PROJECTIONS.values():
                ProjectionRunner(boot.store, engine, make(), batch_size=1000).catch_up(until=until)
            return self.snapshot(engine)
        finally:
            engine.dispose()


@dataclass
class RunResult:
    cases: int
    seconds: float
    takeover_seconds: float | None
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.cases / self.seconds


async def drive(
    boot: Bootstrap, n: int, *, concurrency: int = 30, on_progress: Callable[[int], None] | None = None
) -> tuple[float, list[float]]:
    """``n`` cases through their whole life (submit, accept, decide, deliver → completed), ``concurrency`` at once."""
    staff = default_staff()
    front, reviewer, output = (staff.get(u) for u in ("513221-qt-a", "513221-scjg-a", "513221-cj-a"))
    materials = list(boot.store.catalogue.get(MATTER).materials)
    service = boot.cases
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    done = 0
    prefix = uuid.uuid4().hex[:6].upper()

    async def one(i: int) -> None:
        nonlocal done
        async with sem:
            t = time.perf_counter()
            no = f"S{prefix}-{i:05d}"
            await service.submit(matter_code=MATTER, applicant="扩容测试", materials=materials, actor=front,
                                 case_no=no, read_your_writes=False)  # fmt: skip
            await service.step(no, Accept(actor=front), read_your_writes=False)
            await service.step(no, Decide(actor=reviewer, outcome="grant"), read_your_writes=False)
            await service.step(no, Deliver(actor=output), read_your_writes=False)
            latencies.append(time.perf_counter() - t)
            done += 1
            if on_progress:
                on_progress(done)

    t = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - t, sorted(latencies)


async def scale_run(cluster: Cluster, n: int, *, kill_projector_at: float | None = 0.4) -> RunResult:
    """Drive ``n`` cases; when ``kill_projector_at`` of them are done, SIGKILL the active projector and
    measure how long the standby takes to hold the leases."""
    boot = Bootstrap(cluster.settings())
    takeover: list[float] = []
    killed = False

    def progress(done: int) -> None:
        nonlocal killed
        if kill_projector_at is not None and not killed and done >= n * kill_projector_at:
            killed = True
            active, standby = cluster.proc("projector-0"), cluster.proc("projector-1")
            active.signal(signal.SIGKILL)
            t = time.monotonic()

            async def watch() -> None:
                while not standby.logged("projector.active"):
                    if time.monotonic() - t > 30:
                        return
                    await asyncio.sleep(0.05)
                takeover.append(time.monotonic() - t)

            tasks.append(asyncio.ensure_future(watch()))

    tasks: list[asyncio.Future[None]] = []
    seconds, lat = await drive(boot, n, on_progress=progress)
    for task in tasks:
        await task
    return RunResult(n, seconds, takeover[0] if takeover else None, lat)
