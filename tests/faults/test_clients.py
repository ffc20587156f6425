"""Clients that survive faults: a drive whose Temporal goes away says so in Chinese (exit 3, no
traceback) and, rerun once the stack is back, finishes its own cases without submitting new ones; a
corrupt read-model file is reported to readers, and rebuilt from the events by the projector and by
`oneseal projections rebuild`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from .support import (
    TINY,
    Drive,
    Up,
    check_exactly_once,
    cli,
    embedded_env,
    event_sequences,
    submitted_cases,
    wait_until,
)

pytestmark = pytest.mark.integration
SUBMIT = ("case", "submit", "--matter", "513221-SCJG-001", "--applicant", "某某", "--all-materials",
          "--as", "513221-qt-a", "--json")  # fmt: skip


def test_a_drive_cut_off_from_temporal_fails_cleanly_and_resumes_its_own_cases(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    events = tmp_path / "var" / "events.db"
    up = Up(env).start()
    try:
        drive = Drive(env, TINY, tag="cut")
        wait_until(lambda: submitted_cases(events) >= 8, 120, "the drive to be under way")
        up.kill()  # SIGKILL: the dev server, worker and projector go with it
        rc = drive.wait(timeout=180)
    finally:
        up.kill()
    assert rc == 3, drive.stderr[-3000:]
    assert "TEMPORAL_UNREACHABLE" in drive.stderr and "重新运行同一命令" in drive.stderr, drive.stderr[-3000:]
    assert "Traceback" not in drive.stderr and "WARN" not in drive.stderr, drive.stderr[-3000:]
    assert len(list((tmp_path / "var" / "drives").glob("*.json"))) == 1  # the run id, kept for the rerun
    half = len(event_sequences(events))

    up = Up(env).start()
    try:
        again = Drive(env, TINY, tag="resumed")
        assert again.wait() == 0, again.stderr[-3000:]
        report = again.report()
        sequences = event_sequences(events)
        d = report["driver"]
        assert d["resumed"] >= half > 0 and d["submitted"] + d["resumed"] == len(sequences), (d, half)
        assert report["match"] is True, report
        check_exactly_once(sequences, {**report, "driver": {**d, "submitted": len(sequences)}}, resumed=True)
        assert not list((tmp_path / "var" / "drives").glob("*.json"))  # finished: the next drive is a new one
        assert up.stop() == 0
    finally:
        up.kill()


def corrupt(db: Path) -> None:
    """Fold the WAL into the file, then cut the file in half (a bad copy, a full disk)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with db.open("r+b") as f:
        f.truncate(size // 2)


def test_a_corrupt_read_model_is_reported_and_rebuilt_from_the_events(tmp_path: Path) -> None:
    env = embedded_env(tmp_path, ONESEAL_READ_MODEL_CHECK="1")
    read_models = tmp_path / "var" / "read_models.db"
    up = Up(env).start()
    try:
        for _ in range(3):
            r = cli(env, *SUBMIT)
            assert r.returncode == 0, r.stdout + r.stderr
        corrupt(read_models)
        r = cli(env, "case", "list", "--json")
        if r.returncode != 0:  # unless the projector was quicker: then the list is already rebuilt
            assert r.returncode == 3 and "READ_MODEL_UNREADABLE" in r.stderr and "Traceback" not in r.stderr, r.stderr
            assert "oneseal projections rebuild" in r.stderr

        def rebuilt() -> bool:
            r = cli(env, "case", "list", "--json")
            return r.returncode == 0 and len(json.loads(r.stdout)) == 3

        wait_until(rebuilt, 60, "the projector to rebuild the read models")
        assert list(read_models.parent.glob("read_models.db.corrupt-*"))  # kept for a post-mortem
        assert "读模型文件已损坏" in (tmp_path / "var" / "logs" / "projector.log").read_text(encoding="utf-8")
        # A rebuild while the projector runs is refused in Chinese (it was a ProjectionBusy traceback).
        r = cli(env, "projections", "rebuild")
        assert r.returncode == 2 and "PROJECTION_BUSY" in r.stderr and "oneseal down" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
        assert up.stop() == 0
    finally:
        up.kill()

    # With nothing running: `projections rebuild` works on a corrupt file.
    corrupt(read_models)
    r = cli(env, "projections", "status")
    assert r.returncode == 3 and "READ_MODEL_UNREADABLE" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = cli(env, "projections", "rebuild")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "读模型文件已损坏" in r.stderr and "已重建「cases」" in r.stdout and "已重建「projects」" in r.stdout
    r = cli(env, "case", "list", "--json")
    assert r.returncode == 0 and len(json.loads(r.stdout)) == 3, r.stderr
