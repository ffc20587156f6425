"""`oneseal transfer …`: the licence-item transfer programme (相对集中行政许可权改革).

`plan FILE`, `show [ITEM]`, `sign ITEM ENTRY --as USER`, `milestone NAME --as`, `decide ITEM live|extend|rollback`,
`add-item`, `remove-item`, `claim CASE_NO --as`. (`status` comes from entrypoints/cli/transfer_reports.py.)
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from domain.staff import VIA_CLI
from domain.transfer.errors import PlanInvalid
from domain.transfer.item import ChecklistEntry, Party
from domain.transfer.programme import Milestone
from entrypoints.cli.common import boot, code_column, command, err, fail, local, out, print_json, run, safe, table

if TYPE_CHECKING:
    from services.transfer import ItemDetail, ProgrammeDetail, TransferDone

transfer_app = typer.Typer(help="审批权限划转：事项交接、切换、试运行与动态管理", no_args_is_help=True)

AsUser = Annotated[str, typer.Option("--as", help="办理人员编号（见 oneseal staff list）")]
ProgrammeOpt = Annotated[str | None, typer.Option("--programme", help="划转方案编码（只有一个方案时可省略）")]
ItemArg = Annotated[str, typer.Argument(help="事项编码，如 513201-FG-101")]
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON")]
ENTRIES = "、".join(f"{e.value}（{e.label}）" for e in ChecklistEntry)
MILESTONES = "、".join(f"{m.value}（{m.label}）" for m in Milestone)


def _done(label: str, done: TransferDone) -> None:
    if done.lists_lag:
        err.print(f"[yellow]! 已办理，但{safe(done.lists_lag)}[/]")
    if done.item is not None:
        i = done.item
        from domain.transfer.item import ItemStatus

        out.print(f"[green]✓ {label}[/]：{safe(i.code)} {safe(i.name)}  状态 → [bold]{ItemStatus(i.status).label}[/]")
        if i.status == "handover" and i.open_entries:
            out.print(f"  尚待签认 {len(i.open_entries)} 处")
        if i.trial_end:
            out.print(f"  试运行期：{i.trial_start} 至 {i.trial_end}")
    elif done.programme is not None:
        out.print(f"[green]✓ {label}[/]：{safe(done.programme.code)}（{safe(done.programme.name)}）")
    elif done.task is not None:
        out.print(f"[green]✓ {label}[/]：{safe(done.task.case_no)}（{safe(done.task.department)}）")


@transfer_app.command("plan")
@command
def plan(
    file: Annotated[Path, typer.Argument(help="划转方案文件（CSV 或 YAML，格式见 docs/data-formats.md）")],
) -> None:
    """载入划转方案并启动划转流程（同一方案再次载入不重复记录）。"""
    b = boot()
    if not file.exists():
        fail("FILE_NOT_FOUND", f"找不到文件 {file}")
    try:
        loaded = run(b.transfer.plan(file))
    except PlanInvalid as e:
        for row in e.details.get("errors", []):
            where = f"第{row['line']}行" + (f" {row['field']}" if row["field"] else "")
            err.print(f"  {safe(where)}：{safe(row['reason'])}")
        fail(e.code, e.message)
        return
    p = loaded.programme
    verb = "已载入" if loaded.created else "已载入过（未重复记录）"
    out.print(f"[green]✓ 划转方案{verb}[/]：{safe(p.code)} {safe(p.name)}")
    out.print(f"  承接：{safe(p.bureau)}  试运行：{p.trial_start} 至 {p.trial_end}")
    for batch in p.batches:
        n = len(p.listed(batch.no))
        out.print(f"  {safe(batch.name)}：{n} 项，切换时间 {local(batch.cut_over)}")
    out.print(f"  流程：{safe(loaded.workflow_id)}")


@transfer_app.command("show")
@command
def show(
    item: Annotated[str | None, typer.Argument(help="事项编码（省略则显示整个方案）")] = None,
    programme: ProgrammeOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """显示划转方案或单个事项（交接清单、试运行数据、结论）。"""
    detail = boot().transfer.show(item, programme=programme)
    from services.transfer import ItemDetail

    if isinstance(detail, ItemDetail):
        _show_item(detail, as_json)
    else:
        _show_programme(detail, as_json)


def _show_programme(d: ProgrammeDetail, as_json: bool) -> None:
    p = d.programme
    if as_json:
        print_json(
            {
                "code": p.code, "name": p.name, "bureau": p.bureau, "status": p.status.value,
                "milestones": {m.value: r.document_no for m, r in p.milestones.items()},
                "items": [{"code": i.code, "name": i.name, "department": i.origin, "batch": i.batch,
                           "status": i.status.value} for i in d.items],
            }
        )  # fmt: skip
        return
    out.print(f"[bold]{safe(p.code)}[/]  {safe(p.name)}  状态：[bold]{p.status.label}[/]")
    out.print(f"  承接：{safe(p.bureau)}  试运行：{p.trial_start} 至 {p.trial_end}  流程：{safe(d.workflow_id)}")
    for m in Milestone:
        r = p.milestones.get(m)
        out.print(
            f"  {m.label}：" + (f"{local(r.at, '%Y-%m-%d')}（{safe(r.document_no)}）" if r else "[yellow]未完成[/]")
        )
    t = table(
        "事项",
        code_column("编码", [i.code for i in d.items]),
        "名称",
        "原实施部门",
        "批次",
        "状态",
        "待签认",
    )
    for i in sorted(d.items, key=lambda i: (i.batch or 99, i.code)):
        t.add_row(safe(i.code), safe(i.name), safe(i.origin), str(i.batch or "—"), i.status.label,
                  str(len(i.open_entries())) if i.status.value == "handover" else "")  # fmt: skip
    out.print(t)


def _show_item(d: ItemDetail, as_json: bool) -> None:
    i = d.item
    if as_json:
        print_json(
            {
                "code": i.code, "name": i.name, "origin": i.origin, "bureau": i.bureau, "status": i.status.value,
                "batch": i.batch, "trial_start": i.trial_start, "trial_end": i.trial_end,
                "open_entries": [f"{e.value}:{p.value}" for e, p in i.open_entries()],
                "figures": [f.__dict__ for f in i.figures.values()],
                "decisions": [{"decision": x.value, "reason": r, "at": at} for x, r, at in i.decisions],
                "removal": i.removal,
            }
        )  # fmt: skip
        return
    out.print(f"[bold]{safe(i.code)}[/]  {safe(i.name)}  状态：[bold]{i.status.label}[/]")
    out.print(f"  原实施部门：{safe(i.origin)} → {safe(i.bureau)}  第{i.batch or '—'}批  流程：{safe(d.workflow_id)}")
    out.print(f"  设定依据：{safe(i.legal_basis)}")
    if i.personnel:
        out.print(f"  随事划转人员：{safe('、'.join(f'{p.name}（{p.user_id}）' for p in i.personnel))}")
    if i.checklist:
        t = table("交接清单", "事项", Party.ORIGIN.label, Party.BUREAU.label)
        for e, signed in i.checklist.items():
            cells = []
            for party in Party:
                s = signed.get(party)
                cells.append(f"{safe(s.actor.get('name', ''))} {local(s.at, '%Y-%m-%d')}" if s else "[yellow]待签认[/]")
            t.add_row(e.label, *cells)
        out.print(t)
    if i.trial_start:
        out.print(f"  切换：{local(i.cut_over_at)}  试运行：{i.trial_start} 至 {i.trial_end}")
    if i.figures:
        t = table("试运行周数据", "周", "受理", "办结", "按时办结率", "逾期", "平均工作日")
        for f in sorted(i.figures.values(), key=lambda f: f.week_start):
            rate = "—" if f.on_time_rate is None else f"{f.on_time_rate:.1f}%"
            days = "—" if f.avg_working_days is None else f"{f.avg_working_days:.1f}"
            t.add_row(str(f.week_start), str(f.accepted), str(f.completed), rate, str(f.overdue), days)
        out.print(t)
    for x, reason, at in i.decisions:
        out.print(f"  结论：{x.label}（{local(at, '%Y-%m-%d')}）" + (f"：{safe(reason)}" if reason else ""))
    if i.removal:
        out.print(f"  已移出清单：{safe(i.removal['approved_by'])} 批准，原因：{safe(i.removal['reason'])}")
    if i.pending_undo:
        out.print(f"  [yellow]待退回：{'、'.join(s.label for s in i.pending_undo)}[/]")


@transfer_app.command("sign")
@command
def sign(
    item: ItemArg,
    entry: Annotated[str, typer.Argument(help=f"交接清单项：{ENTRIES}；all 表示本方尚未签认的全部事项")],
    as_user: AsUser,
    party: Annotated[str, typer.Option("--party", help="代表哪一方签认：origin（原部门）或 bureau（审批局）")] = "",
    note: Annotated[str, typer.Option("--note", help="备注")] = "",
    document_no: Annotated[str, typer.Option("--document-no", help="交接文书编号")] = "",
    programme: ProgrammeOpt = None,
) -> None:
    """签认交接清单的一项（原部门与审批局各签一次，不能代替对方签认）。"""
    b = boot()
    actor = b.transfer.actor(as_user, VIA_CLI)
    done = run(b.transfer.sign(item, entry, actor=actor, party=party, note=note, document_no=document_no,
                               programme=programme))  # fmt: skip
    _done("已签认", done)


@transfer_app.command("milestone")
@command
def milestone(
    name: Annotated[str, typer.Argument(help=f"里程碑：{MILESTONES}")],
    as_user: AsUser,
    document_no: Annotated[str, typer.Option("--document-no", help="文号")],
    note: Annotated[str, typer.Option("--note", help="备注")] = "",
    programme: ProgrammeOpt = None,
) -> None:
    """记录划转方案的里程碑（场地改造完成、流程再造完成、审批专用章启用公告）。"""
    b = boot()
    done = run(b.transfer.milestone(name, actor=b.transfer.actor(as_user, VIA_CLI), document_no=document_no, note=note,
                                    programme=programme))  # fmt: skip
    _done(f"已记录里程碑「{Milestone.parse(name).label}」", done)


@transfer_app.command("decide")
@command
def decide(
    item: ItemArg,
    decision: Annotated[
        str, typer.Argument(help="live（转入正式运行）、extend（延长试运行）或 rollback（回退原部门）")
    ],
    as_user: AsUser,
    until: Annotated[str | None, typer.Option("--until", help="延长试运行的新结束日期 YYYY-MM-DD")] = None,
    reason: Annotated[str, typer.Option("--reason", help="原因（延长和回退必填）")] = "",
    programme: ProgrammeOpt = None,
) -> None:
    """试运行结论：转入正式运行、延长试运行或回退原部门（审批权限随即调整）。"""
    b = boot()
    new_end = None
    if until:
        try:
            new_end = date.fromisoformat(until)
        except ValueError:
            fail("FIELD_INVALID", f"日期「{until}」应为 YYYY-MM-DD")
    done = run(b.transfer.decide(item, decision, actor=b.transfer.actor(as_user, VIA_CLI), reason=reason, until=new_end,
                                 programme=programme))  # fmt: skip
    _done("已作出试运行结论", done)


@transfer_app.command("add-item")
@command
def add_item(
    item: ItemArg,
    as_user: AsUser,
    department: Annotated[str, typer.Option("--department", help="原实施部门")],
    approved_by: Annotated[str, typer.Option("--approved-by", help="批准机关")],
    reason: Annotated[str, typer.Option("--reason", help="新增原因")],
    batch: Annotated[int | None, typer.Option("--batch", help="批次（默认最后一批）")] = None,
    legal_basis: Annotated[str, typer.Option("--legal-basis", help="设定依据")] = "",
    personnel: Annotated[list[str] | None, typer.Option("--person", help="随事划转人员编号（可重复）")] = None,
    document_no: Annotated[str, typer.Option("--document-no", help="文号")] = "",
    programme: ProgrammeOpt = None,
) -> None:
    """把事项列入审批局事项清单（动态管理，记录批准机关和原因）。"""
    b = boot()
    done = run(b.transfer.add_item(item, actor=b.transfer.actor(as_user, VIA_CLI), department=department,
                                   approved_by=approved_by, reason=reason, batch=batch, legal_basis=legal_basis,
                                   personnel=tuple(personnel or ()), document_no=document_no,
                                   programme=programme))  # fmt: skip
    _done("已列入清单", done)


@transfer_app.command("remove-item")
@command
def remove_item(
    item: ItemArg,
    as_user: AsUser,
    approved_by: Annotated[str, typer.Option("--approved-by", help="批准机关")],
    reason: Annotated[str, typer.Option("--reason", help="移出原因")],
    document_no: Annotated[str, typer.Option("--document-no", help="文号")] = "",
    programme: ProgrammeOpt = None,
) -> None:
    """把事项移出审批局事项清单（正在划转的事项随即退回原部门）。"""
    b = boot()
    done = run(b.transfer.remove_item(item, actor=b.transfer.actor(as_user, VIA_CLI), approved_by=approved_by,
                                      reason=reason, document_no=document_no, programme=programme))  # fmt: skip
    _done("已移出清单", done)


@transfer_app.command("claim")
@command
def claim(
    case_no: Annotated[str, typer.Argument(help="办件编号（审管联动监管任务）")],
    as_user: AsUser,
) -> None:
    """认领审管联动监管任务（由原部门在 2 个工作日内认领）。"""
    b = boot()
    done = run(b.transfer.claim(case_no, actor=b.transfer.actor(as_user, VIA_CLI)))
    _done("已认领监管任务", done)
