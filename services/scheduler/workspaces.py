"""A workspace's scheduler settings: approval (its stages, whether authors may approve their
own posts) and the missed threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import WorkspaceSettings
from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from services.scheduler.schemas import WorkspaceSettingsIn


@dataclass(frozen=True)
class Defaults:
    approval_required: bool
    missed_after_seconds: int
    # [{"name", "roles"?, "principals"?}] in order; empty: one approval by any approver.
    approval_stages: tuple[dict[str, Any], ...] = ()
    # Whoever created a post may not approve it (at any stage).
    forbid_self_approval: bool = False


async def workspace_settings(
    session: AsyncSession, *, workspace_id: UUID, defaults: Defaults
) -> Defaults:
    row = await session.get(WorkspaceSettings, workspace_id)
    if row is None:
        return defaults
    return Defaults(
        approval_required=row.approval_required,
        missed_after_seconds=row.missed_after_seconds,
        approval_stages=tuple(row.approval_stages or ()),
        forbid_self_approval=row.forbid_self_approval,
    )


async def update_workspace_settings(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    defaults: Defaults,
    approval_required: bool | None,
    missed_after_seconds: int | None,
    approval_stages: list[dict[str, Any]] | None = None,
    forbid_self_approval: bool | None = None,
) -> Defaults:
    current = await workspace_settings(session, workspace_id=workspace_id, defaults=defaults)
    values: dict[str, Any] = {
        "approval_required": current.approval_required
        if approval_required is None
        else approval_required,
        "missed_after_seconds": current.missed_after_seconds
        if missed_after_seconds is None
        else missed_after_seconds,
        "approval_stages": list(current.approval_stages)
        if approval_stages is None
        else approval_stages,
        "forbid_self_approval": current.forbid_self_approval
        if forbid_self_approval is None
        else forbid_self_approval,
    }
    await session.execute(
        pg_insert(WorkspaceSettings)
        .values(workspace_id=workspace_id, **values)
        .on_conflict_do_update(index_elements=[WorkspaceSettings.workspace_id], set_=values)
    )
    return Defaults(**{**values, "approval_stages": tuple(values["approval_stages"])})


def stages_from(body: WorkspaceSettingsIn) -> list[dict[str, Any]] | None:
    if body.approval_stages is None:
        return None
    names = [stage.name for stage in body.approval_stages]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ValidationFailed(
                f"Stage names must differ ({name!r} twice).", field=f"approval_stages[{index}].name"
            )
    return [stage.model_dump() for stage in body.approval_stages]
