"""The projection process (`oneseal project`): keeps the read models up to date, exactly once.

One projector is active per read-model database: it holds every projection's lease (a PostgreSQL
advisory lock, or a file lock beside the SQLite file). Without ``--standby`` a second one fails at
once with PROJECTION_BUSY; with ``--standby`` it waits, trying the leases every ``ONESEAL_LEASE_POLL``
seconds, and takes over when the active one dies (its lock goes with its connection). The runners
are built only once the leases are held, so a standby never touches the tables the active one writes.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import ExitStack
from typing import Any

import structlog
from prometheus_client import Counter, Gauge

from projections.runner import ProjectionBusy, ProjectionRunner, lease, make_engine, run_all, waiting_lease
from services.bootstrap import Bootstrap
from services.metrics import serve
from services.projections import PROJECTIONS
from workers.logging import configure_logging
from workers.stopping import StopFlag, stop_on_signals

log = structlog.get_logger("oneseal.projector")

# Only the projector process has these (docs/operations.md).
PROJECTOR_ACTIVE = Gauge(
    "oneseal_projector_active", "1 while this projector holds the leases and projects, 0 while it waits (standby)"
)
PROJECTED_EVENTS = Counter(
    "oneseal_projection_notifications", "Notifications this projector has projected", ["projection"]
)


class CountingRunner(ProjectionRunner):
    """A runner that counts what it projects (oneseal_projection_notifications_total)."""

    def step(self, until: int | None = None) -> int:
        n = super().step(until)
        if n:
            PROJECTED_EVENTS.labels(self.name).inc(n)
        return n

    def catch_up_sharded(self, *args: Any, **kwargs: Any) -> int:
        n = super().catch_up_sharded(*args, **kwargs)
        if n:
            PROJECTED_EVENTS.labels(self.name).inc(n)
        return n


def main(standby: bool = False) -> int:
    boot = Bootstrap()
    settings = boot.settings
    configure_logging(settings.log_format)
    batch = int(os.environ.get("ONESEAL_PROJECTION_BATCH", "5000"))
    idle = float(os.environ.get("ONESEAL_PROJECTOR_IDLE", "0.05"))  # caught up: look at the store's head this often
    engine = make_engine(settings.read_model_url)
    stop = StopFlag()  # not threading.Event: setting one from a signal handler can deadlock
    stop_on_signals(stop)
    PROJECTOR_ACTIVE.set(0)
    serve(boot, read_models=True)
    with ExitStack() as leases:
        for name in PROJECTIONS:
            if not standby:
                try:
                    leases.enter_context(lease(engine, name))
                except ProjectionBusy as e:
                    log.error("projector.busy", projection=name, code=e.code)
                    print(
                        f"✗ {e}；如需备用进程，请用 oneseal project --standby  ({e.code})", file=sys.stderr, flush=True
                    )
                    return 2
            elif not leases.enter_context(waiting_lease(engine, name, stop, settings.lease_poll)):
                log.info("projector.stopped_in_standby")
                return 0
        if not _repaired(settings.read_model_url):
            return 1
        engine.dispose()  # nothing was open on a moved file; a fresh pool all the same
        PROJECTOR_ACTIVE.set(1)
        log.info("projector.active", projections=list(PROJECTIONS), standby=standby, pid=os.getpid())
        runners: list[ProjectionRunner] = [
            CountingRunner(
                boot.store,
                engine,
                make(),
                batch_size=batch,
                shards=settings.projector_shards,
                shard_threshold=settings.projector_shard_threshold,
            )
            for make in PROJECTIONS.values()
        ]
        watch = CorruptionWatch(settings.read_model_url, float(os.environ.get("ONESEAL_READ_MODEL_CHECK", "60")), stop)
        run_all(runners, stop, idle_sleep=idle)
    PROJECTOR_ACTIVE.set(0)
    if watch.found:  # exit: `up` (or any supervisor) restarts us, and the start moves the file aside and rebuilds
        log.error("projector.read_model_corrupt", url=settings.read_model_url, reason=watch.found, restarting=True)
        print(f"✗ 读模型文件已损坏（{watch.found}），投影进程退出，重启时从事件重建", file=sys.stderr, flush=True)
        return 1
    return 0


class CorruptionWatch:
    """Every ``every`` seconds, SQLite's quick check of the read-model file (a thread, read-only): a file
    damaged under a running projector stops it, so that its restart rebuilds the read models. An idle
    projector would otherwise sit on a file every reader fails on."""

    def __init__(self, url: str, every: float, stop: StopFlag) -> None:
        from projections.integrity import sqlite_file

        self.url, self.every, self.stop = url, every, stop
        self.found: str | None = None
        if sqlite_file(url) is not None and every > 0:
            threading.Thread(target=self._run, name="read-model-check", daemon=True).start()

    def _run(self) -> None:
        from projections.integrity import corruption

        while not self.stop.wait(self.every):
            why = corruption(self.url)
            if why is not None:
                self.found = why
                self.stop.set()
                return


def _repaired(url: str) -> bool:
    """With the leases held: a corrupt SQLite read model is moved aside, and the runners rebuild it from
    the events in a fresh file (projections/integrity.py). False if it could not even be moved."""
    from projections.integrity import repair

    try:
        found = repair(url)
    except OSError as e:
        log.error("projector.read_model_corrupt", url=url, moved=False, reason=str(e))
        print(f"✗ 读模型文件已损坏且无法移开：{e}  (READ_MODEL_UNREADABLE)", file=sys.stderr, flush=True)
        return False
    if found is not None:
        why, moved_to = found
        log.error("projector.read_model_corrupt", url=url, reason=why, moved_to=str(moved_to), rebuilding=True)
        print(f"! 读模型文件已损坏（{why}），已移至 {moved_to}，正在从事件重建", file=sys.stderr, flush=True)
    return True


if __name__ == "__main__":
    raise SystemExit(main())
