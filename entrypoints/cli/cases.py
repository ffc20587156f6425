"""`oneseal case …` and `oneseal worklist`: a clerk's and a reviewer's commands."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from domain.cases.model import DECISION_OUTCOMES, SUSPENSION_REASONS, CaseStatus, CaseView
from domain.cases.steps import (
    Accept,
    Decide,
    Deliver,
    Notice,
    Refuse,
    Resume,
    StepRequest,
    Supplement,
    Suspend,
    Withdraw,
)
from domain.catalogue import MatterKind
from domain.staff import VIA_CLI, Actor, Post
from entrypoints.cli.common import boot, code_column, command, due, err, local, out, print_json, run, safe, table

if TYPE_CHECKING:  # the services are imported by the commands that use them (start-up cost)
    from domain.cases.application import TimelineEntry
    from services.cases import Done

case_app = typer.Typer(help="办件：收件、补正、受理、审查、决定、出件", no_args_is_help=True)

AsUser = Annotated[str, typer.Option("--as", help="办理人员编号（见 oneseal staff list）")]
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON")]
CaseNo = Annotated[str, typer.Argument(help="办件编号")]


def _post(a: Any) -> str:
    return f"{a.department}·{Post(a.post).label}" if a else "—"


def _print_done(label: str, case_no: str, done: Done) -> None:
    c = done.case
    if done.lists_lag:
        err.print(f"[yellow]! 已办理，但{safe(done.lists_lag)}[/]")
    out.print(f"[green]✓ {label}[/]：{safe(case_no)}  状态 → [bold]{c.status.label}[/]")
    _print_deadlines(c, brief=True)
    _print_next(c)


def _print_deadlines(c: CaseView, *, brief: bool = False) -> None:
    s = c.status
    if s is CaseStatus.SUBMITTED and c.deemed_acceptance_at:
        out.print(f"  法定受理答复期限（逾期视为受理）：{due(c.deemed_acceptance_at)}")
    if s is CaseStatus.AWAITING_CORRECTION:
        out.print(f"  一次性告知补正材料（{len(c.missing_listed)} 项）：")
        for i, m in enumerate(c.missing_listed, 1):
            out.print(f"    {i}. {safe(m)}")
        out.print(f"  补正期限：{due(c.correction_due_at)}（逾期未补正视为放弃申请）")
    if c.promised_deadline and not c.is_closed and s is not CaseStatus.DELIVERED:
        flag = "（暂定：跨入尚未发布节假日安排的年份）" if c.deadline_provisional else ""
        out.print(f"  承诺办结期限：{due(c.promised_deadline)}{flag}")
        out.print(f"  预警时间：{due(c.warning_at)}")
    if s is CaseStatus.SUSPENDED:
        reason = SUSPENSION_REASONS.get(c.suspension_reason, c.suspension_reason)
        note = f"（{safe(c.suspension_note)}）" if c.suspension_note else ""
        out.print(f"  中止计时：{reason}{note}，自 {local(c.suspended_since)} 起；恢复后期限顺延")
    elif c.suspended_days and not brief:
        out.print(f"  已中止计时：{c.suspended_days} 天（已计入期限顺延）")


def _print_next(c: CaseView) -> None:
    if c.awaiting:
        out.print(f"  下一步由：{safe(_post(c.awaiting))}")
    elif c.status is CaseStatus.AWAITING_CORRECTION:
        out.print("  等待申请人补正")


def _as(b: Any, user: str) -> Actor:
    """The staff member named by ``--as``, recorded as acting through the server's command line."""
    return replace(b.directory.actor(user), via=VIA_CLI)


def _step(case_no: str, user: str, build: Any) -> None:
    b = boot()
    actor = _as(b, user)
    request: StepRequest = build(actor)
    done = run(b.cases.step(case_no, request))
    _print_done(request.step.label, case_no, done)


# ---- staff steps ---------------------------------------------------------------------------------


