"""Cursor pagination: the opaque cursor, and the `Link` header every service's list pages get.

The one style: keyset pagination over `(created_at, id)`, the cursor an opaque token from
`encode_cursor`, `limit` (1..200, default 50) and `cursor` in the query.

A list endpoint answers `{"items": [...], "next_cursor": "..." | null}` and takes `limit` and
`cursor`. When a page has a `next_cursor`, this middleware adds
`Link: </v1/things?limit=50&cursor=...>; rel="next"` (RFC 8288): the same request, the cursor
replaced. The reference is relative, so it holds whatever host the client reached (the
gateway forwards the path unchanged). No endpoint has to remember to set it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode
from uuid import UUID

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.asgi import holding_json_ok
from shared.errors import ValidationFailed

_NEXT_CURSOR = b'"next_cursor"'

T = TypeVar("T")


def encode_cursor(created_at: datetime, row_id: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed, UUID(row_id)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("The cursor is not valid.", field="cursor") from exc


def created_and_id(row: Any) -> tuple[datetime, UUID]:
    return row.created_at, row.id


def page_of(
    rows: Sequence[T], limit: int, *, key: Callable[[T], tuple[datetime, UUID]] = created_and_id
) -> tuple[list[T], str | None]:
    """The page out of the `limit + 1` rows fetched, and the cursor after its last row when
    the extra row says there is more. `key` gives a row's `(created_at, id)`."""
    page = list(rows[:limit])
    return page, (encode_cursor(*key(page[-1])) if len(rows) > limit else None)


def next_link(path: str, query_string: bytes, cursor: str) -> str:
    """The `Link` value for the page after this one."""
    query = [
        (k, v)
        for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        if k != "cursor"
    ]
    query.append(("cursor", cursor))
    return f'<{quote(path)}?{urlencode(query)}>; rel="next"'


def _next_cursor(body: bytes) -> str | None:
    if _NEXT_CURSOR not in body:
        return None
    try:
        page = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    cursor = page.get("next_cursor") if isinstance(page, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


class LinkHeaderMiddleware:
    """Adds `Link: <…>; rel="next"` to JSON pages of GET requests that have a `next_cursor`.

    Only a response whose body comes in one piece is looked at (every JSON response of the
    services does); a streamed one passes through untouched, as does one with its own Link.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return

        async def with_link(start: Message, body: Message) -> None:
            cursor = _next_cursor(body.get("body", b""))
            if cursor is not None:
                link = next_link(scope["path"], scope.get("query_string", b""), cursor)
                start["headers"] = [*start.get("headers", []), (b"link", link.encode())]
            await send(start)
            await send(body)

        await self.app(scope, receive, holding_json_ok(send, unless=b"link", finish=with_link))
