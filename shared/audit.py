"""The one way to write an audit entry: `await audit.record(...)` beside the state change.

Every service records who did what in its own transaction, through its outbox, as an
`audit.recorded` event; the gateway is its only consumer and keeps the entries for
`GET /v1/audit` (docs/audit.md). So an entry exists exactly when the change committed, and a
redelivered event stores nothing twice (the envelope id is the entry id).

    from shared import audit

    await audit.record(
        session,
        runtime.outbox,
        audit.Actor.of(principal),          # or audit.system("publisher", workspace_id)
        action="channel.connected",         # <resource>.<past-tense verb>
        resource_type="channel",
        resource_id=channel.id,
        service="publisher",
        details={"network": channel.network},
    )

Details are a few readable facts (a name, a network, a from/to pair); never secrets, tokens,
credentials or the text of messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import AuditRecorded, Envelope
from shared.outbox import Outbox

SYSTEM_ROLE = "system"


class _Principal(Protocol):
    @property
    def workspace_id(self) -> UUID: ...

    @property
    def role(self) -> str: ...

    @property
    def principal_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it, in which workspace."""

    workspace_id: UUID
    id: str
    role: str

    @classmethod
    def of(cls, principal: _Principal) -> Actor:
        """The caller of a request (`shared.auth.Principal`): its API key, its role."""
        return cls(principal.workspace_id, str(principal.principal_id), principal.role)


def system(service: str, workspace_id: UUID) -> Actor:
    """The platform itself (a publish result, a scheduled draw), not a person."""
    return Actor(workspace_id, f"system:{service}", SYSTEM_ROLE)


async def record(
    session: AsyncSession,
    outbox: Outbox,
    actor: Actor,
    *,
    action: str,
    resource_type: str,
    resource_id: UUID | str,
    service: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Adds the entry to the outbox, in the caller's transaction (committed with the change)."""
    data = AuditRecorded(
        actor=actor.id,
        actor_role=actor.role,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        service=service,
        details=details or {},
    )
    await outbox.add(session, Envelope.of(data, workspace_id=actor.workspace_id))