@case_app.command("submit")
@command
def submit(
    matter: Annotated[str, typer.Option("--matter", help="事项编码（见 oneseal matters list）")],
    applicant: Annotated[str, typer.Option("--applicant", help="申请人（最多 100 字）")],
    user: AsUser,
    material: Annotated[list[str] | None, typer.Option("--material", "-m", help="已提交的材料，可重复")] = None,
    all_materials: Annotated[bool, typer.Option("--all-materials", help="材料齐全")] = False,
    case_no: Annotated[
        str | None, typer.Option("--case-no", help="指定办件编号：英文字母、数字、连字符，最多 64 位（默认自动生成）")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """收件：登记一件申请，启动办件流程。"""
    b = boot()
    actor = _as(b, user)
    m = b.directory.matter(matter)
    materials = list(m.materials) if all_materials else list(material or [])
    done = run(
        b.cases.submit(matter_code=matter, applicant=applicant, materials=materials, actor=actor, case_no=case_no)
    )
    c = done.case
    if as_json:
        print_json(c.to_dict())
        return
    out.print(f"[green]✓ 已收件[/]：办件编号 [bold]{safe(c.case_no)}[/]（{safe(c.matter_name)}）")
    if c.missing_materials:
        out.print(
            f"  缺少材料：{safe('、'.join(c.missing_materials))} —— 请一次性告知："
            f"oneseal case notice {safe(c.case_no)} --as {safe(user)}"
        )
    _print_deadlines(c)
    _print_next(c)


@case_app.command("notice")
@command
def notice(
    case_no: CaseNo,
    user: AsUser,
    missing: Annotated[list[str] | None, typer.Option("--missing", help="缺少的材料，可重复；默认列出全部所缺")] = None,
) -> None:
    """一次性告知：一次列明全部缺少的材料。"""
    _step(case_no, user, lambda a: Notice(actor=a, materials=list(missing or [])))


@case_app.command("supplement")
@command
def supplement(
    case_no: CaseNo,
    user: AsUser,
    material: Annotated[
        list[str] | None, typer.Option("--material", "-m", help="补正的材料，可重复；默认补齐全部")
    ] = None,
) -> None:
    """补正：登记申请人补交的材料。"""
    _step(case_no, user, lambda a: Supplement(actor=a, materials=list(material or [])))


@case_app.command("accept")
@command
def accept(case_no: CaseNo, user: AsUser) -> None:
    """受理：材料齐全，按承诺时限开始计时。"""
    _step(case_no, user, lambda a: Accept(actor=a))


@case_app.command("refuse")
@command
def refuse(
    case_no: CaseNo, user: AsUser, reason: Annotated[str, typer.Option("--reason", help="不予受理理由")] = ""
) -> None:
    """不予受理（须说明理由）。"""
    _step(case_no, user, lambda a: Refuse(actor=a, reason=reason))


@case_app.command("suspend")
@command
def suspend(
    case_no: CaseNo,
    user: AsUser,
    reason: Annotated[
        str, typer.Option("--reason", help="事由：" + "、".join(f"{k}（{v}）" for k, v in SUSPENSION_REASONS.items()))
    ],
    note: Annotated[str, typer.Option("--note", help="说明")] = "",
) -> None:
    """中止计时：听证、检验检测、专家评审等不计入办理时限。"""
    _step(case_no, user, lambda a: Suspend(actor=a, reason=reason, note=note))


@case_app.command("resume")
@command
def resume(case_no: CaseNo, user: AsUser) -> None:
    """恢复计时：期限顺延中止的天数。"""
    _step(case_no, user, lambda a: Resume(actor=a))


@case_app.command("decide")
@command
def decide(
    case_no: CaseNo,
    user: AsUser,
    outcome: Annotated[
        str, typer.Option("--outcome", help="结果：" + "、".join(f"{k}（{v}）" for k, v in DECISION_OUTCOMES.items()))
    ],
    reason: Annotated[str, typer.Option("--reason", help="理由（不予许可时必填）")] = "",
) -> None:
    """作出决定：准予或不予许可。"""
    _step(case_no, user, lambda a: Decide(actor=a, outcome=outcome, reason=reason))


@case_app.command("deliver")
@command
def deliver(case_no: CaseNo, user: AsUser) -> None:
    """出件：统一出件窗口送达结果，办件随即办结。"""
    _step(case_no, user, lambda a: Deliver(actor=a))


@case_app.command("withdraw")
@command
def withdraw(
    case_no: CaseNo, user: AsUser, reason: Annotated[str, typer.Option("--reason", help="撤回理由")] = ""
) -> None:
    """撤回申请。"""
    _step(case_no, user, lambda a: Withdraw(actor=a, reason=reason))


# ---- reads ---------------------------------------------------------------------------------------


@case_app.command("show")
@command
def show(case_no: CaseNo, as_json: JsonFlag = False) -> None:
    """查看办件：状态、期限、决定和办理时间线。"""
    detail = boot().cases.show(case_no)
    c = detail.case
    if as_json:
        print_json({"case": c.to_dict(), "timeline": [e.to_dict() for e in detail.timeline]})
        return
    kind = MatterKind(c.matter_kind).label if c.matter_kind in set(MatterKind) else c.matter_kind
    out.print(f"[bold]{safe(c.case_no)}[/]  {safe(c.matter_name)}（{kind}）  申请人：{safe(c.applicant)}")
    out.print(f"  办理机关：{safe(c.department)}（{safe(c.region)}）  状态：[bold]{c.status.label}[/]")
    if c.imported:
        out.print(f"  历史导入（批次 {safe(c.import_batch)}）" + ("，已接管" if c.adopted else ""))
    for label, value in (("受理时间", c.accepted_at), ("办结时间", c.completed_at)):
        if value:
            out.print(f"  {label}：{local(value)}")
    if c.status is CaseStatus.COMPLETED and c.promised_deadline and c.completed_at:
        on_time = "按时办结" if c.completed_at <= c.promised_deadline else "[red]超期办结[/]"
        out.print(f"  承诺办结期限：{due(c.promised_deadline)}（{on_time}）")
    _print_deadlines(c)
    if c.decision:
        reason = f"，理由：{safe(c.decision_reason)}" if c.decision_reason else ""
        out.print(f"  决定：{DECISION_OUTCOMES.get(c.decision, c.decision)}{reason}（{local(c.decided_at)}）")
    if c.status in (CaseStatus.REFUSED, CaseStatus.WITHDRAWN) and c.closed_reason:
        out.print(f"  {'不予受理' if c.status is CaseStatus.REFUSED else '撤回'}理由：{safe(c.closed_reason)}")
    if c.missing_materials and not c.is_closed:
        out.print(f"  缺少材料：{safe('、'.join(c.missing_materials))}")
    if c.overdue:
        out.print("  [red]已超期[/]")
    elif c.warned and not c.is_closed:
        out.print("  [yellow]已预警[/]")
    _print_next(c)
    _timeline(detail.timeline)


@case_app.command("history")
@command
def history(case_no: CaseNo, as_json: JsonFlag = False) -> None:
    """办件的全部事件（谁、何时、做了什么）。"""
    events = boot().cases.history(case_no)
    if as_json:
        print_json([e.to_dict() for e in events])
        return
    out.print(f"[bold]{safe(case_no)}[/] 的全部事件（北京时间）")
    for e in events:
        who = safe(e.actor.name if e.actor else "旧系统")
        out.print(f"[bold]{e.version:>3}. {local(e.at)}  {e.label}[/]  {who}")
        detail = _detail(e)
        if detail:
            for part in detail.split("；"):
                out.print(f"       {part}")
        if e.awaiting:
            out.print(f"       [dim]下一步：{safe(_post(e.awaiting))}[/]")


DETAIL_LABELS = {
    "missing": "一次性告知缺少",
    "materials": "材料",
    "correction_due_at": "补正期限",
    "deemed_acceptance_at": "法定受理答复期限",
    "promised_deadline": "承诺期限",
    "warning_at": "预警时间",
    "reason": "理由",
    "note": "说明",
    "outcome": "结果",
    "deemed": "视为受理",
    "overdue_correction": "逾期未补正",
    "suspended_days": "中止天数",
    "on_time": "按时",
    "deadline": "期限",
    "previous_deadline": "原期限",
    "provisional": "暂定期限",
    "applicant": "申请人",
    "provided_materials": "已交材料",
    "result": "旧系统结果",
    "batch": "导入批次",
    "status": "状态",
}
_HIDDEN = {"round", "deadline_day", "warning_day", "required_materials", "matter_code", "matter_name", "matter_kind",
           "department", "level", "region", "case_no", "statutory_days", "promised_days", "day_type", "source_hash",
           "imported", "demo", "calendar_years", "submitted_at", "accepted_at", "completed_at"}  # fmt: skip


_DEADLINES = {"correction_due_at", "deemed_acceptance_at", "promised_deadline", "previous_deadline", "deadline",
              "warning_at"}  # fmt: skip


def _detail(e: TimelineEntry) -> str:
    parts = []
    for k, v in e.details.items():
        if k in _HIDDEN or v in (None, "", [], False):
            continue
        if isinstance(v, datetime):
            text = due(v) if k in _DEADLINES else local(v)
        elif isinstance(v, list):
            text = "、".join(map(str, v))
        elif v is True:
            text = "是"
        elif k == "reason" and v in SUSPENSION_REASONS:
            text = SUSPENSION_REASONS[v]
        elif k == "outcome":
            text = DECISION_OUTCOMES.get(v, v)
        else:
            text = str(v)
        parts.append(f"{DETAIL_LABELS.get(k, k)}：{text}")
    return safe("；".join(parts))


def _timeline(events: list[TimelineEntry]) -> None:
    t = table("办理时间线（北京时间；详情见 oneseal case history）", "#", ("时间", {"no_wrap": True}), "环节", "办理人",
              "下一步")  # fmt: skip
    for e in events:
        t.add_row(
            str(e.version), local(e.at), e.label, safe(e.actor.name if e.actor else "旧系统"), safe(_post(e.awaiting))
        )
    out.print(t)


@case_app.command("list")
@command
def list_cases(
    status: Annotated[
        str | None, typer.Option("--status", help="按状态过滤：代码或中文，如 under_review 或 审查中")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="按地区过滤，如 汶川县")] = None,
    applicant: Annotated[str | None, typer.Option("--applicant", help="申请人包含")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看已超期的")] = False,
    limit: Annotated[int, typer.Option("--limit", help="最多显示条数", min=1, max=10000)] = 200,
    as_json: JsonFlag = False,
) -> None:
    """办件列表（读模型，最新收件在前）。"""
    from services.cases import CaseQuery

    statuses = (CaseStatus.parse(status).value,) if status else ()
    q = CaseQuery(statuses=statuses, region=region, applicant=applicant, overdue=True if overdue else None, limit=limit)
    page = boot().cases.search(q)
    if as_json:
        print_json([r.__dict__ for r in page.items])
        return
    if not page.items:
        out.print("没有符合条件的办件")
        return
    shown = f"显示 {len(page.items)} / 共 {page.total} 件" if page.total > len(page.items) else f"共 {page.total} 件"
    t = table(f"办件（{shown}）", code_column("办件编号", [r.case_no for r in page.items]), "事项", "地区", "状态",
              ("承诺期限", {"no_wrap": True}), "当前环节")  # fmt: skip
    for r in page.items:
        task = f"{r.task_department}·{Post(r.task_post).label}" if r.current_task and r.task_post else "—"
        mark = " [red]超期[/]" if r.overdue and r.status not in ("completed", "refused", "withdrawn") else ""
        t.add_row(
            safe(r.case_no), safe(r.matter_name), safe(r.region), CaseStatus(r.status).label + mark,
            due(r.promised_deadline), safe(task),
        )  # fmt: skip
    out.print(t)


worklist_app = typer.Typer()


@worklist_app.command("worklist")
@command
def worklist(user: AsUser, as_json: JsonFlag = False) -> None:
    """我的待办：本岗位（含 AB 岗）待办理的办件，超期和预警在前。"""
    b = boot()
    actor = b.directory.actor(user)
    page = b.cases.worklist(actor)
    if as_json:
        print_json([i.__dict__ for i in page.items])
        return
    post = f"{actor.department}·{Post(actor.post).label}"
    if not page.items:
        out.print(f"我的待办（{safe(post)}）：没有待办")
        return
    shown = f"显示 {len(page.items)} / 共 {page.total} 件" if page.total > len(page.items) else f"共 {page.total} 件"
    t = table(f"我的待办（{post}，{shown}）", "优先级", code_column("编号", [i.ref for i in page.items]),
              "事项", "环节", ("到期", {"no_wrap": True}))  # fmt: skip
    for i in page.items:
        prio = ["", "[yellow]预警[/]", "[red]超期[/]"][i.priority]
        t.add_row(prio, safe(i.ref), safe(i.title), safe(i.label), due(i.due_at))
    out.print(t)
