"""`oneseal up` as an operator meets it: one stack per data dir, status, down, and a supervisor that
restarts what dies, gives up loudly, and stops promptly. Real processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.ports import free_port

pytestmark = pytest.mark.integration
ONESEAL = str(Path(sys.executable).parent / "oneseal")
SUBMIT = ("case", "submit", "--matter", "513221-SCJG-001", "--applicant", "某某", "--all-materials",
          "--as", "513221-qt-a", "--json")  # fmt: skip


# ---- helpers (copied from test_stack_cli.py, with what these tests need) ---------------------------


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def embedded_env(tmp_path: Path, **extra: str) -> tuple[dict[str, str], int]:
    """Environment for an embedded stack of its own: fresh data dir, free ports, no external Temporal."""
    port = free_port()
    env = {**os.environ, "ONESEAL_DATA_DIR": str(tmp_path / "var"), "ONESEAL_DEV_SERVER_PORT": str(port),
           "ONESEAL_DEV_SERVER_UI_PORT": str(free_port()), "ONESEAL_WEB_PORT": str(free_port()), "COLUMNS": "200", **extra}  # fmt: skip
    env.pop("ONESEAL_TEMPORAL_ADDRESS", None)
    return env, port


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ONESEAL, *args], env=env, capture_output=True, text=True, timeout=timeout)


class Up:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.output = ""

    def launch(self) -> subprocess.Popen[str]:
        self.proc = subprocess.Popen(
            [ONESEAL, "up"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        return self.proc

    def start(self) -> None:
        proc = self.launch()
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            self.output += line
            if "试一试" in line:
                return
            if not line and proc.poll() is not None:
                break
        raise AssertionError(f"oneseal up did not start:\n{self.output}")

    def finish(self, timeout: float = 30) -> int:
        """Wait for `up` to end on its own; collect the rest of its output."""
        assert self.proc is not None
        rest, _ = self.proc.communicate(timeout=timeout)
        self.output += rest
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)


def status(env: dict[str, str]) -> dict[str, Any]:
    r = cli(env, "status", "--json")
    assert r.returncode in (0, 3), r.stdout + r.stderr
    return dict(json.loads(r.stdout))


def child(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["children"] if c["name"] == name)


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


# ---- tests ---------------------------------------------------------------------------------------


def test_second_up_is_refused_status_reports_and_down_stops(tmp_path: Path) -> None:
    env, port = embedded_env(tmp_path)
    data_dir = tmp_path / "var"
    up = Up(env)
    up.start()
    try:
        assert up.proc is not None
        lock_before = (data_dir / "oneseal.lock").read_bytes()
        # Defect 1: a second `up` on the same data dir is refused at once, and says by whom and how to stop it.
        t0 = time.monotonic()
        r = cli(env, "up", timeout=30)
        assert time.monotonic() - t0 < 15  # one CLI start and the refusal: no waiting on the running stack
        assert (data_dir / "oneseal.lock").read_bytes() == lock_before  # the running stack's lock is intact
        assert r.returncode == 2, r.stdout + r.stderr
        assert str(data_dir) in r.stderr and f"进程 {up.proc.pid}" in r.stderr and "oneseal down" in r.stderr
        state = json.loads((data_dir / "stack.json").read_text())
        assert state["pid"] == up.proc.pid and state["state"] == "running"
        assert f"自 {state['started_at'][:10]} " in r.stderr  # since when (Beijing date)
        assert up.proc.poll() is None

        # status: what runs, where, since when, restarts, lag.
        r = cli(env, "status")
        assert r.returncode == 0, r.stdout + r.stderr
        for expected in ("正在运行", f"进程 {up.proc.pid}", str(data_dir), f"127.0.0.1:{port}", "projector", "滞后"):
            assert expected in r.stdout, r.stdout
        report = status(env)
        assert report["running"] is True and report["data_dir"] == str(data_dir)
        assert {c["name"] for c in report["children"]} == {"temporal", "worker", "projector", "web"}
        assert all(c["state"] == "running" and c["pid"] and c["restarts"] == 0 for c in report["children"])
        assert report["projections"][0]["name"] == "cases" and report["projections"][0]["lag"] >= 0
        pids = [c["pid"] for c in report["children"]]

        # down: stops it, says what it stopped, and returns once it is stopped.
        t0 = time.monotonic()
        r = cli(env, "down")
        assert r.returncode == 0, r.stdout + r.stderr
        # `down` waits at most its --timeout (10 s) for the stack; starting the CLI itself adds a few seconds
        # on a loaded 2-core machine (seen: 12 s in all at load 15), so the bound is the timeout plus that.
        assert time.monotonic() - t0 < 25
        assert "已停止" in r.stdout and "工作进程" in r.stdout
        assert up.finish(timeout=5) == 0
    finally:
        up.kill()
    assert all(gone(p) for p in pids) and not port_open(port)
    assert not (data_dir / "stack.json").exists()
    r = cli(env, "status")
    assert r.returncode == 3 and "未运行" in r.stdout and str(data_dir) in r.stdout
    assert status(env)["running"] is False
    r = cli(env, "down")
    assert r.returncode == 0 and "未运行" in r.stdout


def test_killed_dev_server_is_restarted_and_cases_go_on(tmp_path: Path) -> None:
    env, port = embedded_env(tmp_path, ONESEAL_STACK_BACKOFF="0.5")
    up = Up(env)
    up.start()
    try:
        assert cli(env, *SUBMIT).returncode == 0
        first = child(status(env), "temporal")["pid"]
        os.kill(first, signal.SIGKILL)

        def restarted() -> dict[str, Any] | None:
            t = child(status(env), "temporal")
            return t if t["state"] == "running" and t["pid"] not in (None, first) else None

        t = wait_until(restarted, 30, "the dev server to be restarted")
        assert t["restarts"] == 1 and "SIGKILL" in t["last_exit"]["reason"] and port_open(port)
        r = cli(env, *SUBMIT)
        assert r.returncode == 0, r.stdout + r.stderr
        listed = json.loads(cli(env, "case", "list", "--json").stdout)
        assert len(listed) == 2
        assert up.proc is not None
        up.proc.send_signal(signal.SIGTERM)
        assert up.finish() == 0
    finally:
        up.kill()
    assert "Temporal 开发服务器意外退出（被信号 SIGKILL 终止）" in up.output and "已重新启动" in up.output


def test_gives_up_and_exits_non_zero_when_the_dev_server_cannot_come_back(tmp_path: Path) -> None:
    """The dev server dies and its port is taken by something else: after N tries `up` stops everything, exit 1."""
    env, port = embedded_env(tmp_path, ONESEAL_STACK_MAX_RESTARTS="2", ONESEAL_STACK_BACKOFF="0.3")
    up = Up(env)
    up.start()
    squatter = socket.socket()
    try:
        report = status(env)
        os.kill(child(report, "temporal")["pid"], signal.SIGKILL)
        wait_until(lambda: not port_open(port), 10, "the dev server's port to close")
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        assert up.finish(timeout=30) == 1
    finally:
        squatter.close()
        up.kill()
    assert "连续 2 次重启均失败，放弃" in up.output and "已被其他程序占用" in up.output, up.output
    assert all(gone(c["pid"]) for c in report["children"])
    assert not (tmp_path / "var" / "stack.json").exists()
    assert cli(env, "status").returncode == 3


def test_a_child_that_keeps_crashing_is_given_up_on(tmp_path: Path) -> None:
    # The projector cannot read its batch size, so it dies at every start; up and the worker do not read it.
    env, port = embedded_env(
        tmp_path, ONESEAL_PROJECTION_BATCH="not-a-number", ONESEAL_STACK_MAX_RESTARTS="1", ONESEAL_STACK_BACKOFF="0.2"
    )
    up = Up(env)
    up.launch()
    try:
        assert up.finish(timeout=60) == 1
    finally:
        up.kill()
    assert "投影进程 projector意外退出（退出码 1），连续 1 次重启均失败，放弃" in up.output, up.output
    assert "第 1 次重启" in up.output
    assert not port_open(port)


def test_sigterm_stops_the_stack_within_5_seconds_even_in_a_restart_backoff(tmp_path: Path) -> None:
    env, port = embedded_env(tmp_path, ONESEAL_STACK_BACKOFF="30")
    up = Up(env)
    up.start()
    try:
        assert up.proc is not None
        report = status(env)
        os.kill(child(report, "worker")["pid"], signal.SIGKILL)
        wait_until(lambda: child(status(env), "worker")["state"] == "backoff", 10, "the worker's back-off")
        t0 = time.monotonic()
        up.proc.send_signal(signal.SIGTERM)
        assert up.finish(timeout=30) == 0
        elapsed = time.monotonic() - t0
    finally:
        up.kill()
    assert elapsed < 5, f"stopping took {elapsed:.1f} s"
    assert "30 秒后第 1 次重启" in up.output and "OneSeal 已停止" in up.output
    assert all(gone(c["pid"]) for c in report["children"]) and not port_open(port)


def test_ctrl_c_stops_a_running_stack_within_5_seconds(tmp_path: Path) -> None:
    env, port = embedded_env(tmp_path)
    up = Up(env)
    up.start()
    try:
        assert up.proc is not None and cli(env, *SUBMIT).returncode == 0
        report = status(env)
        t0 = time.monotonic()
        up.proc.send_signal(signal.SIGINT)
        assert up.finish(timeout=30) == 0
        elapsed = time.monotonic() - t0
    finally:
        up.kill()
    assert elapsed < 5, f"stopping took {elapsed:.1f} s"
    assert all(gone(c["pid"]) for c in report["children"]) and not port_open(port)


def test_a_crashed_stack_is_reported_as_not_running_and_can_be_started_again(tmp_path: Path) -> None:
    env, port = embedded_env(tmp_path)
    up = Up(env)
    up.start()
    try:
        report = status(env)
        up.kill()  # SIGKILL: no clean stop, the state file stays behind
        # The children die with their parent instead of lingering as orphans holding ports and files.
        wait_until(lambda: all(gone(c["pid"]) for c in report["children"]), 10, "the orphans to go")
        assert not port_open(port)
        assert (tmp_path / "var" / "stack.json").exists()
        r = cli(env, "status")
        assert r.returncode == 3 and "未正常停止" in r.stdout and str(report["pid"]) in r.stdout, r.stdout
        again = Up(env)
        again.start()
        try:
            assert again.proc is not None and status(env)["pid"] == again.proc.pid
        finally:
            assert cli(env, "down").returncode == 0
            again.finish()
    finally:
        up.kill()


def test_version_and_a_data_dir_where_nothing_ever_ran(tmp_path: Path) -> None:
    env, _ = embedded_env(tmp_path)
    r = cli(env, "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"oneseal {version('oneseal')}"
    r = cli(env, "status")
    assert r.returncode == 3 and "未运行" in r.stdout and str(tmp_path / "var") in r.stdout
    assert cli(env, "down").returncode == 0
    assert not (tmp_path / "var").exists()  # asking created nothing
