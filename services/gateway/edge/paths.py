"""Paths the gateway refuses before routing: dot-segments and encoded separators.

The route table matches the decoded path, while the URL sent upstream is built from the raw
one and normalised by the HTTP client (`/l/../X` becomes `/X`): a path with a `.` or `..`
segment would be routed to one service's public prefix and answered by another of its paths,
with the internal token. An encoded `/` or `\\` makes the decoded path (routed) and the raw
one (forwarded) differ in their segments. No public path needs either, so both are refused
with a 400, and what is routed is exactly what is forwarded.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.edge.asgi import send_problem
from shared.errors import BadRequest

# Percent-encoded separators, lower-cased: `/`, `\`.
_ENCODED_SEPARATORS = (b"%2f", b"%5c")
_DOT_SEGMENTS = frozenset({".", ".."})


def escapes(path: str, raw_path: bytes) -> bool:
    """Whether a request path could leave the prefix it is routed by."""
    if any(segment in _DOT_SEGMENTS for segment in path.split("/")):
        return True
    if "\\" in path:
        return True
    lowered = raw_path.lower()
    return any(separator in lowered for separator in _ENCODED_SEPARATORS)


class PathGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            raw_path: bytes = scope.get("raw_path") or path.encode()
            if escapes(path, raw_path.partition(b"?")[0]):
                error = BadRequest(
                    "The path may not contain '.' or '..' segments, nor encoded '/' or '\\'.",
                    field="path",
                )
                await send_problem(send, scope, error)
                return
        await self.app(scope, receive, send)
