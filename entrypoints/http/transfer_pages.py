"""The read-only transfer dashboard (划转进度): the programme's progress by department and batch, its
outcomes, handover sign-offs outstanding and 审管联动, and the trial-run report to download. Shown to
the roles of ``TRANSFER_VIEW_ROLES`` within their regions (the service decides)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from domain.errors import DomainError
from domain.identity.roles import TRANSFER_VIEW_ROLES
from entrypoints.http.errors import body_of, status_of
from entrypoints.http.pages import NAV, _signed_in, render
from entrypoints.http.security import boot_of
from services.transfer_reports import short_department

router = APIRouter(include_in_schema=False)
NAV.insert(-1, ("/transfer", "划转进度", lambda p: p.has(*TRANSFER_VIEW_ROLES)))
MEDIA = {
    "md": ("text/markdown; charset=utf-8", "md"),
    "html": ("text/html; charset=utf-8", "html"),
    "json": ("application/json", "json"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


@router.get("/transfer")
def transfer_page(request: Request, programme: str = "") -> Response:
    p = _signed_in(request)
    service = boot_of(request).transfer_reports
    programmes = service.visible_programmes(p)  # refuses a role that may not see it (403)
    data, error = None, None
    try:
        data = service.status_for(p, programme or None)
    except DomainError as e:
        if status_of(e) in (401, 403):
            raise
        error = body_of(e)
    rows = []
    if data:
        region = data["programme"]["region"]
        rows = [{**d, "short": short_department(d["department"], region)} for d in data["progress"]["by_department"]]
    return render(request, "transfer.html", data=data, error=error, rows=rows, programmes=programmes,
                  programme=(data or {}).get("programme", {}).get("code", programme), now=datetime.now(UTC))  # fmt: skip


@router.get("/transfer/report.{fmt}")
def transfer_report(request: Request, fmt: str, programme: str) -> Response:
    p = _signed_in(request)
    body = boot_of(request).transfer_reports.report_for(p, programme, fmt)
    media, ext = MEDIA[fmt]
    name = f"transfer-{programme}.{ext}"
    return Response(body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})
