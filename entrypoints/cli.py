"""The staff command line (`oneseal`): translate arguments, call the service layer, print in Chinese."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from domain.application import CaseApplication
from domain.calendar import SHANGHAI
from domain.case import DECISION_OUTCOMES, SUSPENSION_REASONS, CaseStatus, Step
from domain.catalogue import MatterKind, default_catalogue
from domain.errors import DomainError
from domain.staff import Post, default_staff
from entrypoints.services import CaseService
from projections.cases import CasesProjection
from projections.runner import ProjectionError, ReadModelTimeout, ensure_schema, make_engine
from workers.logging import configure_logging
from workers.settings import Settings
from workflows.contracts import StepRequest

app = typer.Typer(help="OneSeal 一枚印章：政务服务办件流程引擎", no_args_is_help=True, add_completion=False)
case_app = typer.Typer(help="办件：收件、补正、受理、审查、决定、出件", no_args_is_help=True)
matters_app = typer.Typer(help="政务服务事项目录", no_args_is_help=True)
staff_app = typer.Typer(help="工作人员名册", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.add_typer(matters_app, name="matters")
app.add_typer(staff_app, name="staff")
projections_app = typer.Typer(help="读模型（投影）：状态与重建", no_args_is_help=True)
import_app = typer.Typer(help="历史数据导入（旧平台迁移）", no_args_is_help=True)
report_app = typer.Typer(help="报表：月度政务服务工作通报", no_args_is_help=True)
scenario_app = typer.Typer(help="演示场景：按通报数据生成或驱动办件", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
app.add_typer(import_app, name="import")
app.add_typer(report_app, name="report")
app.add_typer(scenario_app, name="scenario")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _print_version(value: bool) -> None:
    if value:
        from workers.stack_state import version

        out.print(f"oneseal {version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="显示版本并退出")
    ] = False,
) -> None:
    """OneSeal 一枚印章：政务服务办件流程引擎"""


AsUser = Annotated[str, typer.Option("--as", help="办理人员编号（见 oneseal staff list）")]
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON")]
CaseNo = Annotated[str, typer.Argument(help="办件编号")]


class Outcome(StrEnum):
    grant = "grant"
    deny = "deny"


class SuspendReason(StrEnum):
    hearing = "hearing"
    testing = "testing"
    expert_review = "expert_review"
    other = "other"


def _fail(code: str, message: str, exit_code: int = 2) -> None:
    err.print(f"[bold red]✗ {message}[/]  [dim]({code})[/]")
    raise typer.Exit(exit_code)


def staff_command(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn refusals into a clear Chinese message and a non-zero exit; nothing is written."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except DomainError as e:
            _fail(e.code, e.message)
        except ProjectionError as e:
            _fail(e.code, str(e))
        except RuntimeError as e:
            if "connect" in str(e).lower() or "transport" in str(e).lower():
                target = Settings.from_env().temporal_target
                _fail("TEMPORAL_UNREACHABLE", f"无法连接 Temporal（{target}），请先在另一个终端运行 make run", 3)
            raise
        raise AssertionError("unreachable")

    return wrapper


def _settings() -> Settings:
    s = Settings.from_env()
    configure_logging(s.log_format, level=40)  # staff see results, not log lines
    return s


def _store(settings: Settings) -> CaseApplication:
    return CaseApplication(env=settings.event_store_env())


def _read_models(settings: Settings) -> Any:
    engine = make_engine(settings.read_model_url)
    ensure_schema(engine, CasesProjection(), CaseApplication.name)
    return engine


def _read_your_writes(settings: Settings, case: dict[str, Any]) -> None:
    """Return once the lists show this step; say so plainly if the projector lags."""
    from projections.queries import wait_for_case

    try:
        wait_for_case(_read_models(settings), case, timeout=float(settings.read_your_writes_timeout))
    except ReadModelTimeout as e:
        err.print(f"[yellow]! 已办理，但{e}[/]")


async def _with_service(settings: Settings, fn: Callable[[CaseService], Awaitable[T]]) -> T:
    from workers.worker import connect

    client = await connect(settings, attempts=1)
    return await fn(CaseService(client, settings))


def _run_step(case_no: str, step: Step, user: str, **fields: Any) -> None:
    settings = _settings()
    actor = default_staff().get(user)
    req = StepRequest(actor=actor.to_dict(), **fields)
    case = asyncio.run(_with_service(settings, lambda s: s.step(case_no, step, req)))
    _read_your_writes(settings, case)
    out.print(f"[green]✓ {step.label}[/]：{case_no}  状态 → [bold]{CaseStatus(case['status']).label}[/]")
    _print_next(case)


def _local(value: str | None) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _print_next(case: dict[str, Any]) -> None:
    awaiting = case.get("awaiting")
    if awaiting:
        out.print(f"  下一步由：{awaiting['department']}·{Post(awaiting['post']).label}")
    elif CaseStatus(case["status"]) is CaseStatus.AWAITING_CORRECTION:
        out.print(f"  等待申请人补正，期限 {_local(case['correction_due_at'])}")


# ---- staff steps ---------------------------------------------------------------------------------


@case_app.command("submit")
@staff_command
def submit(
    matter: Annotated[str, typer.Option("--matter", help="事项编码（见 oneseal matters list）")],
    applicant: Annotated[str, typer.Option("--applicant", help="申请人")],
    user: AsUser,
    material: Annotated[list[str] | None, typer.Option("--material", "-m", help="已提交的材料，可重复")] = None,
    all_materials: Annotated[bool, typer.Option("--all-materials", help="材料齐全")] = False,
    case_no: Annotated[str | None, typer.Option("--case-no", help="指定办件编号（默认自动生成）")] = None,
    as_json: JsonFlag = False,
) -> None:
    """收件：登记一件申请，启动办件流程。"""
    settings = _settings()
    actor = default_staff().get(user)
    m = default_catalogue().get(matter)
    materials = list(m.materials) if all_materials else list(material or [])
    case = asyncio.run(
        _with_service(
            settings,
            lambda s: s.submit(
                matter_code=matter, applicant=applicant, materials=materials, actor=actor, case_no=case_no
            ),
        )
    )
    if as_json:
        out.print_json(json.dumps(case, ensure_ascii=False))
        return
    out.print(f"[green]✓ 已收件[/]：办件编号 [bold]{case['case_no']}[/]（{case['matter_name']}）")
    if case["missing_materials"]:
        out.print(
            f"  缺少材料：{'、'.join(case['missing_materials'])} —— 请一次性告知："
            f"oneseal case notice {case['case_no']} --as {user}"
        )
    out.print(f"  法定受理答复期限（逾期视为受理）：{_local(case['deemed_acceptance_at'])}")
    _print_next(case)


@case_app.command("notice")
@staff_command
def notice(
    case_no: CaseNo,
    user: AsUser,
    missing: Annotated[list[str] | None, typer.Option("--missing", help="缺少的材料，可重复；默认列出全部所缺")] = None,
) -> None:
    """一次性告知：一次列明全部缺少的材料。"""
    listed = list(missing or []) or _store(_settings()).get_case(case_no)["missing_materials"]
    _run_step(case_no, Step.NOTICE, user, materials=listed)


@case_app.command("supplement")
@staff_command
def supplement(
    case_no: CaseNo,
    user: AsUser,
    material: Annotated[
        list[str] | None, typer.Option("--material", "-m", help="补正的材料，可重复；默认补齐全部")
    ] = None,
) -> None:
    """补正：登记申请人补交的材料。"""
    given = list(material or []) or _store(_settings()).get_case(case_no)["missing_materials"]
    _run_step(case_no, Step.SUPPLEMENT, user, materials=given)


@case_app.command("accept")
@staff_command
def accept(case_no: CaseNo, user: AsUser) -> None:
    """受理：材料齐全，按承诺时限开始计时。"""
    _run_step(case_no, Step.ACCEPT, user)


@case_app.command("refuse")
@staff_command
def refuse(
    case_no: CaseNo, user: AsUser, reason: Annotated[str, typer.Option("--reason", help="不予受理理由")] = ""
) -> None:
    """不予受理（须说明理由）。"""
    _run_step(case_no, Step.REFUSE, user, reason=reason)


@case_app.command("suspend")
@staff_command
def suspend(
    case_no: CaseNo,
    user: AsUser,
    reason: Annotated[
        SuspendReason, typer.Option("--reason", help="、".join(f"{k}={v}" for k, v in SUSPENSION_REASONS.items()))
    ],
    note: Annotated[str, typer.Option("--note", help="说明")] = "",
) -> None:
    """中止计时：听证、检验检测、专家评审等不计入办理时限。"""
    _run_step(case_no, Step.SUSPEND, user, reason=reason.value, note=note)


@case_app.command("resume")
@staff_command
def resume(case_no: CaseNo, user: AsUser) -> None:
    """恢复计时：期限顺延中止的天数。"""
    _run_step(case_no, Step.RESUME, user)


@case_app.command("decide")
@staff_command
def decide(
    case_no: CaseNo,
    user: AsUser,
    outcome: Annotated[
        Outcome, typer.Option("--outcome", help="、".join(f"{k}={v}" for k, v in DECISION_OUTCOMES.items()))
    ],
    reason: Annotated[str, typer.Option("--reason", help="理由（不予许可时必填）")] = "",
) -> None:
    """作出决定：准予或不予许可。"""
    _run_step(case_no, Step.DECIDE, user, outcome=outcome.value, reason=reason)


@case_app.command("deliver")
@staff_command
def deliver(case_no: CaseNo, user: AsUser) -> None:
    """出件：统一出件窗口送达结果，办件随即办结。"""
    _run_step(case_no, Step.DELIVER, user)


@case_app.command("withdraw")
@staff_command
def withdraw(
    case_no: CaseNo, user: AsUser, reason: Annotated[str, typer.Option("--reason", help="撤回理由")] = ""
) -> None:
    """撤回申请。"""
    _run_step(case_no, Step.WITHDRAW, user, reason=reason)


# ---- reads ---------------------------------------------------------------------------------------


@case_app.command("show")
@staff_command
def show(case_no: CaseNo, as_json: JsonFlag = False) -> None:
    """查看办件：状态、期限和办理时间线。"""
    store = _store(_settings())
    case, history = store.get_case(case_no), store.history(case_no)
    if as_json:
        out.print_json(json.dumps({"case": case, "timeline": history}, ensure_ascii=False))
        return
    out.print(
        f"[bold]{case['case_no']}[/]  {case['matter_name']}（{MatterKind(case['matter_kind']).label}）"
        f"  申请人：{case['applicant']}"
    )
    out.print(
        f"  办理机关：{case['department']}（{case['region']}）  状态：[bold]{CaseStatus(case['status']).label}[/]"
    )
    rows = [
        ("法定受理答复期限", case["deemed_acceptance_at"]),
        ("补正期限", case["correction_due_at"]),
        ("受理时间", case["accepted_at"]),
        ("预警时间", case["warning_at"]),
        ("承诺办结期限", case["promised_deadline"]),
        ("办结时间", case["completed_at"]),
    ]
    for label, value in rows:
        if value:
            out.print(f"  {label}：{_local(value)}")
    if case["deadline_provisional"]:
        out.print("  [yellow]注意：期限跨入尚未发布节假日安排的年份，为暂定期限[/]")
    if case["suspended_days"] or case["suspended_since"]:
        out.print(f"  已中止计时：{case['suspended_days']} 天" + ("（中止中）" if case["suspended_since"] else ""))
    if case["missing_materials"]:
        out.print(f"  缺少材料：{'、'.join(case['missing_materials'])}")
    if case["overdue"]:
        out.print("  [red]已超期[/]")
    _print_next(case)
    _timeline(history)


@case_app.command("history")
@staff_command
def history(case_no: CaseNo, as_json: JsonFlag = False) -> None:
    """办件的全部事件（谁、何时、做了什么）。"""
    events = _store(_settings()).history(case_no)
    if as_json:
        out.print_json(json.dumps(events, ensure_ascii=False))
        return
    _timeline(events, detail=True)


EVENT_LABELS = {
    "Submitted": "收件",
    "CorrectionNoticeIssued": "一次性告知补正",
    "Supplemented": "补正材料",
    "Accepted": "受理",
    "AcceptanceRefused": "不予受理",
    "ClockSuspended": "中止计时",
    "ClockResumed": "恢复计时",
    "Decided": "作出决定",
    "Delivered": "出件",
    "Completed": "办结",
    "Withdrawn": "撤回",
    "DeadlineWarned": "超期预警",
    "Imported": "历史导入",
    "BecameOverdue": "超期",
}
_SKIP = {"version", "event", "recorded_at", "at", "actor", "command_id", "awaiting"}


def _timeline(events: list[dict[str, Any]], detail: bool = False) -> None:
    table = Table(title="办理时间线", show_lines=False)
    for col in ("#", "时间", "环节", "办理人", "下一步", *(["详情"] if detail else [])):
        table.add_column(col)
    for e in events:
        actor = e.get("actor") or {}
        awaiting = e.get("awaiting")
        extra = {k: v for k, v in e.items() if k not in _SKIP and v not in (None, "", [], False)}
        table.add_row(
            str(e["version"]),
            _local(e.get("at") or e.get("completed_at") or e.get("submitted_at")),
            EVENT_LABELS.get(e["event"], e["event"]),
            actor.get("name", ""),
            f"{awaiting['department']}·{Post(awaiting['post']).label}" if awaiting else "—",
            *([json.dumps(extra, ensure_ascii=False)] if detail else []),
        )
    out.print(table)


@case_app.command("list")
@staff_command
def list_cases(
    status: Annotated[str | None, typer.Option("--status", help="按状态过滤，如 under_review")] = None,
    region: Annotated[str | None, typer.Option("--region", help="按地区过滤")] = None,
    limit: Annotated[int, typer.Option("--limit", help="最多显示条数")] = 200,
    as_json: JsonFlag = False,
) -> None:
    """办件列表（读模型，最新收件在前）。"""
    from projections.queries import list_cases as query

    cases = query(_read_models(_settings()), status=status, region=region, limit=limit)
    if as_json:
        out.print_json(json.dumps(cases, ensure_ascii=False))
        return
    table = Table(title=f"办件（{len(cases)} 件）")
    for col in ("办件编号", "事项", "地区", "状态", "承诺期限", "当前环节"):
        table.add_column(col)
    for c in cases:
        task = f"{c['task_department']}·{Post(c['task_post']).label}" if c["current_task"] else "—"
        table.add_row(
            c["case_no"],
            c["matter_name"],
            c["region"],
            CaseStatus(c["status"]).label,
            _local(c["promised_deadline"]),
            task,
        )
    out.print(table)


@app.command("worklist")
@staff_command
def worklist(user: AsUser, as_json: JsonFlag = False) -> None:
    """我的待办：本岗位（含 AB 岗）待办理的办件，超期和预警在前。"""
    from projections.queries import worklist_for

    actor = default_staff().get(user)
    tasks = worklist_for(_read_models(_settings()), actor.department, actor.post, actor.region)
    if as_json:
        out.print_json(json.dumps(tasks, ensure_ascii=False))
        return
    table = Table(title=f"{actor.describe()} 的待办（{len(tasks)} 件）")
    for col in ("优先级", "办件编号", "事项", "环节", "到期"):
        table.add_column(col)
    labels = {"intake": "受理", "review": "审查决定", "delivery": "出件"}
    for t in tasks:
        prio = ["", "[yellow]预警[/]", "[red]超期[/]"][t["priority"]]
        table.add_row(prio, t["case_no"], t["matter_name"], labels.get(t["task"], t["task"]), _local(t["due_at"]))
    out.print(table)


@matters_app.command("list")
def matters_list(
    region: Annotated[str | None, typer.Option("--region", help="地区，如 汶川县、阿坝州")] = None,
    as_json: JsonFlag = False,
) -> None:
    """列出事项：编码、名称、办理机关、时限、所需材料。"""
    cat = default_catalogue()
    matters = [m for m in cat.matters.values() if not region or m.authority.region == region]
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "code": m.code,
                        "name": m.name,
                        "kind": m.kind.value,
                        "department": m.authority.department,
                        "level": m.authority.level.value,
                        "region": m.authority.region,
                        "statutory_days": m.statutory_days,
                        "promised_days": m.promised_days,
                        "day_type": m.day_type.value,
                        "materials": list(m.materials),
                    }
                    for m in matters
                ],
                ensure_ascii=False,
            )
        )
        return
    table = Table(title=f"事项目录 {cat.version}（{len(matters)} 项）")
    for col in ("编码", "名称", "类别", "办理机关", "承诺/法定", "材料"):
        table.add_column(col)
    for m in matters:
        table.add_row(
            m.code,
            m.name,
            m.kind.label,
            m.authority.department,
            f"{m.promised_days}/{m.statutory_days}{m.day_type.label}",
            "、".join(m.materials),
        )
    out.print(table)


@staff_app.command("list")
def staff_list(region: Annotated[str | None, typer.Option("--region", help="地区")] = None) -> None:
    """列出工作人员及其岗位（--as 使用此处的编号）。"""
    table = Table(title="工作人员")
    for col in ("编号", "姓名", "部门", "岗位", "地区"):
        table.add_column(col)
    for a in default_staff().all():
        if not region or a.region == region:
            table.add_row(a.user_id, a.name, a.department, Post(a.post).label, a.region)
    out.print(table)


# ---- processes -----------------------------------------------------------------------------------


@app.command("up")
def up() -> None:
    """启动内置全套服务：Temporal 开发服务器、工作进程、投影进程（Ctrl-C 停止）。"""
    from workers.stack import Stack

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    raise typer.Exit(Stack(settings).run())


@app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """运行状态：进程、地址、启动时间、重启次数、读模型滞后（未运行时退出码 3）。"""
    from workers.stack_control import status as stack_status

    raise typer.Exit(stack_status(Settings.from_env(), as_json))


@app.command("down")
def down(
    timeout: Annotated[float, typer.Option("--timeout", help="最多等待秒数")] = 10.0,
) -> None:
    """停止本数据目录上运行的 oneseal up（发送 SIGTERM 并等待其停止）。"""
    from workers.stack_control import down as stack_down

    raise typer.Exit(stack_down(Settings.from_env(), timeout))


@app.command("worker")
def worker() -> None:
    """只启动 Temporal 工作进程（连接已配置的 Temporal 服务）。"""
    from workers.worker import main as worker_main

    asyncio.run(worker_main())


@app.command("project")
@staff_command
def project() -> None:
    """只启动投影进程：持续把事件投影到读模型（Ctrl-C 停止）。"""
    from workers.projector import main as projector_main

    raise typer.Exit(projector_main())


@projections_app.command("status")
@staff_command
def projections_status(as_json: JsonFlag = False) -> None:
    """各投影的位置与滞后（事件条数）。"""
    settings = _settings()
    engine = _read_models(settings)
    from projections.queries import projection_positions

    store = _store(settings)  # keep the application alive: its __del__ closes the pool
    head = int(store.recorder.max_notification_id() or 0)
    rows = [{"name": n, "position": p, "head": head, "lag": head - p} for n, p in projection_positions(engine).items()]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title="投影状态")
    for col in ("投影", "位置", "事件库最新", "滞后"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[k]) for k in ("name", "position", "head", "lag")))
    out.print(table)


@projections_app.command("rebuild")
@staff_command
def projections_rebuild(
    name: Annotated[str, typer.Argument(help="投影名称（目前只有 cases）")] = "cases",
) -> None:
    """清空读模型并从第 0 号事件重放（期间请停止投影进程）。"""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from projections.runner import ProjectionRunner, lease

    if name != CasesProjection.name:
        _fail("PROJECTION_UNKNOWN", f"未知的投影「{name}」，可选：{CasesProjection.name}")
    settings = _settings()
    runner = ProjectionRunner(_store(settings), _read_models(settings))
    head = runner.head()
    with (
        lease(runner.engine, runner.name),
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
        ) as progress,
    ):
        task = progress.add_task(f"重建 {name}", total=head)
        runner.rebuild(lambda pos, total: progress.update(task, completed=pos, total=max(total, 1)))
    out.print(f"[green]✓ 已重建「{name}」[/]：位置 {runner.position()} / {runner.head()}")


@import_app.command("cases")
@staff_command
def import_cases(
    file: Annotated[str, typer.Argument(help="CSV 文件（UTF-8，含表头，列见 docs/data-formats.md）")],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="跳过错误行，只导入正确的行")] = False,
    reject_file: Annotated[str | None, typer.Option("--reject-file", help="错误行及原因写入此文件")] = None,
    batch: Annotated[str | None, typer.Option("--batch", help="批次名（默认为文件名）")] = None,
) -> None:
    """导入旧平台办结或在办的历史办件（幂等：同一文件导入两次不会重复）。"""
    from pathlib import Path

    from domain.calendar import default_calendar
    from domain.history import parse_import

    settings = _settings()
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        _fail("IMPORT_FILE_UNREADABLE", f"无法读取文件 {file}：{e}")
    parsed = parse_import(text, default_catalogue(), default_calendar())
    if parsed.errors:
        for row in parsed.errors[:50]:
            err.print(f"  第{row.line}行 {row.case_no}：{row.reason}")
        if len(parsed.errors) > 50:
            err.print(f"  …… 另有 {len(parsed.errors) - 50} 行错误")
        if reject_file:
            _write_rejects(reject_file, parsed)
        if not skip_bad:
            _fail(
                "IMPORT_ROWS_INVALID", f"{len(parsed.errors)} 行有误，整个文件未导入（可用 --skip-bad 只导入正确的行）"
            )
    app_ = _store(settings)
    outcome = app_.import_cases(parsed.records, batch=batch or path.name, skip_conflicts=skip_bad)
    if outcome.conflicts and not skip_bad:
        for case_no, reason in outcome.conflicts[:50]:
            err.print(f"  {case_no}：{reason}")
        _fail("IMPORT_CONFLICT", f"{len(outcome.conflicts)} 个办件编号已存在且内容不同，整个文件未导入")
    out.print(
        f"[green]✓ 导入完成[/]：新增 {outcome.added} 件，已存在 {outcome.already_present} 件，"
        f"文件内重复 {parsed.duplicates_in_file} 行，错误 {len(parsed.errors)} 行，冲突 {len(outcome.conflicts)} 件"
    )
    for kind, names in sorted(parsed.unknown.items()):
        label = {"matter_code": "事项编码", "department": "部门", "region": "地区"}.get(kind, kind)
        out.print(
            f"  目录中没有的{label}（按旧系统名称导入）：{'、'.join(sorted(names)[:20])}"
            + (f" 等 {len(names)} 个" if len(names) > 20 else "")
        )
    if outcome.notification_id:
        _read_your_writes(settings, {"notification_id": outcome.notification_id, "case_no": "", "version": 0})


def _write_rejects(path: str, parsed: Any) -> None:
    import csv

    from domain.history import IMPORT_COLUMNS

    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["line", *IMPORT_COLUMNS, "reason"])
        for row in parsed.errors:
            w.writerow([row.line, *parsed.bad_lines.get(row.line, [row.case_no]), row.reason])


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"
    xlsx = "xlsx"
    csv = "csv"


@report_app.command("bulletin")
@staff_command
def report_bulletin(
    month: Annotated[str, typer.Option("--month", help="月份，如 2020-04")],
    region: Annotated[str | None, typer.Option("--region", help="只看一个地区，如 汶川县")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="输出格式")] = ReportFormat.md,
    output: Annotated[str | None, typer.Option("-o", "--output", help="写入文件（xlsx 必须指定）")] = None,
) -> None:
    """月度通报：全州政务服务工作完成情况（受理、办结、办结率）。"""
    import re

    from projections.bulletin import bulletin, render

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        _fail("MONTH_INVALID", f"月份「{month}」格式应为 YYYY-MM，如 2020-04")
    data = bulletin(_read_models(_settings()), month, region)
    rendered = render(data, fmt.value)
    if output:
        from pathlib import Path

        if isinstance(rendered, bytes):
            Path(output).write_bytes(rendered)
        else:
            Path(output).write_text(rendered, encoding="utf-8")
        err.print(f"[green]✓ 已写入 {output}[/]")
    elif isinstance(rendered, bytes):
        _fail("OUTPUT_REQUIRED", "xlsx 格式请用 -o 指定输出文件")
    else:
        sys.stdout.write(rendered)


@report_app.command("stats")
@staff_command
def report_stats(
    month: Annotated[str, typer.Option("--month", help="月份，如 2020-04")],
    region: Annotated[str | None, typer.Option("--region", help="地区")] = None,
    as_json: JsonFlag = False,
) -> None:
    """月度统计：受理、不予受理、办结（按时/提前/超期）、月末在办与超期，按层级×地区×部门×事项类别。"""
    import re

    from projections.queries import monthly_statistics

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        _fail("MONTH_INVALID", f"月份「{month}」格式应为 YYYY-MM，如 2020-04")
    rows = monthly_statistics(_read_models(_settings()), month, region=region)
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"{month} 政务服务统计")
    cols = [
        ("region", "地区"),
        ("department", "部门"),
        ("matter_kind", "类别"),
        ("accepted", "受理"),
        ("refused", "不予受理"),
        ("completed", "办结"),
        ("completed_on_time", "按时"),
        ("completed_early", "提前"),
        ("completed_overdue", "超期办结"),
        ("open_at_month_end", "月末在办"),
        ("overdue_at_month_end", "月末超期"),
    ]
    for _, label in cols:
        table.add_column(label)
    for r in rows:
        table.add_row(*(MatterKind(r[k]).label if k == "matter_kind" else str(r[k]) for k, _ in cols))
    out.print(table)


@scenario_app.command("load")
@staff_command
def scenario_load(name: Annotated[str, typer.Argument(help="场景名，如 aba-2020-04")]) -> None:
    """按通报数据生成一个月的历史办件（由种子决定，可重复）并导入。"""
    import tempfile

    from entrypoints.scenario import SCENARIOS, generate_csv

    if name not in SCENARIOS:
        _fail("SCENARIO_UNKNOWN", f"未知场景「{name}」，可选：{'、'.join(SCENARIOS)}")
    with err.status(f"生成场景 {name} …"):
        text = generate_csv(SCENARIOS[name])
    with tempfile.NamedTemporaryFile("w", suffix=f"-{name}.csv", encoding="utf-8", delete=False) as f:
        f.write(text)
    import_cases(f.name, skip_bad=False, reject_file=None, batch=name)


@scenario_app.command("drive")
@staff_command
def scenario_drive(
    name: Annotated[str, typer.Argument(help="场景名，如 aba-2020-04")],
    scale: Annotated[float, typer.Option("--scale", help="按通报月办件量的比例驱动，如 0.01")] = 0.01,
    concurrency: Annotated[int, typer.Option("--concurrency", help="同时办理的办件数")] = 16,
    as_json: JsonFlag = False,
) -> None:
    """用真实的办件流程（Temporal）和模拟的窗口人员按比例办理一个月的办件，并核对通报数字。"""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from entrypoints.scenario import SCENARIOS, drive
    from projections.bulletin import bulletin
    from projections.cases import month_of

    if name not in SCENARIOS or not 0 < scale <= 1:
        _fail("SCENARIO_INVALID", f"场景须为 {'、'.join(SCENARIOS)} 之一，比例须在 (0, 1] 之间")
    settings = _settings()
    scenario = SCENARIOS[name]
    engine = _read_models(settings)
    store = _store(settings)  # keep the application alive: its __del__ closes the pool

    def this_month() -> str:
        return month_of(datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))

    def figures() -> tuple[int, int]:
        _read_your_writes(
            settings, {"notification_id": int(store.recorder.max_notification_id() or 0), "case_no": "", "version": 0}
        )
        wide = bulletin(engine, this_month())["prefecture_wide"]
        return wide["accepted"], wide["completed"]

    month, before = this_month(), figures()
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  console=err) as progress:  # fmt: skip
        task = progress.add_task(f"驱动 {name} × {scale}", total=None)

        async def run() -> Any:
            from workers.worker import connect

            client = await connect(settings, attempts=1)
            return await drive(
                CaseService(client, settings),
                scenario,
                scale,
                concurrency=concurrency,
                on_plan=lambda n: progress.update(task, total=n),
                on_case=lambda: progress.advance(task),
            )

        counts = asyncio.run(run())
    after = figures()
    delta = (after[0] - before[0], after[1] - before[1])
    result = {
        "month": month,
        "driver": {
            "submitted": counts.submitted,
            "accepted": counts.accepted,
            "completed": counts.completed,
            "open": counts.open,
            "corrections": counts.corrections,
        },
        "bulletin_delta": {"accepted": delta[0], "completed": delta[1]},
        "match": delta == (counts.accepted, counts.completed) and month == this_month(),
    }
    if as_json:
        out.print_json(json.dumps(result, ensure_ascii=False))
    else:
        out.print(
            f"驱动完成：收件 {counts.submitted}，受理 {counts.accepted}，办结 {counts.completed}，"
            f"在办 {counts.open}，其中补正 {counts.corrections}"
        )
        out.print(f"{month} 通报（读模型）新增：受理 {delta[0]}，办结 {delta[1]}")
        out.print("[green]✓ 通报数字与驱动结果一致[/]" if result["match"] else "[red]✗ 通报数字与驱动结果不一致[/]")
    if not result["match"]:
        raise typer.Exit(1)


def main() -> None:
    """Run the CLI, then leave without interpreter finalisation.

    The Temporal client's native runtime keeps threads that may still touch the GIL while
    Python finalises, which now and then aborts the process (``PyGILState_Release`` …) after the
    command has already succeeded. Everything is written and flushed by then, so exit at once."""
    code = 0
    try:
        app()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):  # SystemExit("message"): Python prints it; so must we, before os._exit
            from rich.markup import escape

            err.print(f"[bold red]✗[/] {escape(e.code)}", highlight=False)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
