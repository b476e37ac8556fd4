"""Which posts and channels this service measures."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.collection import schedule_collections
from services.metrics.models import Channel, Collection, TrackedPost
from shared.db import insert_once
from shared.events import ChannelDisconnected, PostPublished
from shared.events.catalogue import ChannelFacts
from shared.facts import channel_facts, newer_fact

# A hashtag starts after a space or the start of the text (so "a#b" and "&#39;" are not tags)
# and runs over letters, digits and underscores in any script.
HASHTAG = re.compile(r"(?<![\w&#])#(\w{1,100})")


def hashtags(text: str | None) -> list[str]:
    """The text's hashtags, lower-cased, first appearance first, each once."""
    seen: dict[str, None] = {}
    for match in HASHTAG.finditer(text or ""):
        tag = match.group(1).lower()
        if not tag.isdigit():  # "#1" is a rank, not a tag
            seen.setdefault(tag, None)
    return list(seen)


async def track_published_post(
    session: AsyncSession, *, workspace_id: UUID, published: PostPublished, now: datetime
) -> None:
    first_time = await insert_once(
        session,
        TrackedPost,
        keys=[TrackedPost.target_id],
        target_id=published.target_id,
        post_id=published.post_id,
        workspace_id=workspace_id,
        channel_id=published.channel_id,
        network=published.network,
        external_id=published.external_id,
        url=published.url,
        campaign=published.campaign,
        tags=published.tags,
        content_type=published.media_kind,
        hashtags=hashtags(published.text),
        text=published.text,
        published_at=published.published_at,
    )
    if not first_time:
        return
    await schedule_collections(
        session, target_id=published.target_id, published_at=published.published_at
    )
    # A post may arrive before its channel's `channel.connected`; the channel is known enough
    # to own the post and to have its followers collected. Its timezone comes later.
    await insert_once(
        session,
        Channel,
        keys=[Channel.channel_id],
        channel_id=published.channel_id,
        workspace_id=workspace_id,
        network=published.network,
        external_id="",
        account_due_at=now,
    )


async def record_channel(
    session: AsyncSession, *, workspace_id: UUID, facts: ChannelFacts, now: datetime,
    facts_at: datetime,
) -> None:
    """Applies a channel's facts as of `facts_at` (the event's time), in any arrival order:
    name, zone and status follow the newest fact, and a disconnected channel stays so."""
    row = Channel.__table__.c
    insert = pg_insert(Channel).values(
        channel_id=facts.channel_id,
        workspace_id=workspace_id,
        network=facts.network,
        external_id=facts.external_id,
        name=facts.name,
        timezone=facts.timezone,
        status=facts.status,
        account_due_at=now,
        facts_at=facts_at,
    )
    new = insert.excluded
    newer = and_(row.status != "disconnected", newer_fact(row, new))
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[row.channel_id],
            set_={
                **channel_facts(row, new, newer=newer, newest=("name", "timezone", "status")),
                "account_due_at": case(
                    (row.status == "disconnected", row.account_due_at),
                    else_=func.coalesce(row.account_due_at, now),
                ),
                # The grid is drawn in the channel's zone: a new zone means a new grid.
                "best_times_dirty": row.best_times_dirty
                | (newer & (row.timezone != new.timezone)),
            },
        )
    )


async def forget_channel(
    session: AsyncSession, *, data: ChannelDisconnected, workspace_id: UUID | None,
    facts_at: datetime,
) -> None:
    # Its history stays for reports; only the collecting stops. Arriving before the
    # channel's `channel.connected`, the row is kept as a marker the late event cannot undo.
    if workspace_id is None:
        await session.execute(
            update(Channel)
            .where(Channel.channel_id == data.channel_id)
            .values(status="disconnected", account_due_at=None)
        )
    else:
        insert = pg_insert(Channel).values(
            channel_id=data.channel_id,
            workspace_id=workspace_id,
            network="",
            external_id="",
            status="disconnected",
            account_due_at=None,
            facts_at=facts_at,
        )
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[Channel.channel_id],
                set_={
                    "status": "disconnected",
                    "account_due_at": None,
                    "facts_at": func.greatest(Channel.facts_at, insert.excluded.facts_at),
                },
            )
        )
    targets = select(TrackedPost.target_id).where(TrackedPost.channel_id == data.channel_id)
    await session.execute(
        update(Collection)
        .where(Collection.target_id.in_(targets), Collection.status.in_(("pending", "sent")))
        .values(status="canceled")
    )
