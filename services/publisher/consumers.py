"""Bus handlers of the publisher."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters import Adapters
from services.publisher.insights import collect_metrics
from services.publisher.jobs import record_due, record_reply
from services.publisher.moderation import carry_out
from services.publisher.polling import fetch_inbox
from services.publisher.sending import Credentials
from services.publisher.settings import PublisherSettings
from shared.consumer import Subscription
from shared.events import (
    CommentModerationRequested,
    Envelope,
    InboxFetch,
    MetricsCollect,
    PostDue,
    ReplyRequested,
)
from shared.service import Runtime


def subscriptions(
    runtime: Runtime,
    *,
    adapters: Adapters,
    credentials: Credentials,
    settings: PublisherSettings,
) -> list[Subscription]:
    async def on_post_due(session: AsyncSession, envelope: Envelope) -> None:
        # Only recorded here: the network is called by the publishing loop, outside this
        # transaction, so a slow network never holds a message or a database connection.
        data = envelope.parsed()
        assert isinstance(data, PostDue) and envelope.workspace_id
        await record_due(
            session,
            workspace_id=envelope.workspace_id,
            due=data,
            correlation_id=envelope.correlation_id,
        )

    async def on_reply_requested(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ReplyRequested) and envelope.workspace_id
        await record_reply(
            session,
            workspace_id=envelope.workspace_id,
            request=data,
            correlation_id=envelope.correlation_id,
        )

    async def on_inbox_fetch(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, InboxFetch)
        await fetch_inbox(
            session,
            workspace_id=envelope.workspace_id,
            request=data,
            adapters=adapters,
            credentials=credentials,
            outbox=runtime.outbox,
            causation_id=envelope.id,
            runtime=runtime,
            settings=settings,
        )

    async def on_metrics_collect(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, MetricsCollect)
        await collect_metrics(
            session,
            workspace_id=envelope.workspace_id,
            request=data,
            adapters=adapters,
            credentials=credentials,
            outbox=runtime.outbox,
            causation_id=envelope.id,
            runtime=runtime,
            settings=settings,
        )

    async def on_moderation_requested(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, CommentModerationRequested)
        await carry_out(
            session,
            workspace_id=envelope.workspace_id,
            request=data,
            adapters=adapters,
            credentials=credentials,
            outbox=runtime.outbox,
            causation_id=envelope.id,
            runtime=runtime,
            settings=settings,
        )

    return [
        Subscription(
            purpose="moderation",
            handlers={"comment.moderation_requested": on_moderation_requested},
        ),
        Subscription(purpose="posts", handlers={"post.due": on_post_due}),
        Subscription(purpose="replies", handlers={"reply.requested": on_reply_requested}),
        Subscription(purpose="inbox", handlers={"inbox.fetch": on_inbox_fetch}),
        Subscription(purpose="metrics", handlers={"metrics.collect": on_metrics_collect}),
    ]
