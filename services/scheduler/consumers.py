"""Bus handlers of the scheduler: the channels it may target, and how publishing went."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.evergreen import recycle
from services.scheduler.freezes import freeze
from services.scheduler.models import Channel
from services.scheduler.outcomes import mark_failed, mark_published, mark_retrying
from services.scheduler.published import record_change
from services.scheduler.readmodels import forget_channel, record_best_times, record_channel
from shared import audit
from shared.consumer import Received, Subscription, on
from shared.events import (
    BestTimesUpdated,
    ChannelConnected,
    ChannelDisconnected,
    ChannelFacts,
    ChannelNeedsReauth,
    ChannelUpdated,
    PostPublished,
    PostPublishFailed,
    PostRetrying,
    QueueFreezeRequested,
    TargetChanged,
)
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)


async def on_channel_facts(session: AsyncSession, event: Received[ChannelFacts]) -> None:
    await record_channel(
        session, workspace_id=event.workspace_id, facts=event.data, facts_at=event.occurred_at
    )


async def on_channel_disconnected(
    session: AsyncSession, event: Received[ChannelDisconnected]
) -> None:
    await forget_channel(
        session,
        workspace_id=event.envelope.workspace_id,
        channel_id=event.data.channel_id,
        facts_at=event.occurred_at,
    )


async def on_best_times(session: AsyncSession, event: Received[BestTimesUpdated]) -> None:
    await record_best_times(session, data=event.data, facts_at=event.occurred_at)


async def on_post_retrying(session: AsyncSession, event: Received[PostRetrying]) -> None:
    data = event.data
    found = await mark_retrying(
        session,
        target_id=data.target_id,
        attempts=data.attempts,
        error=f"{data.error_class}: {data.error}",
        next_attempt_at=data.next_attempt_at,
    )
    if not found:
        log.warning("post.retrying for unknown target %s", data.target_id)


@dataclass(frozen=True)
class Handlers:
    """The handlers that write events of their own (through the outbox)."""

    outbox: Outbox

    async def on_post_published(
        self, session: AsyncSession, event: Received[PostPublished]
    ) -> None:
        data = event.data
        found = await mark_published(
            session,
            target_id=data.target_id,
            external_id=data.external_id,
            url=data.url,
            published_at=data.published_at,
            outbox=self.outbox,
        )
        if not found:
            log.warning("post.published for unknown target %s", data.target_id)
            return
        await self.audited(session, event)
        await recycle(
            session, target_id=data.target_id, published_at=data.published_at, outbox=self.outbox
        )

    async def on_post_publish_failed(
        self, session: AsyncSession, event: Received[PostPublishFailed]
    ) -> None:
        data = event.data
        found = await mark_failed(
            session,
            target_id=data.target_id,
            error=f"{data.error_class}: {data.error}",
            outbox=self.outbox,
        )
        if not found:
            log.warning("post.publish_failed for unknown target %s", data.target_id)
            return
        await self.audited(session, event)

    async def audited(
        self, session: AsyncSession, event: Received[PostPublished] | Received[PostPublishFailed]
    ) -> None:
        """A publish result in the audit log: the platform did it, on the post's schedule."""
        data = event.data
        details: dict[str, object] = {"target_id": str(data.target_id), "network": data.network}
        if isinstance(data, PostPublishFailed):
            details["error_class"] = data.error_class
        await audit.record(
            session,
            self.outbox,
            audit.system("scheduler", event.workspace_id),
            action=event.envelope.type,
            resource_type="post",
            resource_id=data.post_id,
            service="scheduler",
            details=details,
        )

    async def on_target_changed(
        self, session: AsyncSession, event: Received[TargetChanged]
    ) -> None:
        await record_change(session, answer=event.data, outbox=self.outbox)

    async def on_freeze_requested(
        self, session: AsyncSession, event: Received[QueueFreezeRequested]
    ) -> None:
        data = event.data
        # A channel the scheduler does not know (yet) cannot hold posts: the workspace's
        # whole queue is frozen rather than nothing.
        channel_id = data.channel_id
        if channel_id is not None and await session.get(Channel, channel_id) is None:
            channel_id = None
        await freeze(
            session,
            outbox=self.outbox,
            workspace_id=event.workspace_id,
            channel_id=channel_id,
            reason=data.reason,
            by=data.requested_by,
            alert_id=data.alert_id,
            now=data.requested_at,
        )


def subscriptions(runtime: Runtime) -> list[Subscription]:
    handlers = Handlers(runtime.outbox)
    return [
        Subscription.of("crisis", on(QueueFreezeRequested, handlers.on_freeze_requested)),
        Subscription.of(
            "channels",
            on(ChannelConnected, on_channel_facts),
            on(ChannelUpdated, on_channel_facts),
            on(ChannelNeedsReauth, on_channel_facts),
            on(ChannelDisconnected, on_channel_disconnected),
            on(BestTimesUpdated, on_best_times),
        ),
        Subscription.of(
            "outcomes",
            on(PostPublished, handlers.on_post_published),
            on(PostPublishFailed, handlers.on_post_publish_failed),
            on(PostRetrying, on_post_retrying),
            on(TargetChanged, handlers.on_target_changed),
        ),
    ]
