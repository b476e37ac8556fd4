"""A workspace's scheduler settings: approval and the missed threshold."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import WorkspaceSettings


@dataclass(frozen=True)
class Defaults:
    approval_required: bool
    missed_after_seconds: int


async def workspace_settings(
    session: AsyncSession, *, workspace_id: UUID, defaults: Defaults
) -> Defaults:
    row = await session.get(WorkspaceSettings, workspace_id)
    if row is None:
        return defaults
    return Defaults(
        approval_required=row.approval_required, missed_after_seconds=row.missed_after_seconds
    )


async def update_workspace_settings(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    defaults: Defaults,
    approval_required: bool | None,
    missed_after_seconds: int | None,
) -> Defaults:
    current = await workspace_settings(session, workspace_id=workspace_id, defaults=defaults)
    values = {
        "approval_required": current.approval_required
        if approval_required is None
        else approval_required,
        "missed_after_seconds": current.missed_after_seconds
        if missed_after_seconds is None
        else missed_after_seconds,
    }
    await session.execute(
        pg_insert(WorkspaceSettings)
        .values(workspace_id=workspace_id, **values)
        .on_conflict_do_update(index_elements=[WorkspaceSettings.workspace_id], set_=values)
    )
    return Defaults(**values)
