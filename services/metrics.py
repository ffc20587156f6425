"""Prometheus metrics of every OneSeal process (docs/operations.md lists them and what to alert on).

- Read models, collected on scrape (at most every ``CACHE_SECONDS``): cases by status, overdue open
  cases, worklist sizes, each projection's position and lag in events and seconds.
- Staff steps, timed in the service layer around their Temporal Update (``services.timing.timed_step``).
- Activities, counted by a worker interceptor (workers/telemetry.py): completions, refusals, failures,
  retries, durations.
- The projector's role (active or standby) and what it projected: workers/projector.py, in that process only.

The Temporal SDK's own metrics (workflow/activity task latencies, polls, slots …) come from its
runtime's Prometheus exporter on ``ONESEAL_TEMPORAL_METRICS_PORT`` (services.bootstrap.temporal_runtime).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, literal, select, union_all

from domain.cases.model import CaseStatus
from domain.errors import DomainError
from projections.queries import TASK_TABLES
from projections.tables import case_facts
from services import errors as infra

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

log = structlog.get_logger("oneseal.metrics")

CACHE_SECONDS = 10.0  # a scrape reads the read models at most this often (GROUP BY over every case)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
PRIORITY = {0: "normal", 1: "warned", 2: "overdue"}

STEP_SECONDS = Histogram(
    "oneseal_step_seconds",
    "A staff step or a submission through the service layer: its Temporal Update and the wait for the read "
    "models to show it, by step and outcome (ok, refused, error)",
    ["step", "outcome"],
    buckets=LATENCY_BUCKETS,
)
ACTIVITIES = Counter(
    "oneseal_activity_executions",
    "Activity attempts finished in this worker, by activity and outcome (completed, refused, failed)",
    ["activity", "outcome"],
)
ACTIVITY_RETRIES = Counter(
    "oneseal_activity_retries", "Activity attempts after the first (attempt > 1) started in this worker", ["activity"]
)
ACTIVITY_SECONDS = Histogram(
    "oneseal_activity_seconds", "Duration of one activity attempt in this worker", ["activity"], buckets=LATENCY_BUCKETS
)


# ---- staff steps ---------------------------------------------------------------------------------


def outcome_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    infrastructure = (infra.TemporalUnreachable, infra.StoreUnreachable, infra.ReadModelUnreadable,
                      infra.CaseRegisterTimeout)  # fmt: skip
    if isinstance(error, DomainError) and not isinstance(error, infrastructure):
        return "refused"
    return "error"


# ---- activities ----------------------------------------------------------------------------------


# The worker interceptor that feeds them: workers/telemetry.py (kept out of here: the CLI imports this module).


# ---- read models, on scrape ----------------------------------------------------------------------


class ReadModelCollector(Collector):
    """Gauges read from the read models and the store when Prometheus scrapes (cached ``CACHE_SECONDS``)."""

    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot
        self._lock = threading.Lock()
        self._at = 0.0
        self._cached: list[GaugeMetricFamily] = []

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # collected lazily: no database access at registration

    def collect(self) -> Iterable[GaugeMetricFamily]:
        with self._lock:
            if time.monotonic() - self._at >= CACHE_SECONDS or not self._cached:
                self._cached = self._read()
                self._at = time.monotonic()
            return list(self._cached)

    def _read(self) -> list[GaugeMetricFamily]:
        up = GaugeMetricFamily("oneseal_read_model_up", "1 if the last scrape could read the read models and store")
        try:
            families = self._families()
        except Exception as e:  # a scrape must not fail: say it in oneseal_read_model_up and the log
            log.warning("metrics.read_models_unreadable", error=str(e).splitlines()[0][:200])
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    def _families(self) -> list[GaugeMetricFamily]:
        from services.health import projection_lags

        engine = self.boot.read_models
        cases = GaugeMetricFamily("oneseal_cases", "Cases in the read models by status", labels=["status"])
        overdue = GaugeMetricFamily(
            "oneseal_cases_overdue", "Open cases past their promised deadline, by region", labels=["region"]
        )
        worklist = GaugeMetricFamily(
            "oneseal_worklist_items",
            "Open tasks in the worklists by post, region and priority (normal, warned, overdue)",
            labels=["post", "region", "priority"],
        )
        closed = [s.value for s in CaseStatus if s.is_closed]
        with engine.connect() as conn:
            counts: dict[str, int] = dict(
                conn.execute(select(case_facts.c.status, func.count()).group_by(case_facts.c.status)).all()
            )
            late = conn.execute(
                select(case_facts.c.region, func.count())
                .where(case_facts.c.overdue.is_(True), case_facts.c.status.not_in(closed))
                .group_by(case_facts.c.region)
            ).all()
            tasks = union_all(*(select(t.c.post, t.c.region, t.c.priority, literal(1).label("n")) for t in TASK_TABLES))
            sub = tasks.subquery()
            items = conn.execute(
                select(sub.c.post, sub.c.region, sub.c.priority, func.count()).group_by(
                    sub.c.post, sub.c.region, sub.c.priority
                )
            ).all()
        for status in CaseStatus:
            cases.add_metric([status.value], counts.get(status.value, 0))
        for region, n in late:
            overdue.add_metric([region], n)
        for post, region, priority, n in items:
            worklist.add_metric([post, region, PRIORITY.get(int(priority), str(priority))], n)
        head = GaugeMetricFamily("oneseal_store_head", "The newest notification id in the event store")
        position = GaugeMetricFamily(
            "oneseal_projection_position", "The last notification id projected, by projection", labels=["projection"]
        )
        lag_events = GaugeMetricFamily(
            "oneseal_projection_lag_events", "Events in the store not yet projected", labels=["projection"]
        )
        lag_seconds = GaugeMetricFamily(
            "oneseal_projection_lag_seconds",
            "Age of the oldest event not yet projected (0 when caught up)",
            labels=["projection"],
        )
        lags = projection_lags(self.boot)
        for p in lags:
            position.add_metric([p.name], p.position)
            lag_events.add_metric([p.name], p.lag_events)
            lag_seconds.add_metric([p.name], p.lag_seconds)
        head.add_metric([], lags[0].head if lags else self.boot.head())
        return [cases, overdue, worklist, head, position, lag_events, lag_seconds]


_installed: ReadModelCollector | None = None
_served: set[int] = set()


def install_read_model_collector(boot: Bootstrap) -> None:
    """Report this bootstrap's read models on scrape (one collector per process; a later call replaces it)."""
    global _installed
    if _installed is not None:
        REGISTRY.unregister(_installed)
    _installed = ReadModelCollector(boot)
    REGISTRY.register(_installed)


def render(boot: Bootstrap | None = None) -> tuple[bytes, str]:
    """The exposition text and its content type, for a web app's /metrics."""
    if boot is not None and (_installed is None or _installed.boot is not boot):
        install_read_model_collector(boot)
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve(boot: Bootstrap, *, read_models: bool) -> int | None:
    """Start this process's metrics endpoint on ONESEAL_METRICS_HOST:ONESEAL_METRICS_PORT (0: none)."""
    s = boot.settings
    if read_models:
        install_read_model_collector(boot)
    if not s.metrics_port or s.metrics_port in _served:
        return None
    start_http_server(s.metrics_port, addr=s.metrics_host)
    _served.add(s.metrics_port)
    log.info("metrics.serving", address=f"http://{s.metrics_host}:{s.metrics_port}/metrics")
    return s.metrics_port
