"""Cursor pagination's `Link` header, added by one middleware to every service's list pages.

A list endpoint answers `{"items": [...], "next_cursor": "..." | null}` and takes `limit` and
`cursor`. When a page has a `next_cursor`, this middleware adds
`Link: </v1/things?limit=50&cursor=...>; rel="next"` (RFC 8288): the same request, the cursor
replaced. The reference is relative, so it holds whatever host the client reached (the
gateway forwards the path unchanged). No endpoint has to remember to set it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NEXT_CURSOR = b'"next_cursor"'


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
        held: Message | None = None

        async def send_with_link(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                is_json = any(
                    k.lower() == b"content-type" and v.startswith(b"application/json")
                    for k, v in headers
                )
                has_link = any(k.lower() == b"link" for k, _ in headers)
                if is_json and not has_link and message.get("status") == 200:
                    held = message
                    return
                await send(message)
                return
            if held is not None and message["type"] == "http.response.body":
                start, held = held, None
                if not message.get("more_body", False):
                    cursor = _next_cursor(message.get("body", b""))
                    if cursor is not None:
                        link = next_link(scope["path"], scope.get("query_string", b""), cursor)
                        start["headers"] = [*start.get("headers", []), (b"link", link.encode())]
                await send(start)
            await send(message)

        await self.app(scope, receive, send_with_link)
