"""The HTTP API under /api/: every command the CLI offers, over the same services (no logic here).

Authentication: ``Authorization: Bearer <token>`` (systems; ``oneseal user token``) or the browser's
session cookie (then writes also need the ``X-CSRF-Token`` header). Errors: ``{code, message}``.
"""

import asyncio
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from domain.calendar import SHANGHAI
from domain.cases.model import CaseStatus
from domain.cases.steps import STEPS, Step, StepSpec
from domain.identity import Principal, Role, Scope
from domain.text import printable
from entrypoints.http import schemas as s
from entrypoints.http.security import boot_of, check_api_write, current
from services.auth import WORKLIST_TABS, require
from services.cases import CaseQuery
from services.identity import Forbidden, principal_actor
from services.reports import FORMATS

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": s.ErrorOut, "description": text}
    for status, text in (
        (400, "malformed request"),
        (401, "not signed in, or a bad token"),
        (403, "outside the user's role or scope, or a bad CSRF token"),
        (404, "unknown case, matter or user"),
        (409, "the case's state or a domain rule forbids it"),
        (422, "invalid input"),
        (429, "account locked after repeated failed sign-ins"),
        (503, "Temporal, the store or the read models are not available"),
    )
}
router = APIRouter(prefix="/api", responses=ERRORS)
MEDIA = {"md": "text/markdown", "html": "text/html", "json": "application/json", "csv": "text/csv",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip


def reader(request: Request) -> Principal:
    """Any signed-in user (the scope limits what they see)."""
    return require(current(request))


def writer(request: Request) -> Principal:
    """A signed-in user sending a write: a cookie session must also send the CSRF header."""
    p = require(current(request))
    check_api_write(request)
    return p


def admin(request: Request) -> Principal:
    p = writer(request)
    if not p.is_admin:
        raise Forbidden("只有系统管理员可以执行此操作")
    return p


def admin_reader(request: Request) -> Principal:
    p = reader(request)
    if not p.is_admin:
        raise Forbidden("只有系统管理员可以执行此操作")
    return p


Reader = Annotated[Principal, Depends(reader)]
Writer = Annotated[Principal, Depends(writer)]
Admin = Annotated[Principal, Depends(admin)]
AdminReader = Annotated[Principal, Depends(admin_reader)]
Month = Annotated[str, Query(description="YYYY-MM, e.g. 2020-04", max_length=7)]
RegionQ = Annotated[str | None, Query(description="a region, e.g. 汶川县", max_length=32)]


@router.get("/health", tags=["system"], summary="Liveness (no sign-in needed)")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/me", tags=["users"], summary="The signed-in user: roles, scope, staff post", response_model=s.MeOut)
def me(p: Reader) -> Any:
    return p.to_dict()


@router.post("/me/password", tags=["users"], summary="Change one's own password", status_code=204)
def change_own_password(request: Request, p: Writer, body: s.OwnPasswordIn) -> Response:
    boot_of(request).identity.change_own_password(p, body.old_password, body.password)
    return Response(status_code=204)


# ---- cases ----------------------------------------------------------------------------------------


@router.post("/cases", tags=["cases"], summary="收件: submit a case (front desk)", response_model=s.StepDoneOut)
async def submit_case(request: Request, body: s.SubmitIn, p: Writer) -> Any:
    boot = boot_of(request)
    materials = list(body.materials)
    if body.all_materials:
        materials = list((await asyncio.to_thread(boot.directory.matter, body.matter_code)).materials)
    done = await boot.access.submit(
        p, matter_code=body.matter_code, applicant=body.applicant, materials=materials, case_no=body.case_no
    )
    return s.StepDoneOut(case=s.CaseOut.of(done.case), lists_lag=done.lists_lag)


def _local_day(d: date | None, *, end: bool = False) -> datetime | None:
    if d is None:
        return None
    return datetime.combine(d + timedelta(days=1) if end else d, time(0), tzinfo=SHANGHAI)


@router.get("/cases", tags=["cases"], summary="Search cases (newest first, cursor paging)",
            response_model=s.CasePageOut)  # fmt: skip
def search_cases(
    request: Request,
    p: Reader,
    case_no: Annotated[str | None, Query(description="number prefix", max_length=64)] = None,
    applicant: Annotated[str | None, Query(description="applicant contains", max_length=100)] = None,
    matter: Annotated[str | None, Query(description="matter code", max_length=64)] = None,
    region: RegionQ = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[list[str] | None, Query(description="status code or label; repeatable")] = None,
    submitted_from: Annotated[date | None, Query(description="first day (Beijing), YYYY-MM-DD")] = None,
    submitted_to: Annotated[date | None, Query(description="last day (Beijing), inclusive")] = None,
    overdue: Annotated[bool | None, Query(description="only overdue (true) or not overdue (false)")] = None,
    include_demo: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> Any:
    q = CaseQuery(
        case_no=case_no or None, applicant=applicant or None, matter_code=matter or None, region=region or None,
        department=department or None, statuses=tuple(CaseStatus.parse(x).value for x in status or ()),
        submitted_from=_local_day(submitted_from), submitted_to=_local_day(submitted_to, end=True),
        overdue=overdue, include_demo=include_demo, limit=limit, cursor=cursor or None,
    )  # fmt: skip
    page = boot_of(request).access.search(p, q)
    return s.CasePageOut(items=[s.CaseRowOut.of(r) for r in page.items], total=page.total,
                         next_cursor=page.next_cursor)  # fmt: skip


@router.get("/cases/{case_no}", tags=["cases"], summary="One case: state, deadlines, timeline, my steps",
            response_model=s.CaseDetailOut)  # fmt: skip
def show_case(request: Request, case_no: str, p: Reader) -> Any:
    page = boot_of(request).access.page(p, case_no)
    d = page.detail
    return s.CaseDetailOut(
        case=s.CaseOut.of(d.case), timeline=[s.TimelineOut.of(e) for e in d.timeline], workflow_id=d.workflow_id,
        deadlines=[s.DeadlineOut(**x.__dict__) for x in page.deadlines], steps=[s.step_out(x) for x in page.steps],
    )  # fmt: skip


@router.get("/cases/{case_no}/history", tags=["cases"], summary="Every event of a case: who, when, what",
            response_model=list[s.TimelineOut])  # fmt: skip
def case_history(request: Request, case_no: str, p: Reader) -> Any:
    return [s.TimelineOut.of(e) for e in boot_of(request).access.history(p, case_no)]


def _step_route(spec: StepSpec) -> None:
    body_type = s.STEP_BODIES[spec.step.value]
    step = spec.step

    async def take_step(request: Request, case_no: str, p: Writer, body: body_type | None = None) -> Any:  # type: ignore[valid-type]
        values: dict[str, Any] = body.model_dump() if body is not None else {}
        done = await boot_of(request).access.step(p, case_no, step, values)
        return s.StepDoneOut(case=s.CaseOut.of(done.case), lists_lag=done.lists_lag)

    roles = "、".join(r.value for r in Role if p_allows(r, step))
    router.add_api_route(
        f"/cases/{{case_no}}/{step.value}", take_step, methods=["POST"], tags=["case steps"],
        response_model=s.StepDoneOut, operation_id=f"case_{step.value}",
        summary=f"{spec.label} ({step.value})",
        description=f"Roles: {roles}. The user's staff post must be the one the step needs; the workflow's "
        "validator checks it again. Answers once the lists show the step (read-your-writes).",
    )  # fmt: skip


def p_allows(role: Role, step: Step) -> bool:
    from domain.identity import ROLE_STEPS

    return step in ROLE_STEPS[role]


for _spec in STEPS.values():
    if _spec.staff:
        _step_route(_spec)


# ---- worklist, matters, staff ---------------------------------------------------------------------


@router.get("/worklist", tags=["worklist"], summary="我的待办: queue (my post), inbox (cases I handled), done",
            response_model=s.WorklistOut)  # fmt: skip
def worklist(
    request: Request,
    p: Reader,
    tab: Annotated[Literal["queue", "inbox", "done"], Query()] = "queue",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Any:
    assert tab in WORKLIST_TABS
    w = boot_of(request).access.worklist(p, tab, limit)
    return s.WorklistOut(tab=w.tab, items=[s.WorkItemOut.of(i) for i in w.items],
                         done=[s.DoneItemOut.of(d) for d in w.done], total=w.total)  # fmt: skip


@router.get("/matters", tags=["directory"], summary="The matter catalogue", response_model=list[s.MatterOut])
def matters(request: Request, p: Reader, region: RegionQ = None) -> Any:
    return [s.MatterOut.of(m) for m in boot_of(request).directory.matters(region or None)]


@router.get("/matters/{code}", tags=["directory"], summary="One matter", response_model=s.MatterOut)
def matter(request: Request, code: str, p: Reader) -> Any:
    return s.MatterOut.of(boot_of(request).directory.matter(code))


@router.get("/staff", tags=["directory"], summary="Staff and their posts", response_model=list[s.ActorOut])
def staff(request: Request, p: Reader, region: RegionQ = None) -> Any:
    return [s.ActorOut(**a.__dict__) for a in boot_of(request).directory.staff(region or None)]


@router.get("/regions", tags=["directory"], summary="Regions (prefecture first)", response_model=list[str])
def regions(request: Request, p: Reader) -> Any:
    return boot_of(request).directory.regions()


# ---- reports --------------------------------------------------------------------------------------


@router.get("/reports/bulletin", tags=["reports"], summary="The monthly bulletin as data (oneseal.bulletin/2)",
            response_model=dict[str, Any])  # fmt: skip
def bulletin(request: Request, p: Reader, month: Month, region: RegionQ = None, include_demo: bool = False) -> Any:
    return boot_of(request).reports.bulletin(month, region or None, include_demo=include_demo)


@router.get(
    "/reports/bulletin/{fmt}",
    tags=["reports"],
    summary="The monthly bulletin as a file: md, html, json, csv, xlsx",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}, "description": "the file"}},
)
def bulletin_file(
    request: Request,
    p: Reader,
    fmt: Literal["md", "html", "json", "csv", "xlsx"],
    month: Month,
    region: RegionQ = None,
    include_demo: bool = False,
) -> Response:
    assert fmt in FORMATS
    reports = boot_of(request).reports
    data = reports.bulletin(month, region or None, include_demo=include_demo)
    rendered = reports.render(data, fmt)
    body = rendered if isinstance(rendered, bytes) else rendered.encode("utf-8")
    name = f"bulletin-{month}{'-' + region if region else ''}.{fmt}"
    media = MEDIA[fmt] + ("" if fmt == "xlsx" else "; charset=utf-8")
    return Response(body, media_type=media, headers={"content-disposition": _attachment(name)})


