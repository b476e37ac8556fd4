"""The audit log: every service's `audit.recorded` events, kept and read back.

The gateway is the one consumer of `audit.recorded` (shared/audit.py emits it). The entry's id
is the event's id, so a redelivery inserts nothing; entries older than
`GATEWAY_AUDIT_RETENTION_DAYS` are deleted by the retention loop (webhooks/retention.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.edge.keys import KeyIdentity
from services.gateway.models import AuditEntry
from shared import audit
from shared.consumer import Received
from shared.db import insert_once
from shared.events import AuditRecorded
from shared.outbox import Outbox


async def store(session: AsyncSession, event: Received[AuditRecorded]) -> None:
    data, envelope = event.data, event.envelope
    if envelope.workspace_id is None:
        return  # an entry belongs to a workspace; the helper always names one
    await insert_once(
        session,
        AuditEntry,
        keys=[AuditEntry.id],
        id=envelope.id,
        workspace_id=envelope.workspace_id,
        occurred_at=envelope.occurred_at,
        actor=data.actor,
        actor_role=data.actor_role,
        action=data.action,
        resource_type=data.resource_type,
        resource_id=data.resource_id,
        service=data.service,
        details=data.details,
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_entries(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    where: AuditFilter,
    limit: int,
    before: tuple[datetime, UUID] | None,
) -> list[AuditEntry]:
    """Newest first; `before` is the (occurred_at, id) of the last entry already seen."""
    query = select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
    equal = {
        AuditEntry.actor: where.actor,
        AuditEntry.resource_type: where.resource_type,
        AuditEntry.resource_id: where.resource_id,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if where.action is not None:
        # `post.` asks for every action on posts; `post.approved` for that one.
        if where.action.endswith("."):
            query = query.where(AuditEntry.action.startswith(where.action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == where.action)
    if where.since is not None:
        query = query.where(AuditEntry.occurred_at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.occurred_at < where.until)
    if before is not None:
        query = query.where(tuple_(AuditEntry.occurred_at, AuditEntry.id) < tuple_(*before))
    query = query.order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def record_by(
    session: AsyncSession,
    outbox: Outbox,
    caller: KeyIdentity,
    *,
    action: str,
    resource_type: str,
    resource_id: UUID | str,
    details: dict[str, Any] | None = None,
) -> None:
    """An entry for a change the gateway itself made for `caller` (through its own outbox,
    like every service's, so there is one path into the log)."""
    await audit.record(
        session,
        outbox,
        audit.Actor.of(caller.principal()),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        service="gateway",
        details=details,
    )
