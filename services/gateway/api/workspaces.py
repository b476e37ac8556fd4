"""Workspaces, created by the platform operator."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request

from services.gateway.api.deps import AdminDep, NoStore, SettingsDep
from services.gateway.schemas import (
    WorkspaceChange,
    WorkspaceCreate,
    WorkspaceCreated,
    WorkspaceOut,
)
from services.gateway.workspaces import create_workspace, set_rate_limit
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])


@router.post(
    "",
    response_model=WorkspaceCreated,
    status_code=201,
    dependencies=[AdminDep, NoStore],
    summary="Create a workspace and its first owner key",
)
async def post_workspace(
    body: WorkspaceCreate, session: SessionDep, runtime: RuntimeDep, settings: SettingsDep
) -> WorkspaceCreated:
    workspace, key, secret = await create_workspace(
        session,
        outbox=runtime.outbox,
        name=body.name,
        timezone=body.timezone,
        key_prefix=settings.api_key_prefix,
    )
    return WorkspaceCreated(
        id=workspace.id,
        name=workspace.name,
        timezone=workspace.timezone,
        created_at=workspace.created_at,
        api_key=secret,
        api_key_id=key.id,
    )


@router.patch(
    "/{workspace_id}",
    response_model=WorkspaceOut,
    dependencies=[AdminDep],
    summary="Change a workspace's platform settings (its rate limit)",
)
async def patch_workspace(
    workspace_id: UUID, body: WorkspaceChange, session: SessionDep, request: Request
) -> WorkspaceOut:
    workspace = await set_rate_limit(session, workspace_id=workspace_id, rate_limit=body.rate_limit)
    # This replica at once; the others when the NOTIFY of set_rate_limit reaches them.
    request.app.state.authenticator.cache.forget_workspace(workspace_id)
    return WorkspaceOut.model_validate(workspace, from_attributes=True)
