"""Bus handlers of the inbox service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.handling import moderation_answered, reply_failed, reply_sent
from services.inbox.members import forget_member, remember_member
from services.inbox.polling import follow_subscription, record_fetched
from services.inbox.readmodels import forget_channel, remember_channel, remember_published_post
from services.inbox.scorers import Analyser
from services.inbox.settings import InboxSettings
from shared.consumer import Received, Subscription, on
from shared.events import (
    ChannelConnected,
    ChannelDisconnected,
    ChannelFacts,
    ChannelNeedsReauth,
    ChannelSubscriptionChanged,
    ChannelUpdated,
    CommentModerated,
    InboxFetched,
    MemberAdded,
    MemberRemoved,
    PostPublished,
    ReplyFailed,
    ReplySent,
)
from shared.outbox import Outbox
from shared.service import Runtime

Facts = TypeVar("Facts", bound=ChannelFacts)


@dataclass(frozen=True)
class Handlers:
    outbox: Outbox
    analyser: Analyser
    settings: InboxSettings

    async def fetched(self, session: AsyncSession, event: Received[InboxFetched]) -> None:
        await record_fetched(
            session, outbox=self.outbox, fetched=event.data, analyser=self.analyser
        )

    async def channel(self, session: AsyncSession, event: Received[Facts]) -> None:
        # Connected, updated, needs re-authorising: the same facts, remembered alike.
        await remember_channel(
            session, workspace_id=event.workspace_id, facts=event.data, facts_at=event.occurred_at
        )

    async def channel_disconnected(
        self, session: AsyncSession, event: Received[ChannelDisconnected]
    ) -> None:
        await forget_channel(
            session,
            workspace_id=event.envelope.workspace_id,
            channel_id=event.data.channel_id,
            facts_at=event.occurred_at,
        )

    async def post_published(self, session: AsyncSession, event: Received[PostPublished]) -> None:
        await remember_published_post(
            session,
            workspace_id=event.workspace_id,
            published=event.data,
            fresh_for=timedelta(hours=self.settings.poll_fresh_post_hours),
        )

    async def reply_sent(self, session: AsyncSession, event: Received[ReplySent]) -> None:
        await reply_sent(
            session, outbox=self.outbox, workspace_id=event.envelope.workspace_id, sent=event.data
        )

    async def reply_failed(self, session: AsyncSession, event: Received[ReplyFailed]) -> None:
        await reply_failed(session, failed=event.data)

    async def subscription_changed(
        self, session: AsyncSession, event: Received[ChannelSubscriptionChanged]
    ) -> None:
        await follow_subscription(session, change=event.data)

    async def member_added(self, session: AsyncSession, event: Received[MemberAdded]) -> None:
        await remember_member(session, workspace_id=event.workspace_id, added=event.data)

    async def member_removed(self, session: AsyncSession, event: Received[MemberRemoved]) -> None:
        await forget_member(session, workspace_id=event.workspace_id, removed=event.data)

    async def moderated(self, session: AsyncSession, event: Received[CommentModerated]) -> None:
        await moderation_answered(session, outbox=self.outbox, answer=event.data)


def subscriptions(runtime: Runtime, *, analyser: Analyser) -> list[Subscription]:
    settings = runtime.settings
    if not isinstance(settings, InboxSettings):
        raise TypeError(f"the inbox runs with InboxSettings, not {type(settings).__name__}")
    handle = Handlers(outbox=runtime.outbox, analyser=analyser, settings=settings)
    return [
        Subscription.of("moderation", on(CommentModerated, handle.moderated)),
        Subscription.of(
            "subscriptions", on(ChannelSubscriptionChanged, handle.subscription_changed)
        ),
        Subscription.of(
            "channels",
            on(ChannelConnected, handle.channel),
            on(ChannelUpdated, handle.channel),
            on(ChannelNeedsReauth, handle.channel),
            on(ChannelDisconnected, handle.channel_disconnected),
        ),
        Subscription.of("posts", on(PostPublished, handle.post_published)),
        Subscription.of(
            "members",
            on(MemberAdded, handle.member_added),
            on(MemberRemoved, handle.member_removed),
        ),
        Subscription.of("polls", on(InboxFetched, handle.fetched)),
        Subscription.of(
            "replies", on(ReplySent, handle.reply_sent), on(ReplyFailed, handle.reply_failed)
        ),
    ]
