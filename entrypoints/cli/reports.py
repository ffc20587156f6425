"""`oneseal report …`: the monthly bulletin and the monthly statistics."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.catalogue import MatterKind
from entrypoints.cli.common import boot, command, emit, out, print_json, safe, table

report_app = typer.Typer(help="报表：月度政务服务工作通报、月度统计", no_args_is_help=True)
Month = Annotated[str, typer.Option("--month", help="月份，如 2020-04")]
Region = Annotated[str | None, typer.Option("--region", help="只看一个地区，如 汶川县")]
Demo = Annotated[bool, typer.Option("--include-demo", help="包含演示驱动（scenario drive）生成的办件")]
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON")]


@report_app.command("bulletin")
@command
def report_bulletin(
    month: Month,
    region: Region = None,
    fmt: Annotated[str, typer.Option("--format", help="输出格式：md、html、json、xlsx、csv")] = "md",
    output: Annotated[str | None, typer.Option("-o", "--output", help="写入文件（xlsx 必须指定）")] = None,
    include_demo: Demo = False,
) -> None:
    """月度通报：全州政务服务工作完成情况（受理、办结、办结率）。"""
    reports = boot().reports
    data = reports.bulletin(month, region, include_demo=include_demo)
    rendered = reports.render(data, fmt)
    emit(rendered, output)


STAT_COLUMNS = [
    ("accepted", "受理"),
    ("refused", "不受理"),
    ("completed", "办结"),
    ("completed_on_time", "按时"),
    ("completed_early", "提前"),
    ("completed_overdue", "超期"),
    ("open_at_month_end", "在办"),
    ("overdue_at_month_end", "逾期"),
]
STAT_LEGEND = "不受理 = 不予受理；超期 = 超期办结；在办 = 月末仍在办理；逾期 = 其中月末已超过承诺期限"


@report_app.command("stats")
@command
def report_stats(month: Month, region: Region = None, as_json: JsonFlag = False, include_demo: Demo = False) -> None:
    """月度统计：受理、不予受理、办结（按时/提前/超期）、月末在办与超期，按地区×部门×事项类别。"""
    rows = boot().reports.stats(month, region, include_demo=include_demo)
    if as_json:
        print_json(rows)
        return
    # One table per region keeps the text columns readable at 80 columns.
    for reg in dict.fromkeys(r["region"] for r in rows):
        t = table(f"{month} {reg}", ("部门（类别）", {"min_width": 18, "ratio": 1}),
                  *((label, {"justify": "right", "no_wrap": True}) for _, label in STAT_COLUMNS))  # fmt: skip
        for r in (r for r in rows if r["region"] == reg):
            kind = MatterKind(r["matter_kind"]).label if r["matter_kind"] in set(MatterKind) else r["matter_kind"]
            t.add_row(f"{safe(r['department'])}（{kind}）", *(str(r[k]) for k, _ in STAT_COLUMNS))
        out.print(t)
    if rows:
        out.print(f"[dim]{STAT_LEGEND}[/]")
    else:
        out.print(f"{month} 没有统计数据")
