"""What the inbox keeps of other services' facts: channels and published posts."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.conversations import link_post
from services.inbox.models import Channel, PublishedPost
from services.inbox.polling import ensure_polled, note_post
from services.inbox.receipts import requeue_unrouted
from shared.events import ChannelFacts, PostPublished


async def remember_channel(
    session: AsyncSession, *, workspace_id: UUID, facts: ChannelFacts
) -> None:
    values = {
        "workspace_id": workspace_id,
        "network": facts.network,
        "external_id": facts.external_id,
        "name": facts.name,
        "status": facts.status,
    }
    await session.execute(
        pg_insert(Channel)
        .values(channel_id=facts.channel_id, **values)
        .on_conflict_do_update(index_elements=[Channel.channel_id], set_=values)
    )
    await requeue_unrouted(session, network=facts.network, account_id=facts.external_id)
    await ensure_polled(session, channel_id=facts.channel_id, network=facts.network)


async def forget_channel(session: AsyncSession, *, channel_id: UUID) -> None:
    # Kept, not deleted: its conversations still name it; new webhooks are no longer routed.
    await session.execute(
        update(Channel).where(Channel.channel_id == channel_id).values(status="disconnected")
    )


async def remember_published_post(
    session: AsyncSession, *, workspace_id: UUID, published: PostPublished, fresh_for: timedelta
) -> None:
    await session.execute(
        pg_insert(PublishedPost)
        .values(
            target_id=published.target_id,
            post_id=published.post_id,
            workspace_id=workspace_id,
            channel_id=published.channel_id,
            network=published.network,
            external_id=published.external_id,
            url=published.url,
            published_at=published.published_at,
        )
        .on_conflict_do_nothing()
    )
    await link_post(
        session,
        workspace_id=workspace_id,
        network=published.network,
        external_id=published.external_id,
        post_id=published.post_id,
    )
    await note_post(
        session,
        channel_id=published.channel_id,
        network=published.network,
        external_id=published.external_id,
        published_at=published.published_at,
        fresh_for=fresh_for,
    )