def _attachment(name: str) -> str:
    from urllib.parse import quote

    ascii_name = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "_" for ch in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@router.get("/reports/stats", tags=["reports"], summary="Monthly statistics by region × department × kind",
            response_model=list[dict[str, Any]])  # fmt: skip
def stats(request: Request, p: Reader, month: Month, region: RegionQ = None, include_demo: bool = False) -> Any:
    return boot_of(request).reports.stats(month, region or None, include_demo=include_demo)


@router.get("/projections", tags=["system"], summary="Read models: position, head and lag",
            response_model=list[s.ProjectionOut])  # fmt: skip
def projections(request: Request, p: Reader) -> Any:
    return [s.ProjectionOut(name=r.name, position=r.position, head=r.head, lag=r.lag)
            for r in boot_of(request).projections.status()]  # fmt: skip


# ---- import (system admin) ------------------------------------------------------------------------


@router.post("/imports/cases", tags=["import"], summary="Import legacy cases from a CSV file (system admin)",
             response_model=s.ImportOut)  # fmt: skip
async def import_cases(
    request: Request,
    p: Admin,
    file: Annotated[UploadFile, File(description="UTF-8 CSV, columns in docs/data-formats.md")],
    skip_bad: Annotated[bool, Form()] = False,
    batch: Annotated[str | None, Form(max_length=64)] = None,
) -> Any:
    data = await file.read()
    name = Path(file.filename or "upload.csv").name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (printable(name)[:64] or "upload.csv")
        path.write_bytes(data)
        report = await boot_of(request).imports.import_file(path, skip_bad=skip_bad, batch=batch or name)
    o, parsed = report.outcome, report.parsed
    return s.ImportOut(
        added=o.added, already_present=o.already_present, conflicts=len(o.conflicts), errors=len(parsed.errors),
        duplicates_in_file=parsed.duplicates_in_file, adopted=len(report.adopted),
        adoption_pending=report.adoption_pending,
        error_rows=[f"第{e.line}行 {e.case_no}：{e.reason}" for e in parsed.errors[:50]],
    )  # fmt: skip


