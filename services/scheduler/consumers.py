"""Bus handlers of the scheduler: the channels it may target, and how publishing went."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.channels import forget_channel, record_channel
from services.scheduler.evergreen import recycle
from services.scheduler.freezes import freeze
from services.scheduler.models import Channel
from services.scheduler.posts import mark_failed, mark_published
from services.scheduler.slots import record_best_times
from shared import audit
from shared.consumer import Subscription
from shared.events import (
    BestTimesUpdated,
    ChannelDisconnected,
    ChannelFacts,
    Envelope,
    PostPublished,
    PostPublishFailed,
    QueueFreezeRequested,
)
from shared.outbox import Outbox
from shared.service import Runtime

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]

log = logging.getLogger(__name__)


async def on_channel_facts(session: AsyncSession, envelope: Envelope) -> None:
    data = envelope.parsed()
    assert isinstance(data, ChannelFacts)
    if envelope.workspace_id is None:
        log.error("%s %s without a workspace; ignored", envelope.type, envelope.id)
        return
    await record_channel(
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


def published_handler(outbox: Outbox) -> Handler:
    async def on_post_published(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, PostPublished)
        found = await mark_published(
            session,
            target_id=data.target_id,
            external_id=data.external_id,
            url=data.url,
            published_at=data.published_at,
            outbox=outbox,
        )
        if not found:
            log.warning("post.published for unknown target %s", data.target_id)
            return
        await publish_result_audited(session, outbox, envelope, data)
        await recycle(
            session, target_id=data.target_id, published_at=data.published_at, outbox=outbox
        )

    return on_post_published


def publish_failed_handler(outbox: Outbox) -> Handler:
    async def on_post_publish_failed(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, PostPublishFailed)
        found = await mark_failed(
            session,
            target_id=data.target_id,
            error=f"{data.error_class}: {data.error}",
            outbox=outbox,
        )
        if not found:
            log.warning("post.publish_failed for unknown target %s", data.target_id)
            return
        await publish_result_audited(session, outbox, envelope, data)

    return on_post_publish_failed


async def publish_result_audited(
    session: AsyncSession,
    outbox: Outbox,
    envelope: Envelope,
    data: PostPublished | PostPublishFailed,
) -> None:
    """A publish result in the audit log: the platform did it, on the post's schedule."""
    assert envelope.workspace_id is not None
    details: dict[str, object] = {"target_id": str(data.target_id), "network": data.network}
    if isinstance(data, PostPublishFailed):
        details["error_class"] = data.error_class
    await audit.record(
        session,
        outbox,
        audit.system("scheduler", envelope.workspace_id),
        action=envelope.type,
        resource_type="post",
        resource_id=data.post_id,
        service="scheduler",
        details=details,
    )


async def on_best_times(session: AsyncSession, envelope: Envelope) -> None:
    data = envelope.parsed()
    assert isinstance(data, BestTimesUpdated)
    await record_best_times(session, data=data, facts_at=envelope.occurred_at)


def freeze_handler(outbox: Outbox) -> Handler:
    async def on_freeze_requested(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, QueueFreezeRequested)
        if envelope.workspace_id is None:
            log.error("%s %s without a workspace; ignored", envelope.type, envelope.id)
            return
        # A channel the scheduler does not know (yet) cannot hold posts: the workspace's
        # whole queue is frozen rather than nothing.
        channel_id = data.channel_id
        if channel_id is not None and await session.get(Channel, channel_id) is None:
            channel_id = None
        await freeze(
            session,
            outbox=outbox,
            workspace_id=envelope.workspace_id,
            channel_id=channel_id,
            reason=data.reason,
            by=data.requested_by,
            alert_id=data.alert_id,
            now=data.requested_at,
        )

    return on_freeze_requested


def subscriptions(runtime: Runtime) -> list[Subscription]:
    return [
        Subscription(
            purpose="crisis",
            handlers={"queue.freeze_requested": freeze_handler(runtime.outbox)},
        ),
        Subscription(
            purpose="channels",
            handlers={
                "channel.connected": on_channel_facts,
                "channel.updated": on_channel_facts,
                "channel.needs_reauth": on_channel_facts,
                "channel.disconnected": on_channel_disconnected,
                "best_times.updated": on_best_times,
            },
        ),
        Subscription(
            purpose="outcomes",
            handlers={
                "post.published": published_handler(runtime.outbox),
                "post.publish_failed": publish_failed_handler(runtime.outbox),
            },
        ),
    ]
