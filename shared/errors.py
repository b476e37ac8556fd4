"""Domain errors and the one place that renders them as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://herald.dev/problems/"


class DomainError(Exception):
    status: int = 400
    title: str = "Bad request"
    kind: str = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.field = field
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.field:
            body["field"] = self.field
        errors = self.errors
        if errors is None and self.field:
            errors = [{"field": self.field, "message": self.detail}]
        if errors:
            body["errors"] = errors
        body.update(self.extra)
        return body


class BadRequest(DomainError):
    pass


class Unauthorized(DomainError):
    status, title, kind = 401, "Unauthorized", "unauthorized"


class PermissionDenied(DomainError):
    status, title, kind = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, kind = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, kind = 409, "Conflict", "conflict"


class PreconditionFailed(DomainError):
    status, title, kind = 412, "Precondition failed", "precondition-failed"


class PreconditionRequired(DomainError):
    status, title, kind = 428, "Precondition required", "precondition-required"


class ValidationFailed(DomainError):
    status, title, kind = 422, "Validation failed", "validation-failed"


class RateLimited(DomainError):
    status, title, kind = 429, "Too many requests", "rate-limited"


class Unavailable(DomainError):
    status, title, kind = 503, "Service unavailable", "unavailable"


class BadGateway(DomainError):
    status, title, kind = 502, "Bad gateway", "bad-gateway"


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """`("body", "targets", 0, "channel_id")` → `targets[0].channel_id` (the client's words)."""
    parts = list(loc)
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where = parts.pop(0)
        if where != "body" and parts:
            return f"{where}.{parts[0]}" if len(parts) == 1 else ".".join(map(str, parts))
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return problem_response(exc.status, exc.problem(request.url.path), exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                errors.append(
                    {"field": "body", "message": "Malformed JSON", "code": "json_invalid"}
                )
                continue
            errors.append(
                {
                    "field": field_path(err.get("loc", ())),
                    "message": err.get("msg", "invalid"),
                    "code": err.get("type", "invalid"),
                }
            )
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        body = ValidationFailed(
            f"{first['field']}: {first['message']}", field=first["field"], errors=errors
        ).problem(request.url.path)
        return problem_response(422, body)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
        body = {
            "type": PROBLEM_BASE + ("not-found" if exc.status_code == 404 else "http-error"),
            "title": titles.get(exc.status_code, "HTTP error"),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "instance": request.url.path,
        }
        return problem_response(exc.status_code, body, getattr(exc, "headers", None))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        body = {
            "type": PROBLEM_BASE + "internal",
            "title": "Internal server error",
            "status": 500,
            "detail": "An unexpected error occurred; it has been logged.",
            "instance": request.url.path,
        }
        return problem_response(500, body)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
