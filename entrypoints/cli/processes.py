"""`oneseal up`, `worker`, `project`: the long-running processes."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from entrypoints.cli.common import command

processes_app = typer.Typer()


@processes_app.command("up")
def up() -> None:
    """启动内置全套服务：Temporal 开发服务器、工作进程、投影进程、网页与 API（Ctrl-C 停止）。"""
    from services.settings import Settings
    from workers.logging import configure_logging
    from workers.stack import Stack

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    raise typer.Exit(Stack(settings).run())


@processes_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """运行状态：进程、地址、启动时间、重启次数、读模型滞后（未运行时退出码 3）。"""
    from services.settings import Settings
    from workers.stack_control import status as stack_status

    raise typer.Exit(stack_status(Settings.from_env(), as_json))


@processes_app.command("down")
def down(timeout: Annotated[float, typer.Option("--timeout", help="最多等待秒数")] = 10.0) -> None:
    """停止本数据目录上运行的 oneseal up（发送 SIGTERM 并等待其停止）。"""
    from services.settings import Settings
    from workers.stack_control import down as stack_down

    raise typer.Exit(stack_down(Settings.from_env(), timeout))


@processes_app.command("web")
def web() -> None:
    """只启动网页与 API（ONESEAL_WEB_HOST:ONESEAL_WEB_PORT，默认 http://127.0.0.1:8000）。"""
    from entrypoints.http.__main__ import main as web_main

    web_main()


@processes_app.command("worker")
def worker() -> None:
    """只启动 Temporal 工作进程（连接已配置的 Temporal 服务）。"""
    from workers.worker import main as worker_main

    asyncio.run(worker_main())


@processes_app.command("project")
@command
def project(
    standby: Annotated[
        bool, typer.Option("--standby", help="备用：等待正在运行的投影进程释放租约后接替，而不是报错退出")
    ] = False,
) -> None:
    """只启动投影进程：持续把事件投影到读模型（Ctrl-C 停止）。"""
    from workers.projector import main as projector_main

    raise typer.Exit(projector_main(standby=standby))
