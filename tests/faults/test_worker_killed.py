"""The worker killed with SIGKILL at random moments during a live drive, restarted by `oneseal up`:
every case finishes, and the event store holds exactly the expected events, none lost, none twice.

The drive is ≈ 44 cases (SMALL), not 300: on a CI runner 300 live cases with restarts take minutes,
and a kill lands mid-command just as surely with 16 cases in flight. The seed of the kill times is in
the failure message (ONESEAL_FAULT_SEED replays it)."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from .support import Drive, Up, check_exactly_once, embedded_env, event_sequences, submitted_cases, wait_until

pytestmark = pytest.mark.integration
KILLS = 3


def test_worker_killed_at_random_moments_every_case_finishes_exactly_once(tmp_path: Path) -> None:
    seed = int(os.environ.get("ONESEAL_FAULT_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    env = embedded_env(tmp_path, ONESEAL_STACK_MAX_RESTARTS="20")
    events = tmp_path / "var" / "events.db"
    up = Up(env).start()
    killed: list[int] = []
    try:
        drive = Drive(env)
        wait_until(lambda: submitted_cases(events) >= 4, 120, "the drive to be under way")
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.5, 4.0))
            if drive.proc.poll() is not None:
                break
            worker = wait_until(lambda: up.child("worker")["pid"], 60, "the worker to run again")
            os.kill(worker, signal.SIGKILL)
            killed.append(worker)
        rc = drive.wait(timeout=300)
        assert rc == 0, f"seed {seed}: {drive.stderr[-3000:]}"
        assert "Traceback" not in drive.stderr
        assert killed, f"seed {seed}: the drive ended before the first kill"
        assert up.child("worker")["restarts"] == len(killed)
        check_exactly_once(event_sequences(events), drive.report())
        assert up.stop() == 0
    finally:
        up.kill()
