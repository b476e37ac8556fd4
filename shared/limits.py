"""Request bodies no larger than a service is willing to hold.

Every service (and the gateway in front) refuses a body above its limit with a 413
problem+json before the app reads it: at once when `Content-Length` says so, and as soon as
the bytes read pass the limit when the body is chunked (no `Content-Length` to trust). The app
never sees more than the limit, so no handler, parser or upstream can be made to buffer more.

A body that is not much larger is read to its end (and dropped) before the answer: a server
that answers and closes while the client is still sending makes the client's system reset
the connection, and the 413 is lost on the way (a gateway forwarding the body would report a
502). Far larger ones are answered at once.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PROBLEM_JSON, DomainError


class PayloadTooLarge(DomainError):
    status, title, kind = 413, "Payload too large", "payload-too-large"


class BodyTooLarge(PayloadTooLarge, HTTPException):
    """Raised from `receive` when the body passes the limit.

    An HTTPException too, so that the framework's body parsing lets it through as it is (it
    turns any other error into a 400); rendered as this service's 413 problem, by the error
    handlers inside a route, by the middleware outside one.
    """

    def __init__(self, limit: int) -> None:
        PayloadTooLarge.__init__(
            self, f"The request body may be at most {limit} bytes.", field="body"
        )
        self.status_code = 413

    # Both bases keep the response headers under this name, as a dict.
    headers: dict[str, str]


async def send_too_large(send: Send, scope: Scope, limit: int) -> None:
    error = BodyTooLarge(limit)
    body = json.dumps(error.problem(scope.get("path"))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                # What was not read stays on the connection: it cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# How much of a refused body is still read (and dropped) so the answer arrives: this many
# times the limit, and at least DRAIN_MIN bytes.
DRAIN_FACTOR = 8
DRAIN_MIN = 16 * 1024 * 1024


async def drain(receive: Receive, *, more: bool, budget: int) -> None:
    """Reads and drops the rest of a body, up to `budget` bytes."""
    while more and budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        more = message.get("more_body", False)


class BodySizeLimitMiddleware:
    """`larger`: path prefixes whose bodies may be larger (a media upload), with their limit."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = max(DRAIN_MIN, DRAIN_FACTOR * max_bytes)
        self.larger = {
            prefix: BodySizeLimitMiddleware(app, max_bytes=limit)
            for prefix, limit in (larger or {}).items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limited = self._larger_limit(scope.get("path", ""))
        if limited is not None:
            await limited(scope, receive, send)
            return
        if self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        if await self._refused_by_length(scope, receive, send):
            return
        await self._limited(scope, receive, send)

    def _larger_limit(self, path: str) -> BodySizeLimitMiddleware | None:
        for prefix, limited in self.larger.items():
            if path == prefix or path.startswith(prefix + "/"):
                return limited
        return None

    async def _refused_by_length(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """A declared Content-Length above the limit (or not a number) is refused before any
        of the body is read; a small enough one is drained first, so the client reads the
        answer instead of a reset connection."""
        for name, value in scope["headers"]:
            if name != b"content-length":
                continue
            if value.isdigit() and int(value) <= self.max_bytes:
                return False
            if value.isdigit() and int(value) <= self.drain_bytes:
                await drain(receive, more=True, budget=self.drain_bytes)
            await send_too_large(send, scope, self.max_bytes)
            return True
        return False

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Counts the body as it comes: past the limit, the app's read fails and the client
        gets a 413, unless the app already started answering."""
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    more = message.get("more_body", False)
                    await drain(receive, more=more, budget=self.drain_bytes - received)
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await send_too_large(send, scope, self.max_bytes)
