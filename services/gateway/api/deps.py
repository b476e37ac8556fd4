"""Dependencies of the gateway's own endpoints."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway.edge.asgi import INVALID_KEY
from services.gateway.edge.keys import Authenticator, KeyIdentity
from services.gateway.settings import GatewaySettings
from shared.auth import PERMISSIONS, tokens_match
from shared.errors import Unauthorized
from shared.service import settings_dependency

# auto_error=False: a missing header is our own 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, scheme_name="apiKey")
_admin_bearer = HTTPBearer(auto_error=False, scheme_name="adminToken")


async def get_authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


SettingsDep = Annotated[GatewaySettings, settings_dependency(GatewaySettings)]
AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]


async def current_key(
    request: Request,
    authenticator: AuthenticatorDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> KeyIdentity:
    state = request.scope.get("state", {})
    known: KeyIdentity | None = state.get("identity")
    if known is not None:
        return known
    if state.get(INVALID_KEY):
        raise Unauthorized("The API key is not valid or has been revoked.")
    return await authenticator.authenticate(
        request.headers.get("authorization"),
        client=request.client.host if request.client else None,
    )


KeyDep = Annotated[KeyIdentity, Depends(current_key)]


def allowed(permission: str) -> Callable[[KeyIdentity], Coroutine[Any, Any, KeyIdentity]]:
    """The calling key, if its role holds `permission` (403 otherwise)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    async def check(key: KeyDep) -> KeyIdentity:
        return key.require(permission)

    return check


async def platform_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_admin_bearer)],
) -> None:
    given = credentials.credentials if credentials else None
    if not tokens_match(given, settings.admin_token):
        raise Unauthorized("The platform admin token is required (Authorization: Bearer ...).")


AdminDep = Depends(platform_admin)


async def no_store(response: Response) -> None:
    """For answers that carry a secret shown once: no cache keeps them, and neither does the
    idempotency store (services/gateway/edge/idempotency.py)."""
    response.headers["Cache-Control"] = "no-store"


NoStore = Depends(no_store)
