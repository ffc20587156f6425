"""Where a running `oneseal up` leaves its traces: the data-dir lock and the state file (stack.json).

The lock (``oneseal.lock``, an OS file lock) says whether a stack runs: the kernel releases it when
the process dies, however it dies. The state file says what runs and where; it is written
atomically on every change and removed on a clean stop, so a state file whose lock is free is the
leftover of a crashed stack and is reported as such, never trusted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import IO, Any

from domain.calendar import SHANGHAI

LOCK_FILE = "oneseal.lock"
STATE_FILE = "stack.json"
STATE_FORMAT = 1


def version() -> str:
    """The installed package's version (the dist ``oneseal``)."""
    try:
        return dist_version("oneseal")
    except PackageNotFoundError:
        return "0+unknown"


def now_iso() -> str:
    return datetime.now(SHANGHAI).isoformat(timespec="seconds")


def beijing(iso: str | None) -> str:
    """An ISO timestamp as staff read it: Beijing time, to the second."""
    if not iso:
        return "未知时间"
    try:
        return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The state file, or None when it is missing or unreadable (a crash mid-write cannot leave half a file)."""
    try:
        data = json.loads(state_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(data_dir: Path, state: dict[str, Any]) -> None:
    """Write-then-rename, so a reader sees the old file or the new one, never a torn one."""
    path = state_path(data_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def remove_state(data_dir: Path) -> None:
    state_path(data_dir).unlink(missing_ok=True)


@dataclass(frozen=True)
class Holder:
    """Who holds the data dir, as far as its lock file and state file tell."""

    pid: int | None
    started_at: str | None


def read_holder(data_dir: Path) -> Holder:
    pid: int | None = None
    started: str | None = None
    with contextlib.suppress(OSError):
        lines = (data_dir / LOCK_FILE).read_text(encoding="utf-8").split()
        if lines and lines[0].isdigit():
            pid = int(lines[0])
        if len(lines) > 1:
            started = lines[1]
    state = read_state(data_dir)
    if state is not None:
        pid = pid or (state.get("pid") if isinstance(state.get("pid"), int) else None)
        started = started or state.get("started_at")
    return Holder(pid, started)


class StackBusy(Exception):
    """Another `oneseal up` holds this data dir."""

    def __init__(self, data_dir: Path, holder: Holder) -> None:
        who = f"进程 {holder.pid}" if holder.pid else "进程号未知"
        super().__init__(
            f"数据目录 {data_dir} 已有 OneSeal 在运行（{who}，自 {beijing(holder.started_at)} 起）。\n"
            f"查看：oneseal status；停止：oneseal down（须使用同一数据目录 ONESEAL_DATA_DIR）"
        )
        self.data_dir = data_dir
        self.holder = holder


class DataDirLock:
    """The one-stack-per-data-dir lock. Opened without truncating: only the holder may rewrite it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self, started_at: str, attempts: int = 3) -> None:
        """Take the lock or raise StackBusy; retried briefly because `status` probes it for microseconds."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        f = self.path.open("a+", encoding="utf-8")  # "w" would empty the running stack's lock before we know
        for i in range(attempts):
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if i == attempts - 1:
                    f.close()
                    raise StackBusy(self.data_dir, read_holder(self.data_dir)) from None
                time.sleep(0.05)
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n{started_at}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.seek(0)
            self._file.truncate()
        self._file.close()
        self._file = None


def lock_is_held(data_dir: Path) -> bool:
    """True while some `oneseal up` holds the data dir; creates nothing."""
    path = data_dir / LOCK_FILE
    try:
        f = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        return False
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False
