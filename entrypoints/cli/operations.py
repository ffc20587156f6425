"""`oneseal health`, `oneseal search-attributes`: what an operator checks on a running installation."""

from __future__ import annotations

from typing import Annotated

import typer

from entrypoints.cli.common import boot, command, out, print_json, run, safe, table

operations_app = typer.Typer()


@operations_app.command("health")
@command
def health(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    max_lag_events: Annotated[int | None, typer.Option("--max-lag-events", help="读模型最多落后的事件数")] = None,
    max_lag_seconds: Annotated[float | None, typer.Option("--max-lag-seconds", help="读模型最多落后的秒数")] = None,
) -> None:
    """就绪检查：Temporal、事件库是否可达，读模型滞后是否在阈值内（未就绪时退出码 1）。"""
    from services.health import ready

    result = run(ready(boot(), max_lag_events, max_lag_seconds))
    if as_json:
        print_json(result.to_dict())
    else:
        t = table("就绪检查", "项目", "结果", "代码", "说明")
        for c in result.checks:
            t.add_row(c.name, "[green]正常[/]" if c.ok else "[red]异常[/]", c.code, safe(c.message))
        out.print(t)
        for p in result.projections:
            out.print(f"  读模型 {p.name}：位置 {p.position} / {p.head}，落后 {p.lag_events} 条、{p.lag_seconds:g} 秒")
        out.print("[green]✓ 就绪[/]" if result.ready else "[red]✗ 未就绪[/]")
    if not result.ready:
        raise typer.Exit(1)


@operations_app.command("search-attributes")
@command
def search_attributes(
    check: Annotated[bool, typer.Option("--check", help="只检查，不创建缺少的属性")] = False,
) -> None:
    """Temporal 搜索属性：列出 OneSeal 使用的属性，并在所连接的 Temporal 上创建缺少的（幂等）。"""
    from services.visibility import register

    states = run(register(boot(), add=not check))
    labels = {
        "present": "已有",
        "added": "[green]已创建[/]",
        "missing": "[red]缺少[/]",
        "wrong_type": "[red]类型不符[/]",
    }
    t = table("Temporal 搜索属性", "名称", "类型", "状态")
    for s in states:
        t.add_row(s.name, s.type, labels[s.state])
    out.print(t)
    if any(s.state in ("missing", "wrong_type") for s in states):
        raise typer.Exit(1)
