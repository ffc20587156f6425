"""`oneseal transfer status` and `oneseal report transfer`: the transfer programme's admin views.

Thin: the service computes (``services.transfer_reports``), this prints. ``status`` is a Rich
table that fits 80 columns, one line per origin department with a progress bar of its items cut
over to the bureau, their batches and outcomes; ``--json`` prints the data (oneseal.transfer-status/1).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.progress_bar import ProgressBar
from rich.table import Table

from entrypoints.cli.common import boot, command, emit, local, out, print_json, safe

transfer_reports_app = typer.Typer(no_args_is_help=True)
transfer_report_group = typer.Typer(no_args_is_help=True)  # its command joins `oneseal report`
Programme = Annotated[
    str | None, typer.Option("--programme", help="划转方案编码，如 maerkang-2020（只有一个方案时可省略）")
]
BAR_WIDTH = 8
COUNTS = (
    ("handover", "交接"),
    ("in_trial", "试运"),
    ("live", "正式"),
    ("trial_extended", "延长"),
    ("rolled_back", "回退"),
    ("removed", "移出"),
)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _batches(counts: dict[str, int]) -> str:
    return " ".join(f"{'未排' if k == '-' else k}:{n}" for k, n in sorted(counts.items()))


@transfer_reports_app.command("status")
@command
def transfer_status(
    programme: Programme = None, as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False
) -> None:
    """划转进度：各原实施部门事项的切换进度、批次与试运行结论（正式运行、延长、回退、移出）。"""
    data = boot().transfer_reports.status(programme)
    if as_json:
        print_json(data)
        return
    print_status(data)


def print_status(data: dict[str, Any]) -> None:
    from services.transfer_reports import short_department

    p, g = data["programme"], data["progress"]
    o = g["outcomes"]
    region = p["region"]
    day = f"，试运行第{data['trial_day']}天" if data.get("trial_day") else ""
    out.print(f"[bold]{safe(p['name'])}[/]（{safe(p['code'])}）", highlight=False)
    out.print(
        f"{safe(p['bureau'])} · {p['status_label']}{day} · 试运行 {p['trial_start']} 至 {p['trial_end']}",
        highlight=False,
    )
    marks = "  ".join(f"{'✓' if m['done'] else '✗'}{m['label']}" for m in p["milestones"])
    out.print(f"里程碑：{marks}", highlight=False)
    for b in g["by_batch"]:
        when = local(datetime.fromisoformat(b["cut_over_planned"]), "%Y-%m-%d") if b["cut_over_planned"] else "—"
        out.print(
            f"{safe(b['name'])}：{b['items']}项，计划切换 {when}，已切换 {b['cut_over']}/{b['listed']}",
            highlight=False,
        )
    t = Table(title=None, pad_edge=False, expand=False, box=None, padding=(0, 0, 0, 1), show_footer=True)
    t.add_column("原实施部门", footer="合计", overflow="fold", min_width=8)
    t.add_column("批次", footer="", no_wrap=True)
    t.add_column("切换进度", footer=_pct(g["cut_over_share"]), no_wrap=True, width=BAR_WIDTH + 7)
    for key, label in COUNTS:
        total = sum(d["by_status"].get(key, 0) for d in g["by_department"])
        t.add_column(label, footer=str(total), justify="right", no_wrap=True)
    for d in g["by_department"]:
        st = d["by_status"]
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=max(d["listed"], 1), completed=d["cut_over"], width=BAR_WIDTH),
            f"{d['cut_over']:>2}/{d['listed']:<3}",
        )
        t.add_row(
            safe(short_department(d["department"], region)),
            _batches(d["batches"]),
            bar,
            *(str(st.get(k, 0)) for k, _ in COUNTS),
        )
    out.print(t)
    c, s = data["checklist"], data["supervision"]
    out.print(f"事项 {g['items']} 项：清单内 {g['listed']} 项，已切换 {g['cut_over']} 项", highlight=False)
    out.print(
        f"结论：正式运行 {o['live']} · 延长试运行 {o['trial_extended']} · 回退原部门 {o['rolled_back']} · "
        f"移出清单 {o['removed']}",
        highlight=False,
    )
    out.print(
        f"交接未签认：原部门 {c['by_party']['origin']} 处，审批局 {c['by_party']['bureau']} 处；"
        f"进度滞后 {data['behind_schedule']} 项",
        highlight=False,
    )
    out.print(
        f"审管联动：推送 {s['issued']} 条，已认领 {s['claimed']}，未认领 {s['open']}（逾期 {s['overdue']}）",
        highlight=False,
    )


@transfer_report_group.command("transfer")
@command
def report_transfer(
    programme: Annotated[str, typer.Option("--programme", help="划转方案编码，如 maerkang-2020")],
    fmt: Annotated[str, typer.Option("--format", help="输出格式：md、html、json、xlsx")] = "md",
    output: Annotated[str | None, typer.Option("-o", "--output", help="写入文件（xlsx 必须指定）")] = None,
    include_demo: Annotated[bool, typer.Option("--include-demo", help="划转前后对比包含演示驱动的办件")] = False,
) -> None:
    """试运行情况报告：划转进度、交接签认、试运行数据、划转前后对比、清单调整与审管联动。"""
    from services.transfer_reports import FORMATS

    service = boot().transfer_reports
    if fmt not in FORMATS:
        service.render({}, fmt)  # refuses with the formats it knows
    data = service.report(programme, include_demo=include_demo)
    rendered = service.render(data, fmt)
    emit(rendered, output)
