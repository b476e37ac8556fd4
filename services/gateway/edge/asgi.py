"""Small ASGI helpers for the gateway's middlewares (they answer before any route runs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope, Send

from services.gateway.edge.keys import Authenticator, KeyIdentity, bearer_token
from shared.auth import tokens_match
from shared.errors import PROBLEM_JSON, DomainError

ADMIN = "admin"
# Request state set when the key sent was looked up and found not valid.
INVALID_KEY = "invalid_key"


async def send_problem(
    send: Send,
    scope: Scope,
    error: DomainError,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(error.problem(scope.get("path"))).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *[(k.lower().encode(), v.encode()) for k, v in error.headers.items()],
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def caller_of(
    scope: Scope, *, authenticator: Authenticator, admin_token: str
) -> KeyIdentity | str | None:
    """The key's identity, `ADMIN` for the platform token, or None (anonymous or invalid).

    The identity is kept in the request state so the route does not look the key up again.
    """
    state: dict[str, Any] = scope.setdefault("state", {})
    if "identity" in state:
        known: KeyIdentity = state["identity"]
        return known
    authorization = header(scope, b"authorization")
    token = bearer_token(authorization)
    if token is None:
        return None
    if tokens_match(token, admin_token):
        return ADMIN
    client = scope.get("client")
    identity = await authenticator.identify(authorization, client=client[0] if client else None)
    if identity is not None:
        state["identity"] = identity
    else:
        # Looked up and not valid: the route refuses it without a second lookup (which
        # would also count a second failure against the address).
        state[INVALID_KEY] = True
    return identity


class Answered:
    """Said of a request the middleware has already answered (with a problem)."""


ANSWERED = Answered()


@dataclass(frozen=True, slots=True)
class Callers:
    """Tells who calls, for middlewares that act on it: an API key, the platform token, or
    nobody."""

    authenticator: Authenticator
    admin_token: str

    async def of(self, scope: Scope, send: Send) -> KeyIdentity | str | None | Answered:
        """As `caller_of`; ANSWERED when the key store is unreachable (a 503 was sent: the
        request fails cleanly rather than crashing the middleware)."""
        try:
            return await caller_of(
                scope, authenticator=self.authenticator, admin_token=self.admin_token
            )
        except DomainError as exc:
            await send_problem(send, scope, exc)
            return ANSWERED
