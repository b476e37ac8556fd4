"""A workspace's scheduler settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.scheduler.api.deps import ReaderDep, SettingsDep
from services.scheduler.schemas import (
    WorkspaceSettingsIn,
    WorkspaceSettingsOut,
    settings_out,
)
from services.scheduler.workspaces import (
    stages_from,
    update_workspace_settings,
    workspace_settings,
)
from shared.auth import Principal, require
from shared.service import SessionDep

router = APIRouter(prefix="/v1/scheduler/settings", tags=["scheduler settings"])

ManagerDep = Annotated[Principal, Depends(require("scheduler.settings"))]


@router.get("", response_model=WorkspaceSettingsOut)
async def read(
    principal: ReaderDep, session: SessionDep, settings: SettingsDep
) -> WorkspaceSettingsOut:
    current = await workspace_settings(
        session, workspace_id=principal.workspace_id, defaults=settings.workspace_defaults
    )
    return settings_out(current)


@router.put("", response_model=WorkspaceSettingsOut)
async def update(
    body: WorkspaceSettingsIn, principal: ManagerDep, session: SessionDep, settings: SettingsDep
) -> WorkspaceSettingsOut:
    current = await update_workspace_settings(
        session,
        workspace_id=principal.workspace_id,
        defaults=settings.workspace_defaults,
        approval_required=body.approval_required,
        missed_after_seconds=body.missed_after_seconds,
        approval_stages=stages_from(body),
        forbid_self_approval=body.forbid_self_approval,
    )
    return settings_out(current)
