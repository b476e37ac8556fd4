"""Workspaces: created by the platform operator, each with its first owner key."""

from __future__ import annotations

import uuid
from functools import lru_cache
from uuid import UUID
from zoneinfo import available_timezones

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.edge.keys import announce, issue_key
from services.gateway.models import ApiKey, Workspace
from shared.errors import NotFound, ValidationFailed
from shared.events import Envelope, WorkspaceCreated
from shared.outbox import Outbox

# Entries some systems' zone directories carry that are not zones of the IANA database (or
# mean something different on every machine).
_NOT_ZONES = {"localtime", "posixrules", "Factory"}


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(
        z
        for z in available_timezones()
        if z not in _NOT_ZONES and not z.startswith(("posix/", "right/"))
    )


def check_timezone(name: str) -> str:
    # The IANA database's list, not just "ZoneInfo() accepts it": ZoneInfo also takes file
    # paths, and every other service must be able to load the same name.
    if name not in _zones():
        raise ValidationFailed(
            f"'{name}' is not an IANA timezone (for example 'Europe/Paris').", field="timezone"
        )
    return name


async def create_workspace(
    session: AsyncSession, *, outbox: Outbox, name: str, timezone: str, key_prefix: str
) -> tuple[Workspace, ApiKey, str]:
    """The workspace, its first owner key (secret returned once) and `workspace.created`."""
    workspace = Workspace(id=uuid.uuid4(), name=name, timezone=check_timezone(timezone))
    session.add(workspace)
    await session.flush()
    await session.refresh(workspace)
    key, secret = await issue_key(
        session,
        workspace_id=workspace.id,
        name="Owner key",
        role="owner",
        prefix=key_prefix,
        created_by="platform-admin",
    )
    await outbox.add(
        session,
        Envelope.of(
            WorkspaceCreated(workspace_id=workspace.id, name=name, timezone=timezone),
            workspace_id=workspace.id,
        ),
    )
    return workspace, key, secret


async def set_rate_limit(
    session: AsyncSession, *, workspace_id: UUID, rate_limit: int | None
) -> Workspace:
    workspace = await session.get(Workspace, workspace_id, with_for_update=True)
    if workspace is None:
        raise NotFound(f"No workspace {workspace_id}.", field="workspace_id")
    workspace.rate_limit = rate_limit
    await session.flush()
    # Cached identities carry the limit: every replica drops this workspace's.
    await announce(session, f"workspace:{workspace_id}")
    return workspace
