"""Typed domain errors: each has a stable ``code`` (for programs) and a Chinese ``message`` (for staff)."""

from __future__ import annotations

from typing import Any

ERRORS_BY_CODE: dict[str, type[DomainError]] = {}


class DomainError(Exception):
    """Base of every refusal the domain makes; never half-writes anything.

    Every subclass names its stable ``code``; subclasses register themselves, so a refusal that
    crossed Temporal (which carries only code and message) is rebuilt as the same type."""

    code = "DOMAIN_ERROR"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ERRORS_BY_CODE.setdefault(cls.code, cls)

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **({"details": self.details} if self.details else {})}


class IllegalTransition(DomainError):
    code = "CASE_ILLEGAL_TRANSITION"


class MissingField(DomainError):
    code = "FIELD_MISSING"


class InvalidValue(DomainError):
    code = "FIELD_INVALID"


class UnknownActor(DomainError):
    code = "ACTOR_UNKNOWN"


class ActorNotPermitted(DomainError):
    code = "ACTOR_NOT_PERMITTED"


class NoticeRefused(DomainError):
    """A one-time notice that would break the 一次性告知 rule."""

    code = "NOTICE_REFUSED"


class UnknownMatter(DomainError):
    code = "MATTER_UNKNOWN"


class CaseNotFound(DomainError):
    code = "CASE_NOT_FOUND"


class CaseAlreadyExists(DomainError):
    code = "CASE_ALREADY_EXISTS"


class CalendarDataMissing(DomainError):
    code = "CALENDAR_YEAR_MISSING"


class CatalogueInvalid(DomainError):
    code = "CATALOGUE_INVALID"


ERRORS_BY_CODE[DomainError.code] = DomainError


def error_from_code(code: str, message: str) -> DomainError:
    """Rebuild a typed error on the far side of Temporal (which carries only code and message)."""
    return ERRORS_BY_CODE.get(code, DomainError)(message, code=code)
