"""`ETag` and `If-Match` on every resource of a service, without each endpoint doing it.

- A `GET` answered with JSON in one piece gets `ETag: "<hash of the body>"` (unless the endpoint
  set its own), and `If-None-Match` with that tag answers 304.
- A `PUT`, `PATCH` or `DELETE` with `If-Match` is checked first against the resource as a `GET`
  of the same path would return it now: a tag that differs is refused with 412 and nothing
  changes. A successful `PUT`/`PATCH` answers with the resource's new `ETag`.

Endpoints that version their resources themselves (their `GET` sets the `ETag`, e.g. posts,
webhook subscriptions) keep doing so: their `If-Match` goes to them untouched, and they check it
in the same transaction as the change. Elsewhere the check and the change are two steps, so two
writers racing within the same instant may both pass; `If-Match` still protects what it is
for, an edit made from a stale read.
"""

from __future__ import annotations

import hashlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.asgi import header_value, holding_json_ok
from shared.errors import PROBLEM_JSON, PreconditionFailed, ValidationFailed

_CONDITIONAL = frozenset({"PUT", "PATCH", "DELETE"})


def body_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def version_etag(version: int) -> str:
    """The ETag of a resource that counts its own versions (posts, conversations, webhooks)."""
    return f'"{version}"'


def if_match_versions(value: str | None) -> frozenset[int] | None:
    """The versions an `If-Match` names (RFC 9110: a list, weak tags compared by value);
    None when it is absent or `*` (no precondition). A tag that is not a version is a 422."""
    if value is None or value.strip() == "*":
        return None
    versions = set()
    for tag in value.split(","):
        raw = tag.strip().removeprefix("W/").strip('"')
        try:
            versions.add(int(raw))
        except ValueError as exc:
            raise ValidationFailed(
                "If-Match must be an ETag this resource returned.", field="If-Match"
            ) from exc
    return frozenset(versions)


def require_version(value: str | None, current: int) -> None:
    """412 unless `If-Match` is absent, `*`, or names `current`."""
    versions = if_match_versions(value)
    if versions is not None and current not in versions:
        raise PreconditionFailed("The resource changed since it was read; read it again.")


def _tags(value: str) -> set[str]:
    """`"a", W/"b"` → {'"a"', '"b"'} (a weak tag compares by its opaque part)."""
    return {t.strip().removeprefix("W/") for t in value.split(",") if t.strip()}


class _Captured:
    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


class ETagMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "GET":
            await self._get(scope, receive, send)
        elif method in _CONDITIONAL:
            await self._change(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _current(self, scope: Scope) -> _Captured:
        """The resource at this path now, as the caller would GET it."""
        headers = [
            (k, v)
            for k, v in scope["headers"]
            if k
            not in (
                b"content-length",
                b"content-type",
                b"if-match",
                b"if-none-match",
                b"transfer-encoding",
            )
        ]
        get_scope = {**scope, "method": "GET", "headers": headers, "query_string": b""}
        # Its own request state (the lifespan's is copied, as for any request).
        get_scope["state"] = dict(scope.get("state") or {})
        captured = _Captured()

        async def nothing() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        await self.app(get_scope, nothing, captured)
        return captured

    async def _get(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = header_value(scope["headers"], b"if-none-match")

        async def with_etag(start: Message, body: Message) -> None:
            tag = body_etag(body.get("body", b""))
            headers = [*start.get("headers", []), (b"etag", tag.encode())]
            if wanted is not None and tag in _tags(wanted.decode("latin-1")):
                kept = [
                    (k, v)
                    for k, v in headers
                    if k.lower() not in (b"content-length", b"content-type")
                ]
                await send({"type": "http.response.start", "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b""})
                return
            start["headers"] = headers
            await send(start)
            await send(body)

        await self.app(scope, receive, holding_json_ok(send, unless=b"etag", finish=with_etag))

    async def _change(self, scope: Scope, receive: Receive, send: Send) -> None:
        if_match = header_value(scope["headers"], b"if-match")
        if if_match is None or if_match.strip() == b"*":
            await self._run_and_tag(scope, receive, send)
            return
        current = await self._current(scope)
        if current.status != 200 or header_value(current.headers, b"etag") is not None:
            # Nothing to compare with here (no such resource, or no GET at this path), or the
            # endpoint versions the resource itself: it answers If-Match on its own.
            await self.app(scope, receive, send)
            return
        if body_etag(current.body) not in _tags(if_match.decode("latin-1")):
            error = PreconditionFailed(
                "The resource changed since you read it; fetch it again (If-Match).",
                field="If-Match",
            )
            body = json.dumps(error.problem(scope.get("path"))).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": error.status,
                    "headers": [
                        (b"content-type", PROBLEM_JSON.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self._run_and_tag(scope, receive, send)

    async def _run_and_tag(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Runs the change; a successful PUT/PATCH answers with the resource's new ETag."""
        if scope["method"] == "DELETE":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        tag_it = False

        async def hold(message: Message) -> None:
            nonlocal tag_it
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                tag_it = message.get("status") == 200 and header_value(headers, b"etag") is None
            if tag_it:
                held.append(message)
            else:
                await send(message)

        await self.app(scope, receive, hold)
        if not held:
            return
        tag = await self._tag_of(scope)
        start, *rest = held
        if tag is not None:
            start["headers"] = [*start.get("headers", []), (b"etag", tag.encode())]
        await send(start)
        for message in rest:
            await send(message)

    async def _tag_of(self, scope: Scope) -> str | None:
        current = await self._current(scope)
        if current.status != 200 or header_value(current.headers, b"etag") is not None:
            return None
        return body_etag(current.body)
