"""Scale-out figures: N cases through their whole life with 1 and with 3 `oneseal worker` processes, and the
time a standby projector takes to replace a SIGKILLed active one.

Not a test (tests/e2e/test_scale_out.py is the short version): run
``.venv/bin/python -m bench.bench_scale_out [N]`` (default 500) and copy the table into docs/performance.md.
Each leg starts its own cluster of real processes (tests/e2e/cluster.py): an external Temporal dev server
(in memory), PostgreSQL databases of its own for the event store and read models, the workers, an active
and a standby projector; the driver (this process) keeps 30 cases in flight through the service layer.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from projections.runner import make_engine, tracking_position
from services.bootstrap import Bootstrap
from tests.e2e.cluster import Cluster, metric_sum, scale_run, scrape, wait_for
from workers.logging import configure_logging


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))]


def leg(workers: int, n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as d:
        cluster = Cluster(Path(d), workers=workers)
        cluster.start()
        load_before = os.getloadavg()[0]
        try:
            cpu0 = os.times()
            result = asyncio.run(scale_run(cluster, n, kill_projector_at=0.4))
            per_worker = {
                p.name: int(
                    metric_sum(scrape(p.metrics_port), "oneseal_activity_executions_total", outcome="completed")
                )
                for p in cluster.procs
                if p.name.startswith("worker")
            }
            boot = Bootstrap(cluster.settings())
            head = boot.head()
            engine = make_engine(cluster.url("read"))
            t = time.monotonic()
            wait_for("catch-up", lambda: tracking_position(engine, "cases") >= head, 120)
            catch_up = time.monotonic() - t
            equal = cluster.snapshot(engine) == cluster.recompute(boot, head)
            engine.dispose()
            dup = cluster.duplicates()
            driver_cpu = sum(os.times()[:2]) - sum(cpu0[:2])
            load_after = os.getloadavg()[0]
        finally:
            cluster.stop()
    return {
        "workers": workers, "cases": n, "seconds": result.seconds, "rate": result.rate,
        "p50": pct(result.latencies, 0.5), "p99": pct(result.latencies, 0.99), "takeover": result.takeover_seconds,
        "per_worker": per_worker, "duplicates": dup, "equal": equal, "catch_up_after": catch_up,
        "driver_cpu": driver_cpu, "load": (load_before, load_after),
    }  # fmt: skip


def main(n: int) -> None:
    configure_logging("console", level=40)
    legs = [leg(1, n), leg(3, n)]
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; N={n}, 30 in flight; PostgreSQL event store and read models"
    )
    print("| workers | cases | seconds | cases/s | p50 s | p99 s | standby takeover s | activities per worker |"
          " duplicate events | read models = recomputation |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in legs:
        dup = r["duplicates"]
        assert isinstance(dup, dict)
        print(
            f"| {r['workers']} | {r['cases']} | {r['seconds']:.1f} | {r['rate']:.2f} | {r['p50']:.2f} | {r['p99']:.2f} "
            f"| {r['takeover']:.2f} | {' / '.join(str(v) for v in r['per_worker'].values())} "  # type: ignore[attr-defined]
            f"| {dup['duplicate_commands'] + dup['duplicate_event_types']} of {dup['events']} | {r['equal']} |"
        )
    for r in legs:
        load = r["load"]
        assert isinstance(load, tuple)
        print(
            f"workers={r['workers']}: driver CPU {r['driver_cpu']:.1f} s, catch-up after the run "
            f"{r['catch_up_after']:.2f} s, 1-min load average {load[0]:.1f} before / {load[1]:.1f} after "
            "(anything above the 2 CPUs is other processes on the machine)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
