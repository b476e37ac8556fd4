"""The scheduler's read models: what other services said, kept where posts are planned.

The channels a workspace may target (from the publisher's `channel.*` events, in any order:
the newest facts win) and each channel's best hours to post (from metrics'
`best_times.updated`).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import case, func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import BestTimes, Channel
from shared.events import BestTimesUpdated, ChannelFacts
from shared.facts import channel_facts, newer_fact


async def record_channel(
    session: AsyncSession, *, workspace_id: UUID, facts: ChannelFacts, facts_at: datetime
) -> None:
    """Creates or refreshes a channel from a `channel.connected/updated/needs_reauth` event.

    Events may arrive in any order: name, zone and status follow the newest fact (by the
    event's time, `facts_at`), and a disconnected channel stays disconnected (the publisher
    never reuses its id). The account a channel id stands for never changes.
    """
    row = Channel.__table__.c
    insert = pg_insert(Channel).values(
        id=facts.channel_id,
        workspace_id=workspace_id,
        network=facts.network,
        external_id=facts.external_id,
        name=facts.name,
        # No zone on the channel: the workspace's applies when a post is planned.
        timezone=facts.timezone or "",
        status=facts.status,
        disconnected=False,
        facts_at=facts_at,
    )
    new = insert.excluded
    newer = newer_fact(row, new)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[row.id],
            set_={
                **channel_facts(row, new, newer=newer, newest=("name", "timezone")),
                "status": case(
                    (row.disconnected, row.status), (newer, new.status), else_=row.status
                ),
            },
        )
    )


async def forget_channel(
    session: AsyncSession, *, workspace_id: UUID | None, channel_id: UUID, facts_at: datetime
) -> None:
    """Marks a channel disconnected for good; when this arrives before the channel's
    `channel.connected`, the row is kept as a marker that the late event cannot undo."""
    if workspace_id is None:
        channel = await session.get(Channel, channel_id)
        if channel is not None:
            channel.disconnected = True
            channel.status = "disconnected"
        return
    insert = pg_insert(Channel).values(
        id=channel_id,
        workspace_id=workspace_id,
        network="",
        status="disconnected",
        disconnected=True,
        facts_at=facts_at,
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[Channel.id],
            set_={
                "status": "disconnected",
                "disconnected": True,
                "facts_at": func.greatest(Channel.facts_at, insert.excluded.facts_at),
            },
        )
    )


async def record_best_times(
    session: AsyncSession, *, data: BestTimesUpdated, facts_at: datetime
) -> None:
    """Keeps the newest best times of a channel, whatever order the events arrive in."""
    values = {
        "timezone": data.timezone,
        "slots": [slot.model_dump() for slot in data.slots],
        "facts_at": facts_at,
    }
    insert = pg_insert(BestTimes).values(channel_id=data.channel_id, **values)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[BestTimes.channel_id],
            set_=values,
            where=or_(BestTimes.facts_at.is_(None), BestTimes.facts_at <= insert.excluded.facts_at),
        )
    )
