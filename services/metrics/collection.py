"""When each post's numbers are fetched, and the loop that asks the publisher for them.

A post gathers most of its engagement in its first hours, so collections are dense early and
sparse later. Each planned fetch is a row of `collections`; the loop claims due rows with
`FOR UPDATE SKIP LOCKED` (any number of replicas share the queue), groups them per channel into
one `metrics.collect` command each, and sends again what got no answer in time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import case, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import Channel, Collection, TrackedPost
from services.metrics.settings import MetricsSettings
from shared.db import unit_of_work
from shared.errors import NotFound
from shared.events import CollectItem, Envelope, MetricsCollect
from shared.loops import Loop
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)

COLLECT_CHANNEL = "metrics_collect"

COLLECTION_OFFSETS: tuple[timedelta, ...] = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=3),
    timedelta(days=7),
    timedelta(days=14),
    timedelta(days=30),
)

# Posts per `metrics.collect`: Bluesky's getPosts takes 25 at a time, the publisher pages
# below this, but one command per channel must stay a reasonable message.
POSTS_PER_COMMAND = 100


async def schedule_collections(
    session: AsyncSession, *, target_id: UUID, published_at: datetime
) -> None:
    await session.execute(
        Collection.__table__.insert(),
        [
            {
                "target_id": target_id,
                "due_at": published_at + offset,
                "offset_seconds": int(offset.total_seconds()),
            }
            for offset in COLLECTION_OFFSETS
        ],
    )


async def request_refresh(
    session: AsyncSession, *, workspace_id: UUID, post_id: UUID, now: datetime
) -> int:
    """Plans an immediate collection of every target of a post; returns how many."""
    targets = (
        await session.scalars(
            select(TrackedPost.target_id).where(
                TrackedPost.post_id == post_id, TrackedPost.workspace_id == workspace_id
            )
        )
    ).all()
    if not targets:
        raise NotFound(f"No published post {post_id} in this workspace.", field="post_id")
    await session.execute(
        Collection.__table__.insert(),
        [{"target_id": t, "due_at": now, "offset_seconds": None} for t in targets],
    )
    await session.execute(text(f"NOTIFY {COLLECT_CHANNEL}"))
    return len(targets)


async def requeue_unanswered(
    session: AsyncSession, *, now: datetime, patience: timedelta, max_attempts: int, batch: int
) -> tuple[int, int]:
    """Collections sent longer than `patience` ago without an answer go back to the queue,
    or are given up after `max_attempts`. Returns (requeued, failed)."""
    stale = (
        select(Collection.id)
        .where(Collection.status == "sent", Collection.sent_at < now - patience)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            update(Collection)
            .where(Collection.id.in_(stale))
            .values(
                status=case((Collection.attempts >= max_attempts, "failed"), else_="pending"),
                due_at=now,
            )
            .returning(Collection.status)
        )
    ).scalars().all()
    failed = sum(1 for s in rows if s == "failed")
    return len(rows) - failed, failed


async def send_due_collections(
    session: AsyncSession, *, outbox: Outbox, now: datetime, batch: int
) -> int:
    """Claims due collections and writes one `metrics.collect` per channel. Returns claimed."""
    rows = (
        await session.execute(
            select(
                Collection.id,
                TrackedPost.target_id,
                TrackedPost.post_id,
                TrackedPost.external_id,
                TrackedPost.channel_id,
                TrackedPost.network,
                TrackedPost.workspace_id,
            )
            .join(TrackedPost, TrackedPost.target_id == Collection.target_id)
            .where(Collection.status == "pending", Collection.due_at <= now)
            .order_by(Collection.due_at)
            .limit(batch)
            .with_for_update(of=Collection, skip_locked=True)
        )
    ).all()
    if not rows:
        return 0
    groups: dict[tuple[UUID, str, UUID], dict[UUID, CollectItem]] = defaultdict(dict)
    ids_by_group: dict[tuple[UUID, str, UUID], list[int]] = defaultdict(list)
    for row in rows:
        key = (row.channel_id, row.network, row.workspace_id)
        # Several steps of one post due together (after downtime) need one fetch, not many.
        groups[key][row.target_id] = CollectItem(
            post_id=row.post_id, target_id=row.target_id, external_id=row.external_id
        )
        ids_by_group[key].append(row.id)
    for key, items in groups.items():
        channel_id, network, workspace_id = key
        posts = list(items.values())
        request_ids = []
        for start in range(0, len(posts), POSTS_PER_COMMAND):
            envelope = Envelope.of(
                MetricsCollect(
                    channel_id=channel_id,
                    network=network,
                    posts=posts[start : start + POSTS_PER_COMMAND],
                ),
                workspace_id=workspace_id,
            )
            request_ids.append(envelope.id)
            await outbox.add(session, envelope)
        await session.execute(
            update(Collection)
            .where(Collection.id.in_(ids_by_group[key]))
            .values(
                status="sent",
                sent_at=now,
                attempts=Collection.attempts + 1,
                request_id=request_ids[0],
            )
        )
    return len(rows)


async def send_due_account_collections(
    session: AsyncSession, *, outbox: Outbox, now: datetime, batch: int, patience: timedelta
) -> int:
    """Asks for account numbers (followers) of channels whose daily fetch is due.

    The next attempt is planned `patience` ahead, so an unanswered request is repeated; the
    answer (`metrics.fetched` with account samples) moves it a full interval ahead.
    """
    channels = (
        await session.scalars(
            select(Channel)
            .where(Channel.account_due_at <= now, Channel.status != "disconnected")
            .order_by(Channel.account_due_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for channel in channels:
        await outbox.add(
            session,
            Envelope.of(
                MetricsCollect(
                    channel_id=channel.channel_id, network=channel.network, posts=[], account=True
                ),
                workspace_id=channel.workspace_id,
            ),
        )
        channel.account_due_at = now + patience
    await session.flush()
    return len(channels)


async def mark_answered(
    session: AsyncSession, *, target_ids: set[UUID], now: datetime
) -> None:
    if not target_ids:
        return
    await session.execute(
        update(Collection)
        .where(Collection.target_id.in_(target_ids), Collection.status == "sent")
        .values(status="done", answered_at=now)
    )


class CollectionLoop(Loop):
    """Requeues unanswered collections and sends due ones, in one transaction."""

    name = "collector"
    wake_on = COLLECT_CHANNEL

    def __init__(self, runtime: Runtime, settings: MetricsSettings) -> None:
        super().__init__(runtime, batch=settings.collect_batch, every=settings.collect_poll_seconds)
        self.settings = settings
        self.sent = runtime.metrics.counter(
            "herald_metrics_collections_sent_total", "Collections sent"
        )
        self.failed = runtime.metrics.counter(
            "herald_metrics_collections_failed_total",
            "Collections given up after every attempt went unanswered",
        )

    async def run_once(self, *, now: datetime) -> int:
        s = self.settings
        timeout = timedelta(seconds=s.collect_timeout_seconds)
        async with unit_of_work(self.runtime.sessions) as session:
            _, failed = await requeue_unanswered(
                session, now=now, patience=timeout, max_attempts=s.collect_max_attempts,
                batch=s.collect_batch,
            )
            claimed = await send_due_collections(
                session, outbox=self.runtime.outbox, now=now, batch=s.collect_batch
            )
            accounts = await send_due_account_collections(
                session, outbox=self.runtime.outbox, now=now, batch=s.collect_batch,
                patience=timeout,
            )
        if failed:
            log.warning("%d collections unanswered after %d attempts", failed,
                        s.collect_max_attempts)
            self.failed.inc(failed)
        self.sent.inc(claimed)
        return claimed + accounts

    async def step(self) -> int:
        return await self.run_once(now=self.clock())
