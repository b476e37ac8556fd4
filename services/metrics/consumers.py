"""Bus handlers of the metrics service: each event recorded where the reports read it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

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
from shared.consumer import Received, Subscription, TypedHandler, on
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
from shared.events.catalogue import ChannelFacts
from shared.service import Runtime


def _workspace_fact(record: Callable[..., Awaitable[None]], name: str) -> TypedHandler[Any]:
    """A handler that records the event's data, as the keyword `name`, in its workspace."""

    async def handle(session: AsyncSession, event: Received[Any]) -> None:
        await record(session, workspace_id=event.workspace_id, **{name: event.data})

    return handle


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

    async def on_metrics_fetched(
        session: AsyncSession, event: Received[MetricsFetched]
    ) -> None:
        result = await ingest_fetched(
            session, workspace_id=event.workspace_id, fetched=event.data, now=runtime.clock(),
            account_interval=account_interval,
        )
        stored.inc(result.stored)

    on_campaign = _workspace_fact(record_campaign, "facts")
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
            on(PostCampaignSet, _workspace_fact(record_campaign_post, "data")),
        ),
        Subscription.of(
            "inbox",
            on(MessageReceived, _workspace_fact(record_message, "message")),
            on(ConversationReplied, _workspace_fact(record_reply, "reply")),
            on(ConversationResolved, _workspace_fact(record_resolution, "resolved")),
            on(ConversationSlaBreached, _workspace_fact(record_breach, "breach")),
            on(CrisisDetected, _workspace_fact(record_crisis, "detected")),
            on(CrisisResolved, _workspace_fact(record_crisis_resolved, "resolved")),
        ),
    ]
