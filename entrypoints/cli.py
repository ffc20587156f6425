"""The staff command line (`oneseal`): translate arguments, call the service layer, print in Chinese."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
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

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

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


async def _with_service(settings: Settings, fn: Callable[[CaseService], Awaitable[T]]) -> T:
    from workers.worker import connect

    client = await connect(settings, attempts=1)
    return await fn(CaseService(client, settings))


def _run_step(case_no: str, step: Step, user: str, **fields: Any) -> None:
    settings = _settings()
    actor = default_staff().get(user)
    req = StepRequest(actor=actor.to_dict(), **fields)
    case = asyncio.run(_with_service(settings, lambda s: s.step(case_no, step, req)))
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
            _local(e.get("at")),
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
    as_json: JsonFlag = False,
) -> None:
    """办件列表（从事件库读取；读模型随后续版本提供）。"""
    store = _store(_settings())
    cases = [store.get_case(no) for no in store.iter_case_numbers()]
    cases = [c for c in cases if (not status or c["status"] == status) and (not region or c["region"] == region)]
    if as_json:
        out.print_json(json.dumps(cases, ensure_ascii=False))
        return
    table = Table(title=f"办件（{len(cases)} 件）")
    for col in ("办件编号", "事项", "地区", "状态", "承诺期限", "下一步"):
        table.add_column(col)
    for c in cases:
        a = c["awaiting"]
        table.add_row(
            c["case_no"],
            c["matter_name"],
            c["region"],
            CaseStatus(c["status"]).label,
            _local(c["promised_deadline"]),
            f"{a['department']}·{Post(a['post']).label}" if a else "—",
        )
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
    """启动内置全套服务：Temporal 开发服务器、工作进程（Ctrl-C 停止）。"""
    from workers.logging import configure_logging as _configure
    from workers.stack import Stack

    settings = Settings.from_env()
    _configure(settings.log_format)
    raise typer.Exit(Stack(settings).run())


@app.command("worker")
def worker() -> None:
    """只启动 Temporal 工作进程（连接已配置的 Temporal 服务）。"""
    from workers.worker import main as worker_main

    asyncio.run(worker_main())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
