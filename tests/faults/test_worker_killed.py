"""The worker killed with SIGKILL at random moments during a live drive of 302 cases (LIVE_300), restarted
by `oneseal up`: every case finishes, and the event store holds exactly the expected events, none lost, none
twice.

The kills are spread over the whole drive: its case events (every step of every case) are cut into KILLS
equal stretches, and the worker is killed once at a random point inside each, so the store's count of case
events is the drive's clock and a kill never lands while the drive is still held up by the one before.
The seed of the kill points is in the failure message (ONESEAL_FAULT_SEED replays it).

What it costs (2 shared cores, quiet: load ≈ 2, most of it this test's own processes): `up` starts in 3 s,
the drive alone takes ≈ 40 s, and ≈ 57 s with the 6 kills; stopping ≈ 2 s. A kill holds up each case the
dead worker had in hand for 10 s, the timeout of whatever it held (the command's start-to-close,
workflow.case.COMMAND_TIMEOUT; the workflow task's start-to-close; the dead worker's sticky queue), while
the other cases go on: about 10 of the 32 in flight per kill, and the drive cannot end before the last
kill's have waited theirs. 16, 32 or 64 cases in flight made no difference. ONESEAL_STACK_STABLE_AFTER=5:
a worker that ran 5 s is restarted after 0.5 s again, not after 1, 2, 4 … 16 s (the back-off has tests of
its own; here it would only add wall time)."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from .support import LIVE_300, Drive, Up, case_events, check_exactly_once, embedded_env, event_sequences, wait_until

pytestmark = pytest.mark.integration
KILLS = 6
CONCURRENCY = 32
# The drive's case events (its plan is fixed by the scenario's seed): 300 cases completed (Submitted, Accepted,
# Decided, Delivered, Completed), 2 left open (Submitted, Accepted), 25 with a correction round (2 more each).
EVENTS = 300 * 5 + 2 * 2 + 25 * 2
DRIVE_TIMEOUT = 600.0


def kill_points(rng: random.Random, kills: int, events: int) -> list[int]:
    """One random count of case events in each of ``kills`` equal stretches of the drive (its first and last
    5 % left out), so kills are at least 40 % of a stretch apart."""
    lo, hi = events * 0.05, events * 0.95
    width = (hi - lo) / kills
    return [round(lo + (i + rng.uniform(0.2, 0.8)) * width) for i in range(kills)]


def test_worker_killed_at_random_moments_every_case_finishes_exactly_once(tmp_path: Path) -> None:
    seed = int(os.environ.get("ONESEAL_FAULT_SEED", str(random.randrange(1 << 30))))
    points = kill_points(random.Random(seed), KILLS, EVENTS)
    env = embedded_env(tmp_path, ONESEAL_STACK_MAX_RESTARTS="20", ONESEAL_STACK_STABLE_AFTER="5")
    db = tmp_path / "var" / "events.db"
    began = time.monotonic()
    up = Up(env).start()
    killed: list[tuple[float, int, int]] = []  # seconds into the drive, case events at the kill, the worker's pid
    try:
        drive = Drive(env, LIVE_300, concurrency=CONCURRENCY)
        started = time.monotonic()
        deadline = started + DRIVE_TIMEOUT
        for point in points:
            gone = {pid for _, _, pid in killed}
            # The restarted worker's pid first, so the kill lands at the point.
            worker = wait_until(lambda: (p := up.pid("worker")) not in gone and p, 60, "the worker to restart")  # noqa: B023
            while drive.proc.poll() is None and case_events(db) < point and time.monotonic() < deadline:
                time.sleep(0.1)
            if drive.proc.poll() is not None or time.monotonic() >= deadline:
                break
            os.kill(worker, signal.SIGKILL)
            killed.append((round(time.monotonic() - started, 1), case_events(db), worker))
        rc = drive.wait(timeout=max(1.0, deadline - time.monotonic()))
        took = time.monotonic() - started
        what = f"seed {seed}: kills at {points} case events, done at (s, events, pid) {killed}; drive {took:.0f} s"
        assert rc == 0, f"{what}\n{drive.stderr[-3000:]}"
        assert "Traceback" not in drive.stderr, what
        report = drive.report()
        assert report["driver"]["submitted"] >= 300, (what, report)
        assert len(killed) == KILLS, f"{what}: the drive ended before the last kill"
        assert up.child("worker")["restarts"] == len(killed), what
        check_exactly_once(event_sequences(db), report)
        assert up.stop() == 0, what
        print(
            f"\n{what}; up started in {started - began:.0f} s, checked and stopped in {time.monotonic() - started - took:.0f} s"
        )
    finally:
        up.kill()
