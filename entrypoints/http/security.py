"""Who is asking: a bearer token (systems) or a signed, HttpOnly, SameSite session cookie (browsers),
and the synchronizer token that every form and every cookie-authenticated write must carry (CSRF).

Also the response headers every answer carries: a Content-Security-Policy that allows scripts from
this origin only (no inline scripts), no framing, no MIME sniffing, no referrer to other sites.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.identity import Principal
from entrypoints.http.errors import CsrfInvalid
from services.bootstrap import Bootstrap
from services.identity import NotAuthenticated

SESSION_COOKIE = "oneseal_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware (works for streaming and error responses alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in {k for k, _ in HEADERS}]
                headers += HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def boot_of(request: Request) -> Bootstrap:
    b: Bootstrap = request.app.state.boot
    return b


def current(request: Request) -> Principal | None:
    """The signed-in user, from a bearer token or the session cookie; cached on the request."""
    if hasattr(request.state, "principal"):
        p: Principal | None = request.state.principal
        return p
    identity = boot_of(request).identity
    auth = request.headers.get("authorization")
    principal: Principal | None = None
    request.state.by_token = False
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Authorization 头应为：Bearer <令牌>")
        principal = identity.token_principal(token)
        request.state.by_token = True
    else:
        session = request.session
        user, epoch = session.get("u"), session.get("e")
        if isinstance(user, str) and isinstance(epoch, int):
            principal = identity.session_principal(user, epoch)
            if principal is None:
                session.clear()
    request.state.principal = principal
    return principal


def csrf_token(request: Request) -> str:
    """The session's synchronizer token (made on first use; rotated at sign-in)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, sent: Any) -> None:
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise CsrfInvalid("页面已过期或表单校验失败（CSRF），请刷新页面后重试")


def check_api_write(request: Request) -> None:
    """A write through the API with the browser's cookie must carry the CSRF header; a bearer token needs none."""
    if not getattr(request.state, "by_token", False):
        check_csrf(request, request.headers.get(CSRF_HEADER))
