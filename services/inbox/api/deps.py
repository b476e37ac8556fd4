"""Dependencies the inbox routers share."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.counters import InboxCounters
from services.inbox.settings import InboxSettings
from shared import audit
from shared.auth import Principal, require
from shared.service import Runtime, settings_dependency

SettingsDep = Annotated[InboxSettings, settings_dependency(InboxSettings)]
ReaderDep = Annotated[Principal, Depends(require("inbox.read"))]


async def get_counters(request: Request) -> InboxCounters:
    counters: InboxCounters = request.app.state.counters
    return counters


CountersDep = Annotated[InboxCounters, Depends(get_counters)]
ResponderDep = Annotated[Principal, Depends(require("inbox.respond"))]
ModeratorDep = Annotated[Principal, Depends(require("inbox.moderate"))]
RulesDep = Annotated[Principal, Depends(require("inbox.rules"))]


async def audited(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: UUID | str,
    **details: object,
) -> None:
    """The audit entry of a change someone made in the inbox (shared/audit.py)."""
    await audit.record(
        session,
        runtime.outbox,
        audit.Actor.of(principal),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        service="inbox",
        details=details,
    )
