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
from shared import audit
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])


def platform_admin(workspace_id: UUID) -> audit.Actor:
    """The platform operator, who holds the admin token rather than an API key."""
    return audit.Actor(workspace_id, "platform-admin", "platform-admin")


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
    await audit.record(
        session,
        runtime.outbox,
        platform_admin(workspace.id),
        action="workspace.created",
        resource_type="workspace",
        resource_id=workspace.id,
        service="gateway",
        details={"name": workspace.name, "timezone": workspace.timezone},
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
    workspace_id: UUID,
    body: WorkspaceChange,
    session: SessionDep,
    runtime: RuntimeDep,
    request: Request,
) -> WorkspaceOut:
    workspace = await set_rate_limit(session, workspace_id=workspace_id, rate_limit=body.rate_limit)
    await audit.record(
        session,
        runtime.outbox,
        platform_admin(workspace.id),
        action="workspace.settings_changed",
        resource_type="workspace",
        resource_id=workspace.id,
        service="gateway",
        details={"rate_limit": workspace.rate_limit},
    )
    # This replica at once; the others when the NOTIFY of set_rate_limit reaches them.
    request.app.state.authenticator.cache.forget_workspace(workspace_id)
    return WorkspaceOut.model_validate(workspace, from_attributes=True)
