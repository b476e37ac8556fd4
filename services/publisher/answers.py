"""What the channels API answers and records about a channel, apart from its routes."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher import subscriptions
from services.publisher.adapters import Adapters
from services.publisher.models import Channel, WebhookSubscription
from services.publisher.schemas import ChannelOut, SubscriptionOut
from services.publisher.settings import PublisherSettings
from shared import audit
from shared.auth import Principal
from shared.service import Runtime


def out(channel: Channel, subscription: WebhookSubscription | None = None,
        *, adapters: Adapters | None = None) -> ChannelOut:
    result = ChannelOut.model_validate(channel, from_attributes=True)
    polled = adapters is not None and subscriptions.polled(adapters, channel.network)
    shown = subscriptions.view(subscription, polled_network=polled)
    result.subscription = None if shown is None else SubscriptionOut(**shown)
    return result


async def audited(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    action: str,
    channel_id: UUID,
    **details: object,
) -> None:
    await audit.record(
        session,
        runtime.outbox,
        audit.Actor.of(principal),
        action=action,
        resource_type="channel",
        resource_id=channel_id,
        service="publisher",
        details=details,
    )


async def connected(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    channel: Channel,
    *,
    created: bool,
    settings: PublisherSettings,
    adapters: Adapters,
) -> ChannelOut:
    """After a connection (by credentials or OAuth): audited when new, subscribed to the
    network's webhooks, and shown."""
    if created:
        await audited(
            session, runtime, principal, "channel.connected", channel.id, network=channel.network
        )
    row = await subscriptions.ensure_subscription(
        session, channel=channel, settings=settings, adapters=adapters, outbox=runtime.outbox
    )
    return out(channel, row, adapters=adapters)
