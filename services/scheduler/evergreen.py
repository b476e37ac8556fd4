"""Evergreen posts: published, then put back into the channel's queue after a minimum gap.

A post created with `"evergreen": {"min_gap_days": N}` goes back into each channel's queue
every time it is published there: a new target in the first free posting slot no sooner than
N days after the publication (the slot caps apply as for `{"queue": true}`). It keeps going
until the post is canceled; a channel without slots (or disconnected) ends its cycle there.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import WAITING, Channel, Post, Target
from services.scheduler.posts import record_transition, refresh_post_status
from services.scheduler.slots import next_free_slot
from services.scheduler.timing import zone
from shared.errors import ValidationFailed
from shared.events import Envelope, PostScheduled, TargetRef
from shared.outbox import Outbox

log = logging.getLogger(__name__)


async def recycle(
    session: AsyncSession, *, target_id: UUID, published_at: datetime, outbox: Outbox
) -> Target | None:
    """Queues the next round of an evergreen post on the channel `target_id` went out on.

    None when the post is not evergreen, already has a round waiting on that channel, or the
    channel cannot take it (no slots, disconnected).
    """
    target = await session.get(Target, target_id)
    if target is None:
        return None
    # The session does not autoflush: the publication must be visible to the count below.
    await session.flush()
    post = await session.get(Post, target.post_id, with_for_update=True)
    if post is None or not post.evergreen_gap_days or post.status == "canceled":
        return None
    waiting = await session.scalar(
        select(func.count()).where(
            Target.post_id == post.id,
            Target.channel_id == target.channel_id,
            Target.status.in_(sorted(WAITING)),
        )
    )
    if waiting:
        return None
    channel = await session.get(Channel, target.channel_id)
    if channel is None or channel.disconnected:
        return None
    tz = zone(channel.timezone or target.timezone or "UTC", field="timezone")
    now = datetime.now(UTC)
    earliest = max(now, published_at + timedelta(days=post.evergreen_gap_days))
    try:
        due_at = await next_free_slot(session, channel=channel, tz=tz, now=earliest)
    except ValidationFailed as exc:
        log.warning("evergreen post %s not re-queued on %s: %s", post.id, channel.id, exc.detail)
        return None
    again = Target(
        id=uuid.uuid4(),
        post_id=post.id,
        workspace_id=post.workspace_id,
        channel_id=target.channel_id,
        network=target.network,
        position=target.position,
        text=target.text,
        media=target.media,
        options=target.options,
        status="scheduled",
        due_at=due_at,
        timezone=tz.key,
        updated_at=now,
    )
    session.add(again)
    await session.flush()
    record_transition(
        session,
        post_id=post.id,
        target_id=again.id,
        to_status="scheduled",
        by="evergreen",
        comment=f"re-queued {post.evergreen_gap_days} day(s) or more after its publication",
    )
    await refresh_post_status(session, post_id=post.id)
    await outbox.add(
        session,
        Envelope.of(
            PostScheduled(
                post_id=post.id,
                targets=[
                    TargetRef(
                        target_id=again.id,
                        channel_id=again.channel_id,
                        network=again.network,
                        due_at=due_at,
                    )
                ],
            ),
            workspace_id=post.workspace_id,
        ),
    )
    return again
