"""Bus handlers of the metrics service: each event recorded where the reports read it."""

from __future__ import annotations

from datetime import timedelta

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
    CampaignCreated,
    CampaignUpdated,
    ChannelConnected,
    ChannelDisconnected,
    ChannelNeedsReauth,
    ChannelUpdated,
    ConversationReplied,
    ConversationResolved,
    ConversationSlaBreached,
    CrisisDetected,
    CrisisResolved,
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

    async def on_channel_facts(session: AsyncSession, event: Received[ChannelFacts]) -> None:
        await record_channel(
            session, workspace_id=event.workspace_id, facts=event.data, now=runtime.clock(),
            facts_at=event.occurred_at,
        )

    async def on_campaign(session: AsyncSession, event: Received[CampaignFacts]) -> None:
        await record_campaign(session, workspace_id=event.workspace_id, facts=event.data)

    async def on_metrics_fetched(
        session: AsyncSession, event: Received[MetricsFetched]
    ) -> None:
        result = await ingest_fetched(
            session, workspace_id=event.workspace_id, fetched=event.data, now=runtime.clock(),
            account_interval=account_interval,
        )
        stored.inc(result.stored)

    return [
        Subscription.of("posts", on(PostPublished, lambda session, event: track_published_post(
            session, workspace_id=event.workspace_id, published=event.data, now=runtime.clock()
        ))),
        Subscription.of(
            "channels",
            on(ChannelConnected, on_channel_facts),
            on(ChannelUpdated, on_channel_facts),
            on(ChannelNeedsReauth, on_channel_facts),
            on(ChannelDisconnected, lambda session, event: forget_channel(
                session, data=event.data, workspace_id=event.envelope.workspace_id,
                facts_at=event.occurred_at,
            )),
        ),
        Subscription.of("samples", on(MetricsFetched, on_metrics_fetched)),
        Subscription.of(
            "campaigns",
            on(CampaignCreated, on_campaign),
            on(CampaignUpdated, on_campaign),
            on(PostCampaignSet, lambda session, event: record_campaign_post(
                session, workspace_id=event.workspace_id, data=event.data
            )),
        ),
        Subscription.of(
            "inbox",
            on(MessageReceived, lambda session, event: record_message(
                session, workspace_id=event.workspace_id, message=event.data
            )),
            on(ConversationReplied, lambda session, event: record_reply(
                session, workspace_id=event.workspace_id, reply=event.data
            )),
            on(ConversationResolved, lambda session, event: record_resolution(
                session, workspace_id=event.workspace_id, resolved=event.data
            )),
            on(ConversationSlaBreached, lambda session, event: record_breach(
                session, workspace_id=event.workspace_id, breach=event.data
            )),
            on(CrisisDetected, lambda session, event: record_crisis(
                session, workspace_id=event.workspace_id, detected=event.data
            )),
            on(CrisisResolved, lambda session, event: record_crisis_resolved(
                session, workspace_id=event.workspace_id, resolved=event.data
            )),
        ),
    ]
