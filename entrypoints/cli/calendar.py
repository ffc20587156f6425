"""`oneseal calendar …`: the years of public holidays and make-up working days that deadlines are counted on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from entrypoints.cli.common import boot, command, err, out, run, safe, table

calendar_app = typer.Typer(help="节假日安排：载入新年度的放假和调休安排，重算暂定期限", no_args_is_help=True)


@calendar_app.command("load")
@command
def calendar_load(
    file: Annotated[Path, typer.Argument(help="年度节假日安排 YAML 文件（格式见 docs/data-formats.md）")],
) -> None:
    """载入一年的放假和调休安排（国务院办公厅通知）；此前按暂定期限计时的在办件随即重算期限。"""
    report = run(boot().calendar.load(file))
    a = report.arrangement
    verb = "已载入" if report.recorded else "已载入过（内容相同，未重复记录）"
    out.print(
        f"[green]✓ {a.year} 年节假日安排{verb}[/]：假日 {len(a.holidays)} 天，调休上班 {len(a.workdays)} 天；"
        f"依据：{safe(a.source)}"
    )
    out.print(f"  重算期限的在办件：{len(report.recomputed)} 件")
    for case_no in report.recomputed[:20]:
        out.print(f"    {safe(case_no)}")
    for case_no, why in report.skipped[:20]:
        err.print(f"  [yellow]! {safe(case_no)} 未重算：{safe(why)}[/]")


@calendar_app.command("show")
@command
def calendar_show() -> None:
    """列出已收录节假日安排的年份及其来源；未收录的年份按周末暂定计算期限。"""
    years = boot().calendar.years()
    t = table("已收录的节假日安排", "年份", "来源")
    for year, source in years:
        t.add_row(str(year), safe(source))
    out.print(t)
    out.print("[dim]其余年份的期限按周末暂定计算（标为暂定），载入该年安排后自动重算[/]")
