"""`oneseal import …`, `oneseal projections …`, `oneseal scenario …`: data in, read models, demonstrations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from entrypoints.cli.common import boot, command, err, out, print_json, run, safe, table

if TYPE_CHECKING:  # the services are imported by the commands that use them (start-up cost)
    from services.imports import ImportReport
    from services.transfer_scenario import TransferScenarioReport

import_app = typer.Typer(help="历史数据导入（旧平台迁移）", no_args_is_help=True)
projections_app = typer.Typer(help="读模型（投影）：状态与重建", no_args_is_help=True)
scenario_app = typer.Typer(help="演示场景：按通报数据生成或驱动办件", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON")]


def _print_import(report: ImportReport) -> None:
    o, p = report.outcome, report.parsed
    for row in p.errors[:50]:
        err.print(f"  第{row.line}行 {safe(row.case_no)}：{safe(row.reason)}")
    if len(p.errors) > 50:
        err.print(f"  …… 另有 {len(p.errors) - 50} 行错误")
    out.print(
        f"[green]✓ 导入完成[/]：新增 {o.added} 件，已存在 {o.already_present} 件，"
        f"文件内重复 {p.duplicates_in_file} 行，错误 {len(p.errors)} 行，冲突 {len(o.conflicts)} 件"
    )
    for kind, names in sorted(p.unknown.items()):
        label = {"matter_code": "事项编码", "department": "部门", "region": "地区"}.get(kind, kind)
        out.print(
            f"  目录中没有的{label}（按旧系统名称导入）：{safe('、'.join(sorted(names)[:20]))}"
            + (f" 等 {len(names)} 个" if len(names) > 20 else "")
        )
    if report.adopted:
        out.print(f"  在办的历史办件 {len(report.adopted)} 件已接管，进入各岗位待办（逾期的记为超期）")
    if report.adoption_pending:
        err.print(
            f"[yellow]! 在办的历史办件 {report.adoption_pending} 件尚未接管（Temporal 未运行）："
            "运行 make run 后执行 oneseal import adopt[/]"
        )
    if report.projects is not None:
        pr = report.projects
        out.print(f"[green]✓ 并联审批项目[/]：新增 {pr.added} 个，已存在 {pr.already_present} 个")
        if pr.adopted:
            out.print(f"  未办结的项目 {len(pr.adopted)} 个已由流程接管（逾期未答复的部门随即督办或视为同意）")
        if pr.adoption_pending:
            err.print(
                f"[yellow]! 未办结的项目 {pr.adoption_pending} 个尚未由流程接管（Temporal 未运行）："
                "运行 make run 后执行 oneseal parallel adopt[/]"
            )


@import_app.command("cases")
@command
def import_cases(
    file: Annotated[Path, typer.Argument(help="CSV 文件（UTF-8，含表头，列见 docs/data-formats.md）")],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="跳过错误行，只导入正确的行")] = False,
    reject_file: Annotated[Path | None, typer.Option("--reject-file", help="错误行及原因写入此文件")] = None,
    batch: Annotated[str | None, typer.Option("--batch", help="批次名（默认为文件名）")] = None,
) -> None:
    """导入旧平台办结或在办的历史办件（幂等：同一文件导入两次不会重复）；在办的随即接管。"""
    report = run(boot().imports.import_file(file, skip_bad=skip_bad, reject_file=reject_file, batch=batch))
    _print_import(report)


@import_app.command("adopt")
@command
def import_adopt() -> None:
    """接管尚未接管的在办历史办件：每件启动自己的流程，按原期限计时并进入待办。"""
    adopted = run(boot().imports.adopt_open())
    out.print(f"[green]✓ 已接管 {len(adopted)} 件在办的历史办件[/]")


@projections_app.command("status")
@command
def projections_status(as_json: JsonFlag = False) -> None:
    """各投影的位置与滞后（事件条数）。"""
    rows = boot().projections.status()
    if as_json:
        print_json([{"name": r.name, "position": r.position, "head": r.head, "lag": r.lag} for r in rows])
        return
    t = table("投影状态", "投影", "位置", "事件库最新", "滞后")
    for r in rows:
        t.add_row(r.name, str(r.position), str(r.head), str(r.lag))
    out.print(t)


@projections_app.command("rebuild")
@command
def projections_rebuild(
    name: Annotated[str, typer.Argument(help="投影名称：cases、projects 或 transfer")] = "cases",
    into: Annotated[
        str | None,
        typer.Option("--into", help="不停机重建：把全部读模型从事件建到另一个数据库（URL），原读模型照常服务"),
    ] = None,
) -> None:
    """清空读模型并从第 0 号事件重放（期间请停止投影进程）；加 --into URL 则建到另一个库，不停机。"""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from services.projections import PROJECTIONS

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err) as progress:  # fmt: skip
        if into:
            task = progress.add_task(f"重建到 {safe(into.split('@')[-1])}", total=None)
            built = boot().projections.rebuild_into(
                into, lambda n, pos, total: progress.update(task, description=f"重建 {n}", completed=pos,
                                                            total=max(total, 1))
            )  # fmt: skip
        else:
            b = boot()
            b.require_data()
            names = [name]
            found = b.projections.repair()  # a corrupt SQLite file: moved aside, every read model rebuilt
            if found is not None:
                err.print(f"! 读模型文件已损坏（{safe(found[0])}），已移至 {safe(found[1])}；从事件重建全部读模型")
                names = list(PROJECTIONS)
            task = progress.add_task(f"重建 {safe(name)}", total=None)
            built = [b.projections.rebuild(
                n, lambda pos, total: progress.update(task, completed=pos, total=max(total, 1))
            ) for n in names]  # fmt: skip
    for status in built:
        out.print(f"[green]✓ 已重建「{safe(status.name)}」[/]：位置 {status.position} / {status.head}")
    if into:
        out.print(
            "下一步：以 ONESEAL_READ_MODEL_URL 指向新库启动投影进程（oneseal project）使其保持最新，"
            "再逐个重启网页进程切换到新库（见 docs/deployment.md）"
        )


def _print_transfer(report: TransferScenarioReport) -> None:
    labels = {"live": "正式运行", "trial_extended": "延长试运行", "rolled_back": "已回退原部门", "removed": "已移出清单",
              "in_trial": "试运行中", "handover": "交接中"}  # fmt: skip
    batches = "，".join(f"第{no}批 {n} 项" for no, n in sorted(report.batches.items()))
    out.print(
        f"[green]✓ 划转场景 {safe(report.name)}[/]：{report.items} 项事项，{report.departments} 个部门（{batches}）"
    )
    out.print(
        f"  本次记录里程碑 {report.milestones_recorded} 个，交接签认 {report.signed} 次，作出试运行结论 {report.decided} 项"
    )
    if report.cases is not None:
        o = report.cases.outcome
        out.print(
            f"  历史办件：划转前（原部门）{report.cases_before} 件，试运行期间（审批局）{report.cases_during} 件；"
            f"新增 {o.added} 件，已存在 {o.already_present} 件"
        )
    shown = "，".join(f"{labels.get(k, k)} {v} 项" for k, v in sorted(report.statuses.items(), key=lambda kv: -kv[1]))
    out.print(f"  试运行结果：{shown}")
    if report.rolled_back:
        out.print(f"  回退原部门：{safe('、'.join(report.rolled_back))}")
    if report.extended:
        out.print(f"  延长试运行：{safe('、'.join(report.extended))}")
    out.print(f"[dim]用时 {report.seconds:.0f} 秒；查看：oneseal transfer status --programme {safe(report.name)}[/]")


@scenario_app.command("load")
@command
def scenario_load(
    name: Annotated[str, typer.Argument(help="场景名，如 aba-2020-04、maerkang-2020，或 demo-staff")],
    as_json: JsonFlag = False,
) -> None:
    """按通报数据生成一个月的历史办件（由种子决定，可重复）并导入；demo-staff：为每个岗位建演示账号；
    maerkang-2020：马尔康市177项事项划转审批局的全过程（交接、切换、试运行、结论）及其前后的办件。"""
    from services.identity import DEMO_PASSWORD, DEMO_STAFF, cli_actor
    from services.transfer_scenario import TRANSFER_SCENARIOS

    b = boot()
    if name in TRANSFER_SCENARIOS:
        with err.status(f"驱动划转场景 {safe(name)} …") as status:
            done = run(b.scenarios.transfer.load(name, on_step=lambda s: status.update(f"{safe(name)}：{s} …")))
        if as_json:
            print_json(done.to_dict())
        else:
            _print_transfer(done)
        return
    if name == DEMO_STAFF:
        with err.status("建立演示账号 …"):
            added, existing = b.identity.add_demo_users(by=cli_actor())
        out.print(
            f"[green]✓ 演示账号：新增 {added} 个，已存在 {existing} 个[/]（用户名 = 人员编号，密码 {DEMO_PASSWORD}）"
        )
        return
    with err.status(f"生成并导入场景 {safe(name)} …"):
        report = run(b.scenarios.load(name))
    _print_import(report)


@scenario_app.command("drive")
@command
def scenario_drive(
    name: Annotated[str, typer.Argument(help="场景名，如 aba-2020-04")],
    scale: Annotated[float, typer.Option("--scale", help="按通报月办件量的比例驱动，如 0.01")] = 0.01,
    concurrency: Annotated[int, typer.Option("--concurrency", help="同时办理的办件数", min=1, max=200)] = 16,
    as_json: JsonFlag = False,
) -> None:
    """用真实的办件流程（Temporal）和模拟的窗口人员按比例办理本月的演示办件，并核对通报数字。"""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    b = boot()
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  console=err) as progress:  # fmt: skip
        task = progress.add_task(f"驱动 {safe(name)} × {scale}", total=None)
        report = run(
            b.scenarios.drive(
                name,
                scale,
                concurrency=concurrency,
                on_plan=lambda n: progress.update(task, total=n),
                on_case=lambda: progress.advance(task),
            )
        )
    if as_json:
        print_json(report.to_dict())
    else:
        c = report.counts
        out.print(
            f"驱动完成：收件 {c.submitted}，受理 {c.accepted}，办结 {c.completed}，在办 {c.open}，其中补正 {c.corrections}"
        )
        out.print(
            f"{report.month} 通报（读模型，含演示办件）新增：受理 {report.bulletin_delta[0]}，办结 {report.bulletin_delta[1]}"
        )
        out.print("[green]✓ 通报数字与驱动结果一致[/]" if report.matches else "[red]✗ 通报数字与驱动结果不一致[/]")
        out.print("[dim]演示办件不计入正式通报；查看时加 --include-demo[/]")
    if not report.matches:
        raise typer.Exit(1)
