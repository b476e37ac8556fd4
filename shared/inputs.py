"""Input PostgreSQL cannot store is refused at the door: a 422 naming the field, nothing changed.

PostgreSQL text cannot hold U+0000, which JSON (`\\u0000`) and URLs (`%00`) can carry, and an
integer column holds 32 or 64 bits where JSON numbers have no limit. Unchecked, such input
reached the database and came back as a 500. Three layers, for every service:

- `InputGuard` (middleware) refuses a NUL anywhere in the path, the query or a JSON body,
  naming the parameter or the body field;
- `Int32` / `Int64` are the request field types for numbers stored in integer columns (and
  `max_length` on strings matches their column);
- `install_data_error_handler` turns any data error PostgreSQL still raises (SQLSTATE class
  22: a value out of range, too long, not storable) into a 422, the transaction rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.asgi import replaying
from shared.errors import ValidationFailed, field_path, problem_response

log = logging.getLogger(__name__)

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

NUL = "\x00"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def nul_at(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in a parsed JSON document the first string (or key) holding U+0000 is."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return (*path, key.replace(NUL, ""))  # named without it
            found = nul_at(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_at(item, (*path, index))
            if found is not None:
                return found
    return None


def _refusal(scope: Scope, field: str) -> JSONResponse:
    problem = ValidationFailed(
        f"{field}: a text value cannot contain the NUL character (U+0000).",
        field=field,
        errors=[{"field": field, "message": "contains U+0000", "code": "nul_character"}],
    ).problem(scope.get("path", ""))
    return problem_response(422, problem)


def _query_field(query_string: bytes) -> str | None:
    pairs: Iterable[tuple[str, str]] = parse_qsl(
        query_string.decode("latin-1"), keep_blank_values=True
    )
    for name, value in pairs:
        if NUL in name or NUL in value:
            return f"query.{name.replace(NUL, '')}"
    return None


class InputGuard:
    """Refuses U+0000 in the path, the query and JSON bodies before any route sees them.

    Bodies under `raw_body_prefixes` (network webhooks, verified over their exact bytes and
    stored as bytes) are left alone. A JSON body is read once and handed on unchanged; it is
    parsed only when it holds the `\\u0000` escape at all.
    """

    def __init__(self, app: ASGIApp, *, raw_body_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.raw_body_prefixes = raw_body_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if NUL in path:
            await _refusal(scope, "path")(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            field = _query_field(query)
            if field is not None:
                await _refusal(scope, field)(scope, receive, send)
                return
        if not self._json_body(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"\\u0000" in body:
            try:
                located = nul_at(orjson.loads(body))
            except orjson.JSONDecodeError:
                located = None  # not JSON: the route says so
            if located is not None:
                await _refusal(scope, field_path(("body", *located)))(scope, receive, send)
                return
        await self.app(scope, replaying(messages, receive), send)

    def _json_body(self, scope: Scope) -> bool:
        if scope["method"] not in _BODY_METHODS or scope["path"].startswith(self.raw_body_prefixes):
            return False
        for name, value in scope["headers"]:
            if name == b"content-type":
                return b"json" in value.lower()
        return False


def data_error(exc: BaseException) -> bool:
    """True for PostgreSQL's "data exception" class (SQLSTATE 22…): the value, not the server."""
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return isinstance(state, str) and state.startswith("22")


def install_data_error_handler(app: FastAPI) -> None:
    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        if not data_error(exc):
            raise exc  # the server's trouble: a logged 500
        log.warning("refused a value the database cannot store: %s", getattr(exc, "orig", exc))
        problem = ValidationFailed(
            "A value in the request cannot be stored (out of range, too long or not text).",
            field="body",
        ).problem(request.url.path)
        return problem_response(422, problem)

    app.add_exception_handler(DBAPIError, on_database_error)
