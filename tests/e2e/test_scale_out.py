"""Scale-out and failover without containers: three workers and two projectors (one standby) on one
PostgreSQL and an external Temporal dev server. Every worker takes work, no event is stored twice, the
standby replaces a SIGKILLed projector within 5 s, and the read models equal a recomputation.

The 500-case run with the figures in docs/performance.md is bench/bench_scale_out.py; this is the
same run, smaller, so `make test` stays within its budget."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from projections.runner import make_engine, tracking_position
from services.bootstrap import Bootstrap

from .cluster import Cluster, metric_sum, scale_run, scrape, wait_for

pytestmark = pytest.mark.integration
CASES = 150
TAKEOVER_LIMIT = 5.0


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = Cluster(tmp_path, workers=3)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def test_three_workers_and_a_standby_projector(cluster: Cluster) -> None:
    result = asyncio.run(scale_run(cluster, CASES, kill_projector_at=0.4))
    print(
        f"\n{CASES} cases in {result.seconds:.1f} s = {result.rate:.1f} cases/s; takeover {result.takeover_seconds} s"
    )

    # The standby took the leases within the limit, and the killed one is gone.
    assert not cluster.proc("projector-0").alive()
    assert result.takeover_seconds is not None and result.takeover_seconds <= TAKEOVER_LIMIT
    standby = cluster.proc("projector-1")
    assert metric_sum(scrape(standby.metrics_port), "oneseal_projector_active") == 1

    # Every worker took work (its own activity counter), and together they ran every command.
    per_worker = {
        p.name: metric_sum(scrape(p.metrics_port), "oneseal_activity_executions_total", outcome="completed")
        for p in cluster.procs
        if p.name.startswith("worker")
    }
    print(f"activities per worker: {per_worker}")
    assert all(n > 0 for n in per_worker.values()), per_worker
    assert sum(per_worker.values()) >= 4 * CASES
    # The Temporal SDK's own metrics, from each worker's runtime.
    sdk = scrape(cluster.proc("worker-0").sdk_metrics_port)
    assert "temporal_workflow_completed" in sdk and "temporal_activity_execution_latency" in sdk

    # No event stored twice: one per command, one of each type per case.
    counts = cluster.duplicates()
    print(f"events: {counts}")
    assert counts["cases"] == CASES and counts["events"] == 5 * CASES
    assert counts["duplicate_commands"] == 0 and counts["duplicate_event_types"] == 0

    # The standby caught up, and what it built equals a recomputation from the events.
    boot = Bootstrap(cluster.settings())
    head = boot.head()
    engine = make_engine(cluster.url("read"))
    wait_for("the standby to catch up", lambda: all(tracking_position(engine, n) >= head for n in ("cases",)), 60)
    live = cluster.snapshot(engine)
    assert live == cluster.recompute(boot, head)
    assert sum(1 for row in live["case_facts"] if "completed" in row) == CASES
    engine.dispose()
