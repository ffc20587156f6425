"""`oneseal up`, `worker`, `project`: the long-running processes."""

from __future__ import annotations

import asyncio

import typer

from entrypoints.cli.common import command
from services.settings import Settings
from workers.logging import configure_logging

processes_app = typer.Typer()


@processes_app.command("up")
def up() -> None:
    """启动内置全套服务：Temporal 开发服务器、工作进程、投影进程（Ctrl-C 停止）。"""
    from workers.stack import Stack

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    raise typer.Exit(Stack(settings).run())


@processes_app.command("worker")
def worker() -> None:
    """只启动 Temporal 工作进程（连接已配置的 Temporal 服务）。"""
    from workers.worker import main as worker_main

    asyncio.run(worker_main())


@processes_app.command("project")
@command
def project() -> None:
    """只启动投影进程：持续把事件投影到读模型（Ctrl-C 停止）。"""
    from workers.projector import main as projector_main

    raise typer.Exit(projector_main())
