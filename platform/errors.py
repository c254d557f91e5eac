"""Domain errors. Domains raise these; `holdfast.web.errors` maps each kind to an HTTP status."""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorKind(Enum):
    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    GONE = "gone"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


class DomainError(Exception):
    """An expected failure with a stable code and a sentence a person can act on."""

    kind: ErrorKind = ErrorKind.INVALID
    code: str = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        if code is not None:
            self.code = code


class Invalid(DomainError):
    kind, code = ErrorKind.INVALID, "invalid"


class NotFound(DomainError):
    kind, code = ErrorKind.NOT_FOUND, "not_found"


class Unauthorized(DomainError):
    kind, code = ErrorKind.UNAUTHORIZED, "unauthorized"


class Forbidden(DomainError):
    kind, code = ErrorKind.FORBIDDEN, "forbidden"


class DatabaseUnavailable(DomainError):
    kind, code = ErrorKind.UNAVAILABLE, "database_unavailable"