@router.post("/imports/adopt", tags=["import"], summary="Take over open imported cases (system admin)",
             response_model=s.AdoptOut)  # fmt: skip
async def import_adopt(request: Request, p: Admin) -> Any:
    return s.AdoptOut(adopted=await boot_of(request).imports.adopt_open())


# ---- users (system admin) -------------------------------------------------------------------------


def _scope(regions: list[str] | None, departments: list[str] | None) -> Scope | None:
    if regions is None and departments is None:
        return None
    return Scope(tuple(regions or ()), tuple(departments or ()))


@router.get("/users", tags=["users"], summary="All accounts (system admin)", response_model=list[s.UserOut])
def list_users(request: Request, p: AdminReader) -> Any:
    return [u.to_dict() for u in boot_of(request).identity.users()]


@router.post("/users", tags=["users"], summary="Create an account (system admin)", response_model=s.UserCreatedOut)
def add_user(request: Request, body: s.UserIn, p: Admin) -> Any:
    view, generated = boot_of(request).identity.add(
        body.username, display_name=body.display_name, password=body.password,
        roles=[Role.parse(r) for r in body.roles], scope=_scope(body.regions, body.departments or None),
        staff_id=body.staff_id, by=principal_actor(p),
    )  # fmt: skip
    return {"user": view.to_dict(), "password": generated}


