"""What the inbox keeps of other services' facts: channels and published posts."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import case, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.conversations import link_post
from services.inbox.models import Channel, PublishedPost
from services.inbox.polling import ensure_polled, note_post
from services.inbox.receipts import requeue_unrouted
from shared.events import ChannelFacts, PostPublished
from shared.facts import channel_facts, newer_fact


async def remember_channel(
    session: AsyncSession, *, workspace_id: UUID, facts: ChannelFacts, facts_at: datetime
) -> None:
    """Applies a channel's facts as of `facts_at` (the event's time), in any arrival order.

    A channel id belongs to one account of one workspace for good, so those columns are always
    filled in; name and status follow the newest fact only, and a disconnected channel stays
    disconnected (the publisher never reuses its id).
    """
    row = Channel.__table__.c
    insert = pg_insert(Channel).values(
        channel_id=facts.channel_id,
        workspace_id=workspace_id,
        network=facts.network,
        external_id=facts.external_id,
        name=facts.name,
        status=facts.status,
        facts_at=facts_at,
    )
    newer = newer_fact(row, insert.excluded)
    status = await session.scalar(
        insert.on_conflict_do_update(
            index_elements=[row.channel_id],
            set_={
                **channel_facts(row, insert.excluded, newer=newer, newest=("name",)),
                "status": case(
                    (row.status == "disconnected", row.status),
                    (newer, insert.excluded.status),
                    else_=row.status,
                ),
            },
        ).returning(row.status)
    )
    if status == "disconnected":
        return
    await requeue_unrouted(session, network=facts.network, account_id=facts.external_id)
    await ensure_polled(session, channel_id=facts.channel_id, network=facts.network)


async def forget_channel(
    session: AsyncSession, *, workspace_id: UUID | None, channel_id: UUID, facts_at: datetime
) -> None:
    # Kept, not deleted: its conversations still name it; new webhooks are no longer routed.
    # When the disconnect arrives first, the row is kept as a marker so that the late
    # `channel.connected` cannot bring the channel back; it learns its account from that one.
    if workspace_id is None:
        await session.execute(
            update(Channel).where(Channel.channel_id == channel_id).values(status="disconnected")
        )
        return
    insert = pg_insert(Channel).values(
        channel_id=channel_id,
        workspace_id=workspace_id,
        network="",
        external_id="",
        status="disconnected",
        facts_at=facts_at,
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[Channel.channel_id],
            set_={
                "status": "disconnected",
                "facts_at": func.greatest(Channel.facts_at, insert.excluded.facts_at),
            },
        )
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

