"""A channel's queue: the posts waiting in its posting slots, reordered or shuffled.

The queue is every target on the channel planned with `{"queue": true}`, not yet claimed and
still to come. Reordering never invents times: the slot times the queue already holds are
handed out again in the new order, so caps stay respected and nothing moves off a slot.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Channel, Post, Target
from services.scheduler.schemas import QueueItem
from services.scheduler.timing import local_time
from shared.errors import ValidationFailed
from shared.events import Envelope, PostRescheduled, TargetRef
from shared.outbox import Outbox

QUEUED = ("in_review", "approved", "scheduled")


async def queued_targets(
    session: AsyncSession, *, channel: Channel, lock: bool = False
) -> list[tuple[Target, Post]]:
    if lock:
        # The same lock `next_free_slot` takes: no post joins the queue while it is reordered.
        await session.execute(select(Channel.id).where(Channel.id == channel.id).with_for_update())
    query = (
        select(Target, Post)
        .join(Post, Post.id == Target.post_id)
        .where(
            Target.channel_id == channel.id,
            Target.status.in_(QUEUED),
            Target.due_at > datetime.now(UTC),
            Post.schedule["queue"].as_boolean().is_(True),
        )
        .order_by(Target.due_at, Target.id)
    )
    if lock:
        query = query.with_for_update(of=[Target, Post])
    return [(row.Target, row.Post) for row in (await session.execute(query)).all()]


def queue_items(rows: list[tuple[Target, Post]]) -> list[QueueItem]:
    return [
        QueueItem(
            post_id=target.post_id,
            target_id=target.id,
            status=target.status,
            due_at=target.due_at,
            local_due_at=local_time(target.due_at, target.timezone) if target.timezone else None,
            timezone=target.timezone,
            text=target.text if target.text is not None else post.text,
        )
        for target, post in rows
        if target.due_at is not None
    ]


async def reorder(
    session: AsyncSession,
    *,
    channel: Channel,
    post_ids: list[UUID] | None,
    outbox: Outbox,
    rng: random.Random | None = None,
) -> list[QueueItem]:
    """Gives the queue's slot times to its posts in the order of `post_ids` (None: shuffled)."""
    rows = await queued_targets(session, channel=channel, lock=True)
    current = [target.post_id for target, _ in rows]
    if post_ids is None:
        order = list(current)
        (rng or random.SystemRandom()).shuffle(order)
    else:
        if len(set(post_ids)) != len(post_ids):
            raise ValidationFailed("Each post may appear once in the queue.", field="post_ids")
        if set(post_ids) != set(current):
            missing = [str(p) for p in current if p not in set(post_ids)]
            extra = [str(p) for p in post_ids if p not in set(current)]
            raise ValidationFailed(
                "Send exactly the posts in this channel's queue "
                f"(missing: {missing or 'none'}; not queued here: {extra or 'none'}).",
                field="post_ids",
                extra={"queue": [str(p) for p in current]},
            )
        order = post_ids
    times = [target.due_at for target, _ in rows]
    by_post = {target.post_id: (target, post) for target, post in rows}
    moved: dict[UUID, list[Target]] = {}
    now = datetime.now(UTC)
    for post_id, due_at in zip(order, times, strict=True):
        target, post = by_post[post_id]
        if target.due_at != due_at:
            target.due_at = due_at
            target.updated_at = now
            post.version += 1
            post.updated_at = now
            moved.setdefault(post_id, []).append(target)
    await session.flush()
    events = [
        Envelope.of(
            PostRescheduled(
                post_id=post_id,
                targets=[
                    TargetRef(
                        target_id=t.id, channel_id=t.channel_id, network=t.network, due_at=t.due_at
                    )
                    for t in targets
                ],
            ),
            workspace_id=channel.workspace_id,
        )
        for post_id, targets in moved.items()
    ]
    if events:
        await outbox.add(session, *events)
    return queue_items(await queued_targets(session, channel=channel))
