"""Who is calling: the identity the gateway forwards, and what each role may do.

The gateway authenticates API keys and forwards the identity in headers, together with an
internal token only the platform knows. Services trust those headers only when the token is
right, and refuse every other request (`InternalTokenMiddleware`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import PROBLEM_BASE, PermissionDenied, Unauthorized

INTERNAL_TOKEN_HEADER = "x-herald-internal-token"
WORKSPACE_HEADER = "x-herald-workspace-id"
ROLE_HEADER = "x-herald-role"
PRINCIPAL_HEADER = "x-herald-principal-id"
TIMEZONE_HEADER = "x-herald-workspace-timezone"

Role = Literal["owner", "admin", "editor", "reviewer", "analyst"]
ROLES: tuple[Role, ...] = ("owner", "admin", "editor", "reviewer", "analyst")

# What each role may do, in one table. Services name the permission, never the roles.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "workspace.manage": frozenset({"owner"}),
    "members.manage": frozenset({"owner", "admin"}),
    "api_keys.manage": frozenset({"owner", "admin"}),
    "webhooks.manage": frozenset({"owner", "admin"}),
    # Who did what across the workspace (GET /v1/audit).
    "audit.read": frozenset({"owner", "admin"}),
    "channels.manage": frozenset({"owner", "admin"}),
    "channels.read": frozenset(ROLES),
    "posts.read": frozenset(ROLES),
    "posts.write": frozenset({"owner", "admin", "editor"}),
    "posts.approve": frozenset({"owner", "admin", "reviewer"}),
    "scheduler.settings": frozenset({"owner", "admin"}),
    # Freezing and resuming the outgoing queue: a crisis is handled by whoever is on duty.
    "queue.freeze": frozenset({"owner", "admin", "editor"}),
    "inbox.read": frozenset({"owner", "admin", "editor", "reviewer", "analyst"}),
    "inbox.respond": frozenset({"owner", "admin", "editor"}),
    "inbox.moderate": frozenset({"owner", "admin", "editor"}),
    "inbox.rules": frozenset({"owner", "admin"}),
    "analytics.read": frozenset(ROLES),
    # Where a workspace's numbers go on their own (its Google Analytics property, scheduled
    # reports): owners and admins.
    "analytics.settings": frozenset({"owner", "admin"}),
    "links.write": frozenset({"owner", "admin", "editor"}),
    "conversions.write": frozenset({"owner", "admin", "editor"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    workspace_id: UUID
    role: Role
    principal_id: str
    timezone: str = "UTC"

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def tokens_match(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class InternalTokenMiddleware:
    """Refuses any request that did not come through the gateway (or another service).

    Paths in `open_prefixes` stay reachable: health and metrics for the orchestrator, network
    webhooks (they prove themselves with the network's signature) and public short links.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None = None,
        tokens: Sequence[str] = (),
        open_prefixes: tuple[str, ...],
    ) -> None:
        self.app = app
        # Several tokens are accepted while one is being rotated: the current one and those
        # still sent by processes not yet restarted with it.
        accepted = [t for t in ((token,) if token else ()) + tuple(tokens) if t]
        if not accepted:
            raise ValueError("InternalTokenMiddleware needs at least one token")
        self.tokens = tuple(dict.fromkeys(t.encode() for t in accepted))
        self.open_prefixes = open_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.open_prefixes):
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope["headers"]:
            if name == INTERNAL_TOKEN_HEADER.encode():
                given = value
                break
        # Every accepted token is compared, so the time taken does not tell which one matched.
        matched = False
        for token in self.tokens:
            matched |= hmac.compare_digest(given, token)
        if given and matched:
            await self.app(scope, receive, send)
            return
        body = (
            b'{"type":"' + PROBLEM_BASE.encode() + b'unauthorized","title":"Unauthorized",'
            b'"status":401,"detail":"This service is reached through the gateway."}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def current_principal(request: Request) -> Principal:
    # async: a plain `def` dependency would run in a worker thread on every request.
    headers = request.headers
    workspace = headers.get(WORKSPACE_HEADER)
    role = headers.get(ROLE_HEADER)
    if not workspace or role not in ROLES:
        raise Unauthorized("An API key is required (Authorization: Bearer <key>).")
    try:
        workspace_id = UUID(workspace)
    except ValueError as exc:
        raise Unauthorized("The forwarded workspace is not valid.") from exc
    return Principal(
        workspace_id=workspace_id,
        role=role,  # checked against ROLES above
        principal_id=headers.get(PRINCIPAL_HEADER, "unknown"),
        timezone=headers.get(TIMEZONE_HEADER, "UTC"),
    )


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(permission: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that lets the call through only for roles holding `permission`."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.can(permission):
            raise PermissionDenied(f"The role '{principal.role}' may not do this ({permission}).")
        return principal

    return check
