"""Bus handlers of the metrics service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.campaigns import record_campaign, record_campaign_post
from services.metrics.inbox import (
    record_breach,
    record_crisis,
    record_crisis_resolved,
    record_message,
    record_reply,
    record_resolution,
)
from services.metrics.ingest import ingest_fetched
from services.metrics.settings import MetricsSettings
from services.metrics.tracking import forget_channel, record_channel, track_published_post
from shared.consumer import Received, Subscription, on
from shared.events import (
    ChannelDisconnected,
    ConversationReplied,
    ConversationResolved,
    ConversationSlaBreached,
    CrisisDetected,
    CrisisResolved,
    Envelope,
    MessageReceived,
    MetricsFetched,
    PostCampaignSet,
    PostPublished,
)
from shared.events.catalogue import CampaignFacts, ChannelFacts
from shared.service import Runtime


def subscriptions(runtime: Runtime, settings: MetricsSettings) -> list[Subscription]:
    account_interval = timedelta(hours=settings.account_collect_hours)
    stored = runtime.metrics.counter(
        "herald_metrics_samples_stored_total", "Samples stored from metrics.fetched"
    )

    async def on_post_published(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, PostPublished) and envelope.workspace_id
        await track_published_post(
            session, workspace_id=envelope.workspace_id, published=data, now=datetime.now(UTC)
        )

    async def on_channel_facts(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ChannelFacts) and envelope.workspace_id
        await record_channel(
            session, workspace_id=envelope.workspace_id, facts=data, now=datetime.now(UTC),
            facts_at=envelope.occurred_at,
        )

    async def on_channel_disconnected(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ChannelDisconnected)
        await forget_channel(
            session, data=data, workspace_id=envelope.workspace_id, facts_at=envelope.occurred_at
        )

    async def on_metrics_fetched(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, MetricsFetched) and envelope.workspace_id
        result = await ingest_fetched(
            session, workspace_id=envelope.workspace_id, fetched=data, now=datetime.now(UTC),
            account_interval=account_interval,
        )
        stored.inc(result.stored)

    async def on_campaign(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, CampaignFacts) and envelope.workspace_id
        await record_campaign(session, workspace_id=envelope.workspace_id, facts=data)

    async def on_campaign_set(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, PostCampaignSet) and envelope.workspace_id
        await record_campaign_post(session, workspace_id=envelope.workspace_id, data=data)

    async def on_message_received(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, MessageReceived) and envelope.workspace_id
        await record_message(session, workspace_id=envelope.workspace_id, message=data)

    async def on_conversation_replied(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ConversationReplied) and envelope.workspace_id
        await record_reply(session, workspace_id=envelope.workspace_id, reply=data)

    async def on_conversation_resolved(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ConversationResolved) and envelope.workspace_id
        await record_resolution(session, workspace_id=envelope.workspace_id, resolved=data)

    async def on_sla_breached(
        session: AsyncSession, event: Received[ConversationSlaBreached]
    ) -> None:
        await record_breach(session, workspace_id=event.workspace_id, breach=event.data)

    async def on_crisis_detected(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, CrisisDetected) and envelope.workspace_id
        await record_crisis(session, workspace_id=envelope.workspace_id, detected=data)

    async def on_crisis_resolved(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, CrisisResolved) and envelope.workspace_id
        await record_crisis_resolved(session, workspace_id=envelope.workspace_id, resolved=data)

    return [
        Subscription(purpose="posts", handlers={"post.published": on_post_published}),
        Subscription(
            purpose="channels",
            handlers={
                "channel.connected": on_channel_facts,
                "channel.updated": on_channel_facts,
                "channel.needs_reauth": on_channel_facts,
                "channel.disconnected": on_channel_disconnected,
            },
        ),
        Subscription(purpose="samples", handlers={"metrics.fetched": on_metrics_fetched}),
        Subscription(
            purpose="campaigns",
            handlers={
                "campaign.created": on_campaign,
                "campaign.updated": on_campaign,
                "post.campaign_set": on_campaign_set,
            },
        ),
        Subscription(
            purpose="inbox",
            handlers={
                "message.received": on_message_received,
                "conversation.replied": on_conversation_replied,
                "conversation.resolved": on_conversation_resolved,
                **dict([on(ConversationSlaBreached, on_sla_breached)]),
                "crisis.detected": on_crisis_detected,
                "crisis.resolved": on_crisis_resolved,
            },
        ),
    ]
