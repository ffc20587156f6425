"""The staff pages: server-rendered Jinja2 with htmx, in Chinese. They only translate: every decision
(who may see a case, which steps a user may take, deadlines in counted days) comes from the services.

Every form carries the session's synchronizer token (CSRF); everything people typed is escaped by
Jinja's autoescape, and invisible or control characters are shown as ``\\uXXXX`` (filter ``v``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from domain.calendar import SHANGHAI
from domain.cases.model import DECISION_OUTCOMES, SUSPENSION_REASONS, CaseStatus
from domain.cases.steps import STEPS, Step
from domain.catalogue import Level, MatterKind
from domain.errors import DomainError, InvalidValue
from domain.identity import Principal
from domain.staff import Post
from domain.text import printable
from entrypoints.http.errors import body_of, status_of
from entrypoints.http.security import CSRF_FIELD, boot_of, check_csrf, csrf_token, current
from services.auth import CaseAccess, require
from services.cases import CaseQuery

TEMPLATES = Path(__file__).with_name("templates")
router = APIRouter(include_in_schema=False)

# The navigation: (path, label, shown to whom). A new process's router appends its page here.
NAV: list[tuple[str, str, Callable[[Principal], bool]]] = [
    ("/worklist", "我的待办", lambda p: True),
    ("/cases", "办件查询", lambda p: True),
    ("/cases/new", "收件", lambda p: p.may_submit),
    ("/reports/bulletin", "月度通报", lambda p: True),
    ("/docs", "API 文档", lambda p: True),
]

# How each step's fields are filled in on the case page (the fields themselves come from the registry).
WIDGETS: dict[str, dict[str, Any]] = {
    "notice.materials": {"kind": "materials", "label": "一次性告知缺少的材料（须列明全部所缺）", "source": "missing"},
    "supplement.materials": {"kind": "materials", "label": "申请人补交的材料", "source": "missing"},
    "refuse.reason": {"kind": "textarea", "label": "不予受理理由", "required": True},
    "suspend.reason": {"kind": "select", "label": "中止计时事由", "choices": SUSPENSION_REASONS},
    "suspend.note": {"kind": "text", "label": "说明（可选）"},
    "decide.outcome": {"kind": "radio", "label": "决定结果", "choices": DECISION_OUTCOMES},
    "decide.reason": {"kind": "textarea", "label": "理由（不予许可时必填）"},
    "withdraw.reason": {"kind": "textarea", "label": "撤回理由", "required": True},
}


def _local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "—" if value is None else value.astimezone(SHANGHAI).strftime(fmt)


def _post(value: Any) -> str:
    if not value:
        return "—"
    try:
        label = Post(value.post).label
    except ValueError:
        label = value.post
    return f"{value.department}·{label}"


def _via(value: str) -> str:
    """How a step came in, as staff read it: 网页 · user, API · user, 服务器命令行."""
    channel, _, user = value.partition(":")
    names = {"web": "网页", "api": "API", "cli": "服务器命令行"}
    return f"{names.get(channel, channel)} · {user}" if user else names.get(channel, channel or "—")


def _label(enum: Any, value: str) -> str:
    try:
        return str(enum(value).label)
    except ValueError:
        return value


env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True)
)
env.filters.update(
    v=lambda x: printable("" if x is None else str(x)),
    local=_local,
    iso_local=lambda x: _local(datetime.fromisoformat(x)) if x else "—",
    day=lambda x: _local(x, "%Y-%m-%d"),
    post=_post,
    post_label=lambda x: _label(Post, x) if x else "—",
    status_label=lambda x: _label(CaseStatus, x),
    kind_label=lambda x: _label(MatterKind, x),
    level_label=lambda x: _label(Level, x),
    via=lambda x: _via(str(x or "")),
    pct=lambda r: "—" if not r or r.get("percent") is None else f"{r['percent']:.1f}%",
)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    p: Principal | None = getattr(request.state, "principal", None)
    nav = [(path, label) for path, label, show in NAV if p is not None and show(p)]
    html = env.get_template(name).render(
        request=request, me=p, nav=nav, csrf=csrf_token(request), csrf_field=CSRF_FIELD, path=request.url.path,
        post_of=boot_of(request).access.staff_post(p) if p else "", **context,
    )  # fmt: skip
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, body: dict[str, Any]) -> HTMLResponse:
    return render(request, "error.html", status, error=body, code=status)


def _signed_in(request: Request) -> Principal:
    return require(current(request))


async def _form(request: Request) -> FormData:
    form = await request.form()
    check_csrf(request, form.get(CSRF_FIELD))
    return form


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/worklist"


# ---- sign-in --------------------------------------------------------------------------------------


@router.get("/")
def home(request: Request) -> Response:
    return _see_other("/worklist" if current(request) else "/login")


@router.get("/login")
def login_page(request: Request, next: str = "/worklist") -> Response:
    current(request)
    return render(request, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    try:
        p, epoch = boot_of(request).identity.sign_in(username, password, channel="web")
    except DomainError as e:
        request.state.principal = None
        return render(request, "login.html", status_of(e), next=target, error=body_of(e), username=username)
    request.session.clear()  # a new session at sign-in: nothing carried over from before (fixation)
    request.session.update({"u": p.username, "e": epoch})
    csrf_token(request)
    return _see_other(target)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _form(request)
    request.session.clear()
    return _see_other("/login")


@router.get("/account")
def account_page(request: Request) -> Response:
    _signed_in(request)
    return render(request, "account.html", error=None, done=False)


@router.post("/account")
async def change_password(request: Request) -> Response:
    p = _signed_in(request)
    form = await _form(request)
    old, new, again = (str(form.get(k, "")) for k in ("old_password", "password", "password_again"))
    identity = boot_of(request).identity
    try:
        if new != again:
            raise InvalidValue("两次输入的新密码不一致", field="password_again")
        identity.change_own_password(p, old, new)
    except DomainError as e:
        return render(request, "account.html", status_of(e), error=body_of(e), done=False)
    request.session["e"] = identity.get(p.username).epoch  # this session stays; every other one ends
    return render(request, "account.html", error=None, done=True)


# ---- worklist -------------------------------------------------------------------------------------


@router.get("/worklist")
def worklist_page(request: Request, tab: str = "queue") -> Response:
    p = _signed_in(request)
    w = boot_of(request).access.worklist(p, tab if tab in ("queue", "inbox", "done") else "queue")
    name = "_worklist.html" if request.headers.get("hx-request") else "worklist.html"
    return render(request, name, w=w, now=datetime.now(UTC))


# ---- cases ----------------------------------------------------------------------------------------


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(f"日期「{value}」格式应为 YYYY-MM-DD", field="date") from None
    return datetime.combine(d + timedelta(days=1) if end else d, time(0), tzinfo=SHANGHAI)


@router.get("/cases")
def cases_page(request: Request) -> Response:
    p = _signed_in(request)
    a = request.query_params
    f = {k: a.get(k, "").strip() for k in ("case_no", "applicant", "matter", "region", "status", "from", "to")}
    f["overdue"] = "1" if a.get("overdue") else ""
    q = CaseQuery(
        case_no=f["case_no"] or None, applicant=f["applicant"] or None, matter_code=f["matter"] or None,
        region=f["region"] or None, statuses=(CaseStatus.parse(f["status"]).value,) if f["status"] else (),
        submitted_from=_day(f["from"]), submitted_to=_day(f["to"], end=True), overdue=True if f["overdue"] else None,
        limit=50, cursor=a.get("cursor") or None,
    )  # fmt: skip
    access = boot_of(request).access
    page = access.search(p, q)
    more = None
    if page.next_cursor:
        more = "/cases?" + urlencode({**{k: v for k, v in f.items() if v}, "cursor": page.next_cursor})
    if request.headers.get("hx-request") and a.get("cursor"):
        return render(request, "_case_rows.html", page=page, more=more)
    regions = boot_of(request).directory.regions()
    if not p.scope.all_regions:
        regions = [r for r in regions if r in p.scope.regions]
    return render(request, "cases.html", page=page, more=more, f=f, regions=regions, statuses=list(CaseStatus))


@router.get("/cases/new")
def submit_page(request: Request, matter: str = "") -> Response:
    p = _signed_in(request)
    return _submit_form(request, p, matter, None, {})


def _submit_form(request: Request, p: Principal, matter: str, error: dict[str, Any] | None,
                 values: dict[str, Any], status: int = 200) -> Response:  # fmt: skip
    access = boot_of(request).access
    if not p.may_submit:
        return error_page(
            request, 403, {"code": "FORBIDDEN", "message": "只有关联综合受理窗口岗位的窗口受理员可以收件"}
        )
    matters = access.matters_for(p)
    chosen = next((m for m in matters if m.code == matter), None)
    if request.headers.get("hx-request") and request.method == "GET":
        return render(request, "_materials.html", chosen=chosen, checked=values.get("materials", []))
    return render(request, "submit.html", status, matters=matters, chosen=chosen, error=error, values=values)


@router.post("/cases/new")
async def submit(request: Request) -> Response:
    p = _signed_in(request)
    form = await _form(request)
    matter, applicant = str(form.get("matter", "")), str(form.get("applicant", ""))
    materials = [str(m) for m in form.getlist("materials")]
    values = {"applicant": applicant, "materials": materials}
    try:
        done = await boot_of(request).access.submit(p, matter_code=matter, applicant=applicant, materials=materials)
    except DomainError as e:
        return _submit_form(request, p, matter, body_of(e), values, status_of(e))
    return _see_other(f"/cases/{done.case.case_no}?done=submit")


@router.get("/cases/{case_no}")
def case_page(request: Request, case_no: str, done: str = "") -> Response:
    p = _signed_in(request)
    return _case(request, p, case_no, None, done)


def _case(request: Request, p: Principal, case_no: str, error: dict[str, Any] | None, done: str = "",
          status: int = 200) -> Response:  # fmt: skip
    boot = boot_of(request)
    page = boot.access.page(p, case_no)
    c = page.detail.case
    forms = [
        {"step": spec.step.value, "label": spec.label,
         "fields": [{"name": f, **WIDGETS.get(f"{spec.step.value}.{f}", {"kind": "text", "label": f})}
                    for f in CaseAccess.form_fields(spec)]}
        for spec in page.steps
    ]  # fmt: skip
    ui = boot.settings.temporal_ui
    wf = page.detail.workflow_id
    link = f"{ui}/namespaces/{boot.settings.temporal_namespace}/workflows/{wf}" if ui and wf else None
    done_label = STEPS[Step(done)].label if done in {s.value for s in Step} else ("收件" if done == "submit" else "")
    return render(
        request, "case.html", status, c=c, page=page, forms=forms, timeline=page.detail.timeline, temporal_link=link,
        error=error, done=done_label, outcomes=DECISION_OUTCOMES, reasons=SUSPENSION_REASONS,
    )  # fmt: skip


@router.post("/cases/{case_no}/steps/{step}")
async def take_step(request: Request, case_no: str, step: str) -> Response:
    p = _signed_in(request)
    form = await _form(request)
    try:
        chosen = Step(step)
    except ValueError:
        return error_page(request, 404, {"code": "NOT_FOUND", "message": f"没有办理环节「{printable(step)}」"})
    spec = STEPS[chosen]
    values: dict[str, Any] = {}
    for name in CaseAccess.form_fields(spec):
        if WIDGETS.get(f"{step}.{name}", {}).get("kind") == "materials":
            values[name] = [str(m) for m in form.getlist(name)]
        elif name in form:
            values[name] = str(form.get(name, ""))
    try:
        await boot_of(request).access.step(p, case_no, chosen, values)
    except DomainError as e:
        if status_of(e) in (401, 404):
            raise
        return _case(request, p, case_no, body_of(e), status=status_of(e))
    return _see_other(f"/cases/{case_no}?done={step}")


# ---- reports --------------------------------------------------------------------------------------


@router.get("/reports/bulletin")
def bulletin_page(request: Request, month: str = "", region: str = "") -> Response:
    _signed_in(request)
    boot = boot_of(request)
    if not month:
        month = datetime.now(SHANGHAI).strftime("%Y-%m")
    data, error = None, None
    try:
        data = boot.reports.bulletin(month, region or None)
    except DomainError as e:
        if status_of(e) == 401:
            raise
        error = body_of(e)
    text = []
    if data:
        md = str(boot.reports.render(data, "md"))
        text = [line for line in md.split("\n|")[0].splitlines() if line.strip()]
    chart = None
    if data:
        rows = data["by_county"] if not region else data["by_department"]
        chart = {
            "categories": [r["region"] if not region else r["department"] for r in rows],
            "accepted": [r["accepted"] for r in rows],
            "completed": [r["completed"] for r in rows],
            "rate": [r["completion_rate"]["percent"] for r in rows],
        }
    totals = []
    if data:
        totals = (
            [(f"{region}合计", data["prefecture_wide"])]
            if region
            else [
                ("全州合计", data["prefecture_wide"]),
                ("州级", data["prefecture_level"]),
                ("县（市）", data["counties"]),
            ]
        )
    query = urlencode({"month": month, **({"region": region} if region else {})})
    return render(request, "bulletin.html", data=data, error=error, text=text, chart=chart, month=month,
                  region=region, regions=boot.directory.regions(), query=query, totals=totals)  # fmt: skip
