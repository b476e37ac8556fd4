"""What the gateway hears on the bus: every public event, fanned out to client webhooks, and
every service's audit entries, kept for GET /v1/audit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway import audit
from services.gateway.webhook_events import PUBLIC_EVENTS
from services.gateway.webhooks import fan_out
from shared.consumer import Subscription
from shared.events import Envelope
from shared.service import Runtime


async def queue_webhook_deliveries(session: AsyncSession, envelope: Envelope) -> None:
    await fan_out(session, envelope)


async def keep_audit_entry(session: AsyncSession, envelope: Envelope) -> None:
    await audit.store(session, envelope)


def subscriptions(runtime: Runtime) -> list[Subscription]:
    return [
        Subscription(
            "webhooks", handlers={event: queue_webhook_deliveries for event in PUBLIC_EVENTS}
        ),
        Subscription("audit", handlers={"audit.recorded": keep_audit_entry}),
    ]
