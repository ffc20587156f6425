"""A standby projector on SQLite (the file lock; PostgreSQL's advisory lock is in tests/e2e/test_scale_out.py):
it waits instead of failing, takes over within seconds of the active one's SIGKILL, carries on from
its position, and stops at once on SIGTERM while it waits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domain.cases.application import CaseApplication
from projections.runner import make_engine, tracking_position

from .support import seed_live_cases

pytestmark = pytest.mark.integration
ONESEAL = str(Path(sys.executable).parent / "oneseal")


def logged(path: Path, event: str) -> bool:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{") and json.loads(line).get("event") == event:
            return True
    return False


def wait(what: str, ok, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    t = time.monotonic()
    while not ok():
        assert time.monotonic() - t < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - t


def test_standby_waits_takes_over_and_stops(tmp_path: Path) -> None:
    events = str(tmp_path / "events.db")
    app = CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": events})
    seed_live_cases(app, 200, seed=5)
    env = {**os.environ, "ONESEAL_DATA_DIR": str(tmp_path), "ONESEAL_EVENT_STORE": "sqlite",
           "ONESEAL_EVENT_STORE_URL": events, "ONESEAL_READ_MODEL_URL": f"sqlite:///{tmp_path / 'rm.db'}",
           "ONESEAL_LOG_FORMAT": "json", "ONESEAL_LEASE_POLL": "0.2"}  # fmt: skip

    def start(name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"{name}.log"
        out = log.open("wb")
        return subprocess.Popen([ONESEAL, "project", *args], env=env, stdout=out, stderr=subprocess.STDOUT), log

    active, active_log = start("active")
    wait("the active projector", lambda: logged(active_log, "projector.active"))
    standby, standby_log = start("standby", "--standby")
    late, late_log = start("late")  # no --standby: refused, as before
    try:
        assert late.wait(30) != 0 and "PROJECTION_BUSY" in late_log.read_text()
        wait("the standby to wait", lambda: logged(standby_log, "projector.standby"))
        time.sleep(0.5)
        assert not logged(standby_log, "projector.active")

        engine = make_engine(f"sqlite:///{tmp_path / 'rm.db'}")
        head = int(app.recorder.max_notification_id() or 0)
        wait("the active projector to catch up", lambda: tracking_position(engine, "cases") >= head)
        os.kill(active.pid, signal.SIGKILL)
        active.wait(10)
        took = wait("the standby to take over", lambda: logged(standby_log, "projector.active"), 10)
        assert took <= 5.0
        seed_live_cases(app, 20, seed=6)  # the new active one carries on from its position
        head = int(app.recorder.max_notification_id() or 0)
        wait("the new active projector", lambda: tracking_position(engine, "cases") >= head)

        # A standby that is still waiting stops promptly on SIGTERM.
        spare, spare_log = start("spare", "--standby")
        wait("a second standby to wait", lambda: logged(spare_log, "projector.standby"))
        t = time.monotonic()
        spare.send_signal(signal.SIGTERM)
        assert spare.wait(10) == 0 and time.monotonic() - t < 5
    finally:
        for p in (active, standby, late):
            if p.poll() is None:
                p.kill()
                p.wait()
