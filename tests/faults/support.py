"""Real processes for the fault tests: an embedded `oneseal up` of its own, a live `scenario drive`,
and the event store read back row by row to prove nothing was lost or recorded twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.ports import free_port
from workers.stack_state import read_state

ONESEAL = str(Path(sys.executable).parent / "oneseal")
SCENARIO = "aba-2020-04"
SMALL = 0.0005  # 43 cases of the scenario month
TINY = 0.0003  # 25 cases: enough to be mid-drive when one fault hits
LIVE_300 = 0.0035  # 302 cases (300 of them completed): the ">= 300 live cases"

# The only event sequences a driven case may have (a correction round, then accepted; completed or left open).
OPEN = ("Submitted", "Accepted")
CORRECTED = ("Submitted", "CorrectionNoticeIssued", "Supplemented", "Accepted")
DONE = ("Decided", "Delivered", "Completed")
LEGAL = {OPEN, CORRECTED, OPEN + DONE, CORRECTED + DONE}


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def embedded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A stack of its own: fresh data dir, free ports, the embedded dev server, quick restarts."""
    env = {**os.environ, "ONESEAL_DATA_DIR": str(tmp_path / "var"), "ONESEAL_DEV_SERVER_PORT": str(free_port()),
           "ONESEAL_DEV_SERVER_UI_PORT": str(free_port()), "ONESEAL_WEB_PORT": str(free_port()),
           "ONESEAL_METRICS_PORT": "0", "ONESEAL_STACK_BACKOFF": "0.5", "COLUMNS": "200", **extra}  # fmt: skip
    env.pop("ONESEAL_TEMPORAL_ADDRESS", None)
    return env


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ONESEAL, *args], env=env, capture_output=True, text=True, timeout=timeout)


class Up:
    """`oneseal up` in the background; its output collected in a file (never a full pipe)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.data_dir = Path(env["ONESEAL_DATA_DIR"])
        self.log = self.data_dir.parent / "up.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Up:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([ONESEAL, "up"], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: "试一试" in self.output or self.proc.poll() is not None, 120, "oneseal up to start")  # type: ignore[union-attr]
        assert self.proc.poll() is None, self.output
        return self

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def status(self) -> dict[str, Any]:
        for _ in range(20):  # the state file is rewritten as children change: read again if caught mid-write
            r = cli(self.env, "status", "--json")
            try:
                return dict(json.loads(r.stdout))
            except json.JSONDecodeError:
                time.sleep(0.2)
        raise AssertionError(f"status --json: {r.stdout}{r.stderr}")

    def child(self, name: str) -> dict[str, Any]:
        return next(c for c in self.status()["children"] if c["name"] == name)

    def pid(self, name: str) -> int | None:
        """A child's pid from `up`'s state file, read directly: cheap enough to poll while a drive runs
        (a `status` CLI call costs most of a second of CPU)."""
        state = read_state(self.data_dir) or {}
        child = next((c for c in state.get("children", []) if c.get("name") == name), None)
        return int(child["pid"]) if child and child.get("pid") else None

    def stop(self, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Drive:
    """`oneseal scenario drive` as a subprocess, its output in files."""

    def __init__(self, env: dict[str, str], scale: float = SMALL, concurrency: int = 16, tag: str = "drive") -> None:
        base = Path(env["ONESEAL_DATA_DIR"]).parent
        self.out, self.err = base / f"{tag}.out", base / f"{tag}.err"
        with self.out.open("wb") as o, self.err.open("wb") as e:
            self.proc = subprocess.Popen(
                [ONESEAL, "scenario", "drive", SCENARIO, "--scale", str(scale), "--concurrency", str(concurrency),
                 "--json"], env=env, stdout=o, stderr=e,
            )  # fmt: skip

    def wait(self, timeout: float = 240) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"drive did not finish in {timeout:.0f} s:\n{self.stderr[-3000:]}") from None

    @property
    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def report(self) -> dict[str, Any]:
        return dict(json.loads(self.out.read_text(encoding="utf-8")))


def event_sequences(events_db: Path) -> dict[str, tuple[str, ...]]:
    """Every case's events in the store, in version order (the SQLite store's own table)."""
    seqs: dict[str, list[tuple[int, str]]] = defaultdict(list)
    with sqlite3.connect(f"file:{events_db}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT originator_id, originator_version, topic FROM stored_events").fetchall()
    for originator, version, topic in rows:
        if ":Case." in topic:
            seqs[originator].append((version, topic.rsplit(".", 1)[-1]))
    return {k: tuple(name for _, name in sorted(v)) for k, v in seqs.items()}


def submitted_cases(events_db: Path) -> int:
    if not events_db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{events_db}?mode=ro", uri=True, timeout=5) as db:
            return int(
                db.execute("SELECT count(*) FROM stored_events WHERE topic LIKE '%:Case.Submitted'").fetchone()[0]
            )
    except sqlite3.OperationalError:
        return 0


def case_events(events_db: Path) -> int:
    """How many case events the store holds: a drive's progress, every step of every case counted."""
    if not events_db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{events_db}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM stored_events WHERE topic LIKE '%:Case.%'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def check_exactly_once(sequences: dict[str, tuple[str, ...]], report: dict[str, Any], resumed: bool = False) -> None:
    """Every driven case has exactly one legal event sequence, and the store agrees with the driver's counts
    (for a resumed drive, only with what it planned: its counts are what the rerun itself did)."""
    shapes = Counter(sequences.values())
    illegal = {s: n for s, n in shapes.items() if s not in LEGAL}
    assert not illegal, f"events lost or recorded twice: {illegal}"
    d = report["driver"]
    assert len(sequences) == d["submitted"], (len(sequences), d)
    if resumed:
        assert sum(n for s, n in shapes.items() if s[-1] == "Accepted") == d["open"], (shapes, d)
        return
    assert sum(n for s, n in shapes.items() if s[-1] == "Completed") == d["completed"], (shapes, d)
    assert sum(n for s, n in shapes.items() if s[-1] == "Accepted") == d["open"], (shapes, d)
    assert sum(n for s, n in shapes.items() if "Supplemented" in s) == d["corrections"], (shapes, d)
    assert report["match"] is True, report