@router.get("/users/{username}", tags=["users"], summary="One account (system admin)", response_model=s.UserOut)
def get_user(request: Request, username: str, p: AdminReader) -> Any:
    from services.identity import UserView

    return UserView.of(boot_of(request).identity.get(username)).to_dict()


@router.post("/users/{username}/roles", tags=["users"], summary="Grant a role (and set scope or post)",
             response_model=s.UserOut)  # fmt: skip
def grant_role(request: Request, username: str, body: s.GrantIn, p: Admin) -> Any:
    return boot_of(request).identity.grant(
        username, Role.parse(body.role), by=principal_actor(p), scope=_scope(body.regions, body.departments),
        staff_id=body.staff_id,
    ).to_dict()  # fmt: skip


@router.delete("/users/{username}/roles/{role}", tags=["users"], summary="Revoke a role", response_model=s.UserOut)
def revoke_role(request: Request, username: str, role: str, p: Admin) -> Any:
    return boot_of(request).identity.revoke(username, Role.parse(role), by=principal_actor(p)).to_dict()


@router.post("/users/{username}/password", tags=["users"], summary="Set a user's password (system admin)",
             status_code=204)  # fmt: skip
def set_password(request: Request, username: str, body: s.PasswordIn, p: Admin) -> Response:
    boot_of(request).identity.set_password(username, body.password, by=principal_actor(p), must_change=True)
    return Response(status_code=204)


@router.post("/users/{username}/tokens", tags=["users"], summary="Issue an API token (own account, or admin)",
             response_model=s.TokenOut)  # fmt: skip
def issue_token(request: Request, username: str, body: s.TokenIn, p: Writer) -> Any:
    if username != p.username and not p.is_admin:
        raise Forbidden("只能为自己签发令牌（系统管理员除外）")
    token_id, token = boot_of(request).identity.issue_token(username, body.name, by=principal_actor(p))
    return s.TokenOut(token_id=token_id, token=token)


@router.delete("/users/{username}/tokens/{token_id}", tags=["users"], summary="Revoke an API token",
               status_code=204)  # fmt: skip
def revoke_token(request: Request, username: str, token_id: str, p: Writer) -> Response:
    if username != p.username and not p.is_admin:
        raise Forbidden("只能吊销自己的令牌（系统管理员除外）")
    boot_of(request).identity.revoke_token(username, token_id, by=principal_actor(p))
    return Response(status_code=204)
