"""`oneseal parallel …`: parallel approval (并联审批) of investment projects, and `scenario drive-projects`."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from domain.parallel.values import PREFECTURE_REGION, STAGES, Opinion, Stage, StageOutcome, format_yi
from domain.parallel.view import ProjectView, StageStatus, StageView, TaskStatus, TaskView
from entrypoints.cli.common import boot, code_column, command, err, local, out, print_json, run, safe, table

if TYPE_CHECKING:  # the services are imported where used: every `oneseal` command starts faster
    from services.parallel import ProjectDone

parallel_app = typer.Typer(help="并联审批：投资项目分阶段、多部门同时审查", no_args_is_help=True)
parallel_scenario_app = typer.Typer()

AsUser = Annotated[str, typer.Option("--as", help="办理人员编号（见 oneseal staff list）")]
Code = Annotated[str, typer.Argument(help="项目代码，如 2026-513221-47-01-000001")]
StageOpt = Annotated[
    str | None,
    typer.Option("--stage", help="阶段（默认当前阶段）：" + "、".join(f"{s.value}（{s.label}）" for s in STAGES)),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON")]
OPINIONS = "、".join(f"{o.value}（{o.label}）" for o in Opinion if o is not Opinion.DEEMED_CONSENT)
CIRCLED = "①②③④"


def _yuan(view: ProjectView) -> str:
    return f"{format_yi(view.investment)} 亿元（{view.investment:,.2f} 元）"


def _print_done(label: str, done: ProjectDone) -> None:
    v = done.project
    if done.lists_lag:
        err.print(f"[yellow]! 已办理，但{safe(done.lists_lag)}[/]")
    out.print(f"[green]✓ {label}[/]：{safe(v.code)}  项目状态 → [bold]{v.status.label}[/]")
    s = v.current_stage
    if s is None:
        last = v.decided_stages()[-1] if v.decided_stages() else None
        if last is not None:
            out.print(f"  {last.stage.label}：{last.status.label}")
        return
    if s.status is StageStatus.NOT_OPEN:
        previous = v.stages[s.stage.position - 1] if s.stage.position else None
        if previous is not None and previous.status.is_decided:
            out.print(f"  {previous.stage.label}：{previous.status.label}")
        out.print(f"  下一阶段：{s.stage.label}（待申请人申请，由窗口或{safe(s.lead_department)}受理）")
        return
    out.print(f"  {s.stage.label}：{s.status.label}，阶段期限 {local(s.due_at, '%Y-%m-%d')}")
    if s.status is StageStatus.SUSPENDED:
        for item in s.notice:
            out.print(f"  一次性告知 · {safe(item.department)}：{safe('、'.join(item.materials))}")
        out.print("  [yellow]各部门及阶段计时已停止，待申请人补正[/]")
        return
    asking = [t for t in s.tasks if t.status is TaskStatus.CORRECTION_REQUESTED]
    if asking:
        names = "、".join(t.department for t in asking)
        out.print(f"  已要求补正：{safe(names)}（各部门都答复后汇总为一次性告知）")
    waiting = [t for t in s.tasks if t.status is TaskStatus.REVIEWING]
    if waiting:
        out.print(f"  待出具意见：{safe('、'.join(t.department for t in waiting))}")
    elif s.awaiting_decision:
        out.print(f"  各部门意见已齐，待牵头部门{safe(s.lead_department)}作出阶段决定")


def _opinion(t: TaskView) -> str:
    if t.status is TaskStatus.REVIEWING:
        return "审查中" + (" [red]已督办[/]" if t.escalated_at else "")
    if t.status is TaskStatus.CORRECTION_REQUESTED:
        return f"需补正：{safe('、'.join(t.correction))}"
    assert t.opinion is not None
    text = t.opinion.label
    if t.opinion is Opinion.AGREE_WITH_CONDITIONS:
        text += f"：{safe(t.conditions)}"
    elif t.opinion is Opinion.DISAGREE:
        text = f"[red]{text}[/]：{safe(t.reason)}"
    elif t.opinion is Opinion.DEEMED_CONSENT:
        text += f"（{safe(t.deemed_consent_rule)}）"
    if t.resubmitted and t.correction:
        text += f"（补正后；曾要求：{safe('、'.join(t.correction))}）"
    return text


def _stage_title(v: ProjectView, s: StageView) -> str:
    mark = CIRCLED[s.stage.position]
    state = s.status.label
    if s.status.is_decided and s.outcome is not None:
        state = f"{StageOutcome(s.outcome).label}（{local(s.decided_at, '%Y-%m-%d')}，用时 {s.used_days} 个工作日）"
    return f"{mark} {s.stage.label} · 牵头 {s.lead_department} · {state}"


def _print_project(v: ProjectView, used: int | None = None) -> None:
    out.print(f"[bold]{safe(v.code)}[/]  {safe(v.name)}")
    out.print(f"  建设单位：{safe(v.owner)}")
    out.print(f"  总投资：{_yuan(v)}")
    out.print(
        f"  {v.level_label} · {safe(v.region)}  状态：[bold]{v.status.label}[/]" + ("  [dim]演示[/]" if v.demo else "")
    )
    r = v.reform
    used_text = f"已用 {used} / " if used is not None else ""
    flag = " [red]已超时[/]" if r.exceeded else " [yellow]已预警[/]" if r.warned_at else ""
    out.print(f"  改革目标（立项至施工许可）：{used_text}{r.target_days} 个工作日，预警 {r.warning_days}{flag}")
    for s in v.stages:
        if s.status is StageStatus.NOT_OPEN:
            names = "、".join(p.department for p in s.participants)
            out.print(f"{CIRCLED[s.stage.position]} {s.stage.label} · 牵头 {safe(s.lead_department)} · 未受理")
            out.print(f"    参与部门：{safe(names)}（时限 {s.time_limit_days} 个工作日）", style="dim")
            continue
        t = table(_stage_title(v, s), "部门", "意见", ("期限", {"no_wrap": True}), ("答复", {"no_wrap": True}))
        for task in s.tasks:
            t.add_row(safe(task.department), _opinion(task), task.due_day, local(task.answered_at, "%m-%d %H:%M"))
        out.print(t)
        if s.notice:
            out.print(
                "  一次性告知（汇总）："
                + safe("；".join(f"{i.department}：{'、'.join(i.materials)}" for i in s.notice))
            )
        if s.status is StageStatus.SUSPENDED:
            out.print(f"  [yellow]自 {local(s.suspended_since)} 起停止计时，待申请人补正[/]")
        elif s.suspended_days:
            out.print(f"  补正停止计时 {s.suspended_days} 个工作日（期限已顺延）")
        if not s.status.is_decided:
            out.print(f"  阶段期限：{s.due_day}（{s.silence_policy.label}）")
        if s.override_reason:
            out.print(f"  协调通过（{safe('、'.join(s.overridden))}不同意）：{safe(s.override_reason)}")
        if s.reason:
            out.print(f"  理由：{safe(s.reason)}")


# ---- staff steps ---------------------------------------------------------------------------------


@parallel_app.command("submit")
@command
def submit(
    code: Annotated[str, typer.Option("--code", help="项目代码（24位，YYYY-AAAAAA-BB-CC-NNNNNN）")],
    name: Annotated[str, typer.Option("--name", help="项目名称")],
    owner: Annotated[str, typer.Option("--owner", help="建设单位")],
    investment: Annotated[str, typer.Option("--investment", help="总投资（元，最多两位小数），如 12345678.90")],
    region: Annotated[str, typer.Option("--region", help="所属地区：阿坝州（州本级）或所辖县（市）")],
    user: AsUser,
    level: Annotated[
        str | None, typer.Option("--level", help="层级：prefecture（州本级）或 county（县（市）），默认按地区")
    ] = None,
    reform_days: Annotated[int, typer.Option("--reform-days", help="改革目标时限（工作日）")] = 120,
    as_json: JsonFlag = False,
) -> None:
    """项目登记：已赋码的投资项目进入并联审批，按标准方案确定四个阶段的牵头和参与部门。"""
    b = boot()
    actor = b.directory.actor(user)
    lv = level or ("prefecture" if region.strip() == PREFECTURE_REGION else "county")
    done = run(
        b.parallel.submit(
            code=code, name=name, owner=owner, investment=investment, level=lv, region=region, actor=actor,
            reform_days=reform_days,
        )
    )  # fmt: skip
    if as_json:
        print_json(asdict(done.project))
        return
    _print_done("已登记", done)
    first = done.project.stages[0]
    out.print(f"  下一步：窗口受理「{first.stage.label}」阶段申请：")
    out.print(f"    oneseal parallel open-stage {safe(done.project.code)} --as {safe(user)}", soft_wrap=True)


@parallel_app.command("open-stage")
@command
def open_stage(
    code: Code,
    user: AsUser,
    stage: StageOpt = None,
    material: Annotated[list[str] | None, typer.Option("--material", "-m", help="申请材料（一张表单），可重复")] = None,
) -> None:
    """阶段受理（一窗受理、一张表单）：各参与部门同时开始审查，各自计时。"""
    b = boot()
    done = run(b.parallel.open_stage(code, actor=b.directory.actor(user), stage=stage, materials=material or []))
    _print_done("已受理", done)


@parallel_app.command("opinion")
@command
def opinion(
    code: Code,
    user: AsUser,
    kind: Annotated[str, typer.Option("--opinion", help="意见：" + OPINIONS)],
    stage: StageOpt = None,
    department: Annotated[str | None, typer.Option("--department", help="部门（默认为办理人员所在部门）")] = None,
    conditions: Annotated[str, typer.Option("--conditions", help="同意的条件（有条件同意时必填）")] = "",
    reason: Annotated[str, typer.Option("--reason", help="不同意的理由（不同意时必填）")] = "",
    missing: Annotated[list[str] | None, typer.Option("--missing", help="需补正的材料（需补正时必填），可重复")] = None,
) -> None:
    """出具审查意见：同意、有条件同意、不同意或需补正材料（各部门的补正要求汇总为一次性告知）。"""
    b = boot()
    done = run(
        b.parallel.opinion(
            code, actor=b.directory.actor(user), opinion=kind, stage=stage, department=department,
            conditions=conditions, reason=reason, missing=missing or [],
        )
    )  # fmt: skip
    _print_done("已出具意见", done)


@parallel_app.command("supplement")
@command
def supplement(
    code: Code,
    user: AsUser,
    stage: StageOpt = None,
    material: Annotated[
        list[str] | None, typer.Option("--material", "-m", help="补正的材料，可重复；默认补齐一次性告知所列全部")
    ] = None,
) -> None:
    """接收补正材料：申请人一次补齐各部门要求的材料，计时恢复，期限顺延。"""
    b = boot()
    done = run(b.parallel.supplement(code, actor=b.directory.actor(user), stage=stage, materials=material))
    _print_done("已补正", done)


@parallel_app.command("decide")
@command
def decide(
    code: Code,
    user: AsUser,
    outcome: Annotated[str, typer.Option("--outcome", help="决定：approved（通过）或 denied（不予通过）")],
    stage: StageOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="不予通过的理由")] = "",
    override_reason: Annotated[
        str, typer.Option("--override-reason", help="协调通过不同意见的理由（仅限本阶段允许时）")
    ] = "",
) -> None:
    """阶段决定：各部门意见齐全后由牵头部门作出；有不同意见的，不予通过或（允许时）写明理由协调通过。"""
    b = boot()
    done = run(
        b.parallel.decide(
            code, actor=b.directory.actor(user), outcome=outcome, stage=stage, reason=reason,
            override_reason=override_reason,
        )
    )  # fmt: skip
    _print_done("已决定", done)


# ---- reads ---------------------------------------------------------------------------------------


@parallel_app.command("show")
@command
def show(code: Code, as_json: JsonFlag = False) -> None:
    """查看项目：各阶段、各部门的意见和期限，改革目标用时，办理时间线。"""
    detail = boot().parallel.show(code)
    v = detail.project
    if as_json:
        print_json(
            {"project": asdict(v), "reform_days_used": detail.reform_days_used,
             "timeline": [e.to_dict() for e in detail.timeline]}
        )  # fmt: skip
        return
    _print_project(v, detail.reform_days_used)
    t = table("办理时间线（北京时间）", "#", ("时间", {"no_wrap": True}), "环节", "办理人")
    for e in detail.timeline:
        who = e.actor.name if e.actor else "—"
        dept = e.details.get("department")
        t.add_row(str(e.version), local(e.at), e.label + (f"·{safe(dept)}" if dept else ""), safe(who))
    out.print(t)


@parallel_app.command("list")
@command
def list_projects(
    region: Annotated[str | None, typer.Option("--region", help="按地区过滤，如 汶川县")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="按状态过滤：registered、in_progress、completed、denied")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="最多显示条数", min=1, max=10000)] = 200,
    as_json: JsonFlag = False,
) -> None:
    """项目列表（读模型，最新登记在前）。"""
    from services.parallel import ProjectQuery

    page = boot().parallel.search(ProjectQuery(region=region, statuses=(status,) if status else (), limit=limit))
    if as_json:
        print_json([{**asdict(r), "investment_yuan": f"{r.investment:.2f}"} for r in page.items])
        return
    shown = f"显示 {len(page.items)} / 共 {page.total} 个" if page.total > len(page.items) else f"共 {page.total} 个"
    t = table(f"并联审批项目（{shown}）", code_column("项目代码", [r.code for r in page.items]), "名称", "地区",
              ("亿元", {"justify": "right"}), "当前阶段")  # fmt: skip
    labels = {"registered": "已赋码", "in_progress": "审批中", "completed": "已办结", "denied": "不予通过"}
    for r in page.items:
        stage = Stage(r.stage).label if r.stage else "—"
        state = StageStatus(r.stage_status).label if r.stage_status else labels.get(r.status, r.status)
        if r.status in ("completed", "denied"):
            state = labels[r.status]
        mark = " [red]超时[/]" if r.reform_overdue else " [yellow]预警[/]" if r.reform_warned else ""
        t.add_row(safe(r.code), safe(r.name), safe(r.region), r.investment_yi, f"{stage}·{state}{mark}")
    out.print(t)


@parallel_app.command("adopt")
@command
def adopt() -> None:
    """接管场景载入的在办项目：每个项目启动自己的流程，按原期限计时（已逾期的随即督办或视为同意）。"""
    adopted = run(boot().parallel.adopt_loaded())
    out.print(f"[green]✓ 已接管 {len(adopted)} 个在办项目[/]")


# ---- demonstration -------------------------------------------------------------------------------


@parallel_scenario_app.command("drive-projects")
@command
def drive_projects(
    count: Annotated[int, typer.Option("--count", help="演示项目数", min=1, max=200)] = 3,
    concurrency: Annotated[int, typer.Option("--concurrency", help="同时办理的项目数", min=1, max=50)] = 4,
    as_json: JsonFlag = False,
) -> None:
    """用真实的并联审批流程（Temporal）和模拟的窗口及部门人员办理演示项目的四个阶段，并核对本月通报。"""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    b = boot()
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  console=err) as progress:  # fmt: skip
        task = progress.add_task("驱动并联审批演示项目", total=count)
        report = run(b.parallel.drive_demo(count, concurrency=concurrency, on_project=lambda: progress.advance(task)))
    if as_json:
        print_json(report.to_dict())
    else:
        out.print(
            f"驱动完成：{len(report.driven)} 个项目办结四个阶段（其中 {report.corrections} 个经一次性告知补正），"
            f"总投资 {report.investment:,.2f} 元"
        )
        projects, amount = report.bulletin_delta
        out.print(f"{report.month} 通报（含演示项目）并联审批新增：{projects} 个项目，{amount:,.2f} 元")
        out.print("[green]✓ 通报数字与驱动结果一致[/]" if report.matches else "[red]✗ 通报数字与驱动结果不一致[/]")
        out.print("[dim]演示项目不计入正式通报；查看时加 --include-demo[/]")
    if not report.matches:
        raise typer.Exit(1)
