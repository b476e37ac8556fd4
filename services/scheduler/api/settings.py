"""A workspace's scheduler settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from services.scheduler.api.deps import ReaderDep, SettingsDep
from services.scheduler.schemas import (
    ApprovalStageIn,
    WorkspaceSettingsIn,
    WorkspaceSettingsOut,
)
from services.scheduler.workspaces import (
    Defaults,
    update_workspace_settings,
    workspace_settings,
)
from shared.auth import Principal, require
from shared.errors import ValidationFailed
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
    return _out(current)


def _out(current: Defaults) -> WorkspaceSettingsOut:
    return WorkspaceSettingsOut(
        approval_required=current.approval_required,
        missed_after_seconds=current.missed_after_seconds,
        approval_stages=[ApprovalStageIn.model_validate(s) for s in current.approval_stages],
        forbid_self_approval=current.forbid_self_approval,
    )


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
        approval_stages=_stages(body),
        forbid_self_approval=body.forbid_self_approval,
    )
    return _out(current)


def _stages(body: WorkspaceSettingsIn) -> list[dict[str, Any]] | None:
    if body.approval_stages is None:
        return None
    names = [stage.name for stage in body.approval_stages]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ValidationFailed(
                f"Stage names must differ ({name!r} twice).", field=f"approval_stages[{index}].name"
            )
    return [stage.model_dump() for stage in body.approval_stages]
