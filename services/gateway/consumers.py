"""What the gateway hears on the bus: every public event, fanned out to client webhooks, and
every service's audit entries, kept for GET /v1/audit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway import audit
from services.gateway.webhooks.events import PUBLIC_EVENTS
from services.gateway.webhooks.subscriptions import fan_out
from shared.consumer import Subscription, on
from shared.events import AuditRecorded, Envelope
from shared.service import Runtime


async def queue_webhook_deliveries(session: AsyncSession, envelope: Envelope) -> None:
    await fan_out(session, envelope)


def subscriptions(runtime: Runtime) -> list[Subscription]:
    return [
        # Untyped on purpose: a client webhook carries the event's payload as it was published,
        # whatever its type, so nothing here reads its fields.
        Subscription("webhooks", handlers=dict.fromkeys(PUBLIC_EVENTS, queue_webhook_deliveries)),
        Subscription.of("audit", on(AuditRecorded, audit.store)),
    ]
