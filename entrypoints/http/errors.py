"""Every refusal as ``{code, message}`` with the right HTTP status; the page variant renders it in Chinese.

A broken domain rule is 409 (the case's state forbids it) or 422 (what was sent is wrong); an unknown
thing 404; no or a bad sign-in 401; outside one's role or scope 403; the infrastructure missing 503.
Bad input never gives a 500: request validation errors become 422 with a Chinese message too.
"""

from __future__ import annotations

from typing import Any

from domain.errors import (
    ActorNotPermitted,
    CalendarDataMissing,
    CaseAlreadyExists,
    CaseNotFound,
    DomainError,
    IllegalTransition,
    InvalidValue,
    MissingField,
    NoticeRefused,
    UnknownActor,
    UnknownMatter,
)
from domain.identity import (
    AccountLocked,
    PasswordRejected,
    RoleAlreadyHeld,
    RoleNotHeld,
    SignInRefused,
    TokenUnknown,
    UserExists,
    UserNotFound,
)
from domain.transfer.errors import UnknownProgramme
from services.errors import (
    CaseRegisterTimeout,
    DataDirEmpty,
    ReadModelStale,
    ReadModelUnreadable,
    StoreUnreachable,
    TemporalUnreachable,
)
from services.identity import Forbidden, NotAuthenticated

_BY_TYPE: list[tuple[tuple[type[DomainError], ...], int]] = [
    ((NotAuthenticated, SignInRefused), 401),
    ((Forbidden, ActorNotPermitted, UnknownActor), 403),
    ((CaseNotFound, UnknownMatter, UserNotFound, TokenUnknown, UnknownProgramme), 404),
    ((AccountLocked,), 429),
    ((MissingField, InvalidValue, PasswordRejected, CalendarDataMissing), 422),
    ((IllegalTransition, NoticeRefused, CaseAlreadyExists, UserExists, RoleAlreadyHeld, RoleNotHeld), 409),
    (
        (TemporalUnreachable, StoreUnreachable, ReadModelUnreadable, ReadModelStale, DataDirEmpty, CaseRegisterTimeout),
        503,
    ),
]
_BY_CODE = {
    "REQUEST_MALFORMED": 422,
    "MONTH_INVALID": 422,
    "IMPORT_ROWS_INVALID": 422,
    "IMPORT_FILE_UNREADABLE": 422,
    "IMPORT_CONFLICT": 409,
    "CASE_NOT_READY": 409,
    "COMMAND_CONFLICT": 409,
    "CASE_WORKFLOW_MISSING": 503,
    "TEMPORAL_ERROR": 503,
    "CSRF_INVALID": 403,
}


def status_of(e: DomainError) -> int:
    for types, status in _BY_TYPE:
        if isinstance(e, types):
            return status
    return _BY_CODE.get(e.code, 409)


def body_of(e: DomainError) -> dict[str, Any]:
    out: dict[str, Any] = {"code": e.code, "message": e.message}
    details = {k: v for k, v in e.details.items() if isinstance(v, str | int | float | bool | list) or v is None}
    if details:
        out["details"] = details
    return out


class CsrfInvalid(DomainError):
    code = "CSRF_INVALID"


FIELD_LABELS = {
    "matter_code": "事项编码",
    "applicant": "申请人",
    "materials": "材料",
    "reason": "理由",
    "note": "说明",
    "outcome": "决定结果",
    "case_no": "办件编号",
    "month": "月份",
    "region": "地区",
    "limit": "条数",
    "username": "用户名",
    "password": "密码",
}


def validation_message(errors: list[Any]) -> str:
    """Pydantic's request errors, in one Chinese sentence naming each field."""
    parts = []
    for err in errors[:5]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header", "form")]
        name = ".".join(loc) or "请求"
        label = FIELD_LABELS.get(loc[-1] if loc else "", name)
        kind = str(err.get("type", ""))
        if kind == "missing":
            text = "缺少此项"
        elif kind in ("json_invalid", "model_attributes_type", "dict_type"):
            text = "不是有效的 JSON 对象"
        elif kind == "extra_forbidden":
            text = "不接受此字段"
        elif "int" in kind or "float" in kind:
            text = "应为数字"
        elif "bool" in kind:
            text = "应为 true 或 false"
        elif "date" in kind:
            text = "日期格式应为 YYYY-MM-DD"
        elif "list" in kind:
            text = "应为列表"
        elif "string" in kind and "too_long" in kind:
            text = "过长"
        elif "string" in kind:
            text = "应为文本"
        elif "greater" in kind or "less" in kind:
            text = "超出允许范围"
        elif "enum" in kind or "literal" in kind:
            text = "不是允许的取值"
        else:
            text = "格式有误"
        parts.append(f"{label}：{text}")
    return "请求有误：" + "；".join(parts)
