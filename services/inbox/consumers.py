"""Bus handlers of the inbox service."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.handling import moderation_answered, reply_failed, reply_sent
from services.inbox.polling import follow_subscription, record_fetched
from services.inbox.readmodels import forget_channel, remember_channel, remember_published_post
from services.inbox.scorers import Analyser
from services.inbox.settings import InboxSettings
from shared.consumer import Subscription
from shared.events import (
    ChannelDisconnected,
    ChannelFacts,
    ChannelSubscriptionChanged,
    CommentModerated,
    Envelope,
    InboxFetched,
    PostPublished,
    ReplyFailed,
    ReplySent,
)
from shared.service import Runtime


def subscriptions(runtime: Runtime, *, analyser: Analyser) -> list[Subscription]:
    settings = runtime.settings
    assert isinstance(settings, InboxSettings)

    async def on_fetched(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, InboxFetched)
        await record_fetched(session, outbox=runtime.outbox, fetched=data, analyser=analyser)

    async def on_channel(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ChannelFacts) and envelope.workspace_id
        await remember_channel(
            session, workspace_id=envelope.workspace_id, facts=data, facts_at=envelope.occurred_at
        )

    async def on_channel_disconnected(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ChannelDisconnected)
        await forget_channel(
            session,
            workspace_id=envelope.workspace_id,
            channel_id=data.channel_id,
            facts_at=envelope.occurred_at,
        )

    async def on_post_published(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, PostPublished) and envelope.workspace_id
        await remember_published_post(
            session, workspace_id=envelope.workspace_id, published=data,
            fresh_for=timedelta(hours=settings.poll_fresh_post_hours),
        )

    async def on_reply_sent(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ReplySent)
        await reply_sent(
            session, outbox=runtime.outbox, workspace_id=envelope.workspace_id, sent=data
        )

    async def on_reply_failed(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ReplyFailed)
        await reply_failed(session, failed=data)

    async def on_subscription_changed(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, ChannelSubscriptionChanged)
        await follow_subscription(session, change=data)

    async def on_moderated(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, CommentModerated)
        await moderation_answered(session, answer=data)

    return [
        Subscription(purpose="moderation", handlers={"comment.moderated": on_moderated}),
        Subscription(
            purpose="subscriptions",
            handlers={"channel.subscription_changed": on_subscription_changed},
        ),
        Subscription(
            purpose="channels",
            handlers={
                "channel.connected": on_channel,
                "channel.updated": on_channel,
                "channel.needs_reauth": on_channel,
                "channel.disconnected": on_channel_disconnected,
            },
        ),
        Subscription(purpose="posts", handlers={"post.published": on_post_published}),
        Subscription(purpose="polls", handlers={"inbox.fetched": on_fetched}),
        Subscription(
            purpose="replies",
            handlers={"reply.sent": on_reply_sent, "reply.failed": on_reply_failed},
        ),
    ]
