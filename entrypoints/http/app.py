"""The web application: the HTTP API (/api/, /openapi.json, /docs) and the staff pages, one process.

``create_app`` wires one ``Bootstrap`` (the same services as the CLI), the session middleware
(signed, HttpOnly, SameSite cookie; its key kept in the data dir with mode 0600), the security
headers, and every router. A process of its own (transfer, parallel approval) adds ONE router and
its templates: append it to ``ROUTERS`` and, for the navigation, to ``pages.NAV``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from domain.errors import DomainError
from entrypoints.http import api, health, pages, transfer_pages
from entrypoints.http.errors import body_of, status_of, validation_message
from entrypoints.http.security import SESSION_COOKIE, SecurityHeaders, current
from services.bootstrap import Bootstrap
from services.identity import NotAuthenticated
from workers.stack_state import version

log = structlog.get_logger("oneseal.web")
STATIC = Path(__file__).with_name("static")
ROUTERS = [api.router, pages.router, transfer_pages.router, health.router]
PUBLIC_API = {"/api/health"}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def _error(request: Request, status: int, body: dict[str, Any]) -> Response:
    if _wants_json(request):
        return JSONResponse(body, status_code=status)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    return pages.error_page(request, status, body)


def create_app(boot: Bootstrap | None = None) -> FastAPI:
    boot = boot or Bootstrap()
    s = boot.settings
    app = FastAPI(
        title="OneSeal 一枚印章 API",
        version=version(),
        description="政务服务办件流程引擎的 HTTP API：与命令行调用同一服务层。错误均为 {code, message}。"
        " 认证：Authorization: Bearer <令牌>（oneseal user token），或浏览器会话（写操作需 X-CSRF-Token）。",
        docs_url=None,
        redoc_url=None,
    )
    app.state.boot = boot
    app.add_middleware(
        SessionMiddleware,
        secret_key=boot.identity.web_secret(),
        session_cookie=SESSION_COOKIE,
        max_age=int(s.session_hours * 3600),
        same_site="lax",
        https_only=s.web_secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, e: DomainError) -> Response:
        return _error(request, status_of(e), body_of(e))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, e: RequestValidationError) -> Response:
        # Not signed in comes first: an anonymous write is 401 whatever its body.
        if _wants_json(request) and request.url.path not in PUBLIC_API:
            try:
                signed_in = current(request) is not None
            except DomainError as err:
                return _error(request, status_of(err), body_of(err))
            if not signed_in:
                return _error(request, 401, body_of(NotAuthenticated("请先登录，或提供 API 令牌")))
        return _error(request, 422, {"code": "REQUEST_INVALID", "message": validation_message(list(e.errors()))})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> Response:
        codes = {404: ("NOT_FOUND", "页面或接口不存在"), 405: ("METHOD_NOT_ALLOWED", "不支持此请求方法")}
        code, message = codes.get(e.status_code, ("HTTP_ERROR", str(e.detail)))
        return _error(request, e.status_code, {"code": code, "message": message})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> Response:
        log.exception("web.unexpected_error", path=request.url.path)
        return _error(request, 500, {"code": "INTERNAL_ERROR", "message": "服务器内部错误，已记录日志，请联系管理员"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse((STATIC / "docs.html").read_text(encoding="utf-8"))

    return app


def serve(boot: Bootstrap | None = None) -> None:
    """Run the web app with uvicorn on ONESEAL_WEB_HOST:ONESEAL_WEB_PORT (foreground)."""
    import uvicorn

    boot = boot or Bootstrap()
    s = boot.settings
    uvicorn.run(create_app(boot), host=s.web_host, port=s.web_port, log_level="warning", access_log=False,
                proxy_headers=False)  # fmt: skip
