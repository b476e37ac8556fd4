"""A workspace's API keys: issued (shown once), listed (never the secret), revoked."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from services.gateway.api.deps import NoStore, SettingsDep, allowed
from services.gateway.audit import record_by
from services.gateway.edge.keys import ROLE_RANK, KeyIdentity, issue_key, list_keys, revoke_key
from services.gateway.models import ApiKey
from services.gateway.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyPage
from shared.errors import PermissionDenied
from shared.pagination import decode_cursor, page_of
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])

ManagerDep = Annotated[KeyIdentity, Depends(allowed("api_keys.manage"))]


def _out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        role=key.role,  # type: ignore[arg-type]  (checked on the way in)
        prefix=key.display_prefix,
        created_by=key.created_by,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=201,
    dependencies=[NoStore],
    summary="Issue an API key",
)
async def post_api_key(
    body: ApiKeyCreate,
    caller: ManagerDep,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> ApiKeyCreated:
    if ROLE_RANK[body.role] > ROLE_RANK[caller.role]:
        raise PermissionDenied(f"The role '{caller.role}' may not issue a '{body.role}' key.")
    key, secret = await issue_key(
        session,
        workspace_id=caller.workspace_id,
        name=body.name,
        role=body.role,
        prefix=settings.api_key_prefix,
        created_by=str(caller.key_id),
        # A member's keys are theirs: removing the member revokes them all.
        member_id=caller.member_id,
    )
    await record_by(
        session,
        runtime.outbox,
        caller,
        action="api_key.issued",
        resource_type="api_key",
        resource_id=key.id,
        details={"name": key.name, "role": key.role},
    )
    return ApiKeyCreated(**_out(key).model_dump(), api_key=secret)


@router.get("", response_model=ApiKeyPage, summary="List API keys (never their secrets)")
async def get_api_keys(
    caller: ManagerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    include_revoked: bool = False,
) -> ApiKeyPage:
    keys = await list_keys(
        session,
        workspace_id=caller.workspace_id,
        limit=limit + 1,
        after=decode_cursor(cursor),
        include_revoked=include_revoked,
    )
    page, next_cursor = page_of(keys, limit)
    return ApiKeyPage(items=[_out(k) for k in page], next_cursor=next_cursor)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key (effective at once)")
async def delete_api_key(
    key_id: UUID, caller: ManagerDep, session: SessionDep, runtime: RuntimeDep, request: Request
) -> Response:
    key = await revoke_key(
        session, workspace_id=caller.workspace_id, key_id=key_id, by_role=caller.role
    )
    await record_by(
        session,
        runtime.outbox,
        caller,
        action="api_key.revoked",
        resource_type="api_key",
        resource_id=key.id,
        details={"name": key.name, "role": key.role},
    )
    request.app.state.authenticator.cache.revoked(key.secret_hash)
    return Response(status_code=204)
