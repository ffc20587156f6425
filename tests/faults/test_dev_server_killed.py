"""The Temporal dev server killed with SIGKILL in the middle of a live drive: `oneseal up` restarts it on
the same database file, and every case of the drive finishes, each with exactly its own events."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from .support import TINY, Drive, Up, check_exactly_once, embedded_env, event_sequences, submitted_cases, wait_until

pytestmark = pytest.mark.integration


def test_dev_server_killed_mid_drive_is_restarted_and_every_case_finishes(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    up = Up(env).start()
    try:
        events = up.data_dir / "events.db"
        first = up.child("temporal")["pid"]
        drive = Drive(env, TINY)
        wait_until(lambda: submitted_cases(events) >= 8, 120, "the drive to be under way")
        os.kill(first, signal.SIGKILL)
        rc = drive.wait()
        assert rc == 0, drive.stderr[-3000:]
        assert "Traceback" not in drive.stderr
        temporal = up.child("temporal")
        assert temporal["restarts"] == 1 and temporal["pid"] not in (None, first)
        assert "SIGKILL" in temporal["last_exit"]["reason"]
        check_exactly_once(event_sequences(events), drive.report())
        assert up.stop() == 0
    finally:
        up.kill()
    assert "Temporal 开发服务器意外退出（被信号 SIGKILL 终止）" in up.output and "已重新启动" in up.output
