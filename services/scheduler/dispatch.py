"""The dispatcher: says `post.due` the moment a target is due, once, whatever the replicas."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from prometheus_client import Counter, Histogram
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Post, Target, WorkspaceSettings
from services.scheduler.posts import DUE_CHANNEL, record_transition, summarize
from services.scheduler.recurrence import extend, is_recurring
from shared.db import unit_of_work
from shared.events import Envelope, MediaItem, PostDue, PostMissed, PostScheduled, TargetRef
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)

# Lateness of a healthy dispatcher is sub-second; the long tail is downtime.
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)


@dataclass
class DispatchMetrics:
    lateness: Histogram
    dispatched: Counter
    missed: Counter

    @classmethod
    def register(cls, runtime: Runtime) -> DispatchMetrics:
        registry = runtime.metrics.registry
        return cls(
            lateness=Histogram(
                "herald_scheduler_dispatch_lateness_seconds",
                "Seconds from a target's due time to its post.due being written",
                registry=registry,
                buckets=LATENESS_BUCKETS,
            ),
            dispatched=Counter(
                "herald_scheduler_dispatched_total",
                "Targets handed to the publisher",
                registry=registry,
            ),
            missed=Counter(
                "herald_scheduler_missed_total",
                "Targets found too late to publish (marked missed)",
                registry=registry,
            ),
        )


async def _missed_thresholds(
    session: AsyncSession, *, workspace_ids: set[UUID], default_seconds: int
) -> dict[UUID, timedelta]:
    rows = (
        await session.execute(
            select(WorkspaceSettings.workspace_id, WorkspaceSettings.missed_after_seconds).where(
                WorkspaceSettings.workspace_id.in_(workspace_ids)
            )
        )
    ).all()
    found = {row.workspace_id: timedelta(seconds=row.missed_after_seconds) for row in rows}
    return defaultdict(lambda: timedelta(seconds=default_seconds), found)


async def claim_due(
    session: AsyncSession,
    *,
    outbox: Outbox,
    batch: int,
    default_missed_after: int,
    metrics: DispatchMetrics | None = None,
    recurrence_horizon: timedelta = timedelta(days=60),
) -> int:
    """Claims up to `batch` due targets and writes their `post.due` in the same transaction.

    `FOR UPDATE SKIP LOCKED` lets any number of dispatchers run side by side: each takes rows
    no other holds, and a claimed row leaves `scheduled` before the lock is released, so it is
    never taken twice. A target due longer ago than its workspace's threshold (downtime)
    becomes `missed` instead of going out hours late.
    """
    now: datetime = await session.scalar(select(func.now()))
    rows = (
        await session.execute(
            select(Target, Post.text, Post.media, Post.schedule)
            .join(Post, Post.id == Target.post_id)
            .where(Target.status == "scheduled", Target.due_at <= now)
            .order_by(Target.due_at)
            .limit(batch)
            .with_for_update(of=Target, skip_locked=True)
        )
    ).all()
    if not rows:
        return 0
    thresholds = await _missed_thresholds(
        session,
        workspace_ids={row.Target.workspace_id for row in rows},
        default_seconds=default_missed_after,
    )
    envelopes: list[Envelope] = []
    touched_posts: set[UUID] = set()
    # A claimed occurrence of a recurring post makes room for the next ones (per channel).
    series: dict[UUID, dict[UUID, tuple[Target, dict[str, Any]]]] = defaultdict(dict)
    for row in rows:
        target: Target = row.Target
        if is_recurring(row.schedule):
            series[target.post_id][target.channel_id] = (target, row.schedule)
        assert target.due_at is not None
        late = now - target.due_at
        touched_posts.add(target.post_id)
        if late > thresholds[target.workspace_id]:
            target.status = "missed"
            target.error = f"Not published: found {late} after its due time."
            record_transition(
                session,
                post_id=target.post_id,
                target_id=target.id,
                from_status="scheduled",
                to_status="missed",
                by="dispatcher",
            )
            envelopes.append(
                Envelope.of(
                    PostMissed(
                        post_id=target.post_id,
                        target_id=target.id,
                        channel_id=target.channel_id,
                        due_at=target.due_at,
                        late_by_seconds=late.total_seconds(),
                    ),
                    workspace_id=target.workspace_id,
                )
            )
            if metrics:
                metrics.missed.inc()
            continue
        target.status = "publishing"
        target.claimed_at = now
        media = target.media if target.media is not None else (row.media or [])
        envelopes.append(
            Envelope.of(
                PostDue(
                    post_id=target.post_id,
                    target_id=target.id,
                    channel_id=target.channel_id,
                    network=target.network,
                    text=target.text if target.text is not None else row.text,
                    media=[MediaItem.model_validate(item) for item in media],
                    options=target.options or {},
                    due_at=target.due_at,
                ),
                workspace_id=target.workspace_id,
            )
        )
        if metrics:
            metrics.lateness.observe(max(late.total_seconds(), 0.0))
            metrics.dispatched.inc()
    await session.flush()
    # Always in the same order, so two replicas touching the same posts cannot deadlock.
    for post_id in sorted(touched_posts):
        post = await session.get(Post, post_id, with_for_update=True)
        if post is None:
            continue
        # Under the post's lock, so two replicas claiming occurrences of the same series
        # cannot both add the next one.
        added: list[Target] = []
        for template, schedule in series.get(post_id, {}).values():
            added += await extend(
                session, template=template, schedule=schedule, now=now, horizon=recurrence_horizon
            )
        if added:
            await session.flush()
            envelopes.append(
                Envelope.of(
                    PostScheduled(
                        post_id=post_id,
                        targets=[
                            TargetRef(
                                target_id=t.id,
                                channel_id=t.channel_id,
                                network=t.network,
                                due_at=t.due_at,
                            )
                            for t in added
                        ],
                    ),
                    workspace_id=post.workspace_id,
                )
            )
        statuses = (
            await session.scalars(select(Target.status).where(Target.post_id == post_id))
        ).all()
        post.status = summarize(statuses)
        post.version += 1
    await outbox.add(session, *envelopes)
    return len(rows)


async def next_due(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.min(Target.due_at)).where(Target.status == "scheduled"))


def dispatcher(
    runtime: Runtime,
    *,
    batch: int,
    max_sleep: float,
    default_missed_after: int,
    recurrence_horizon: timedelta = timedelta(days=60),
) -> DispatcherLoop:
    return DispatcherLoop(
        runtime=runtime,
        batch=batch,
        max_sleep=max_sleep,
        default_missed_after=default_missed_after,
        metrics=DispatchMetrics.register(runtime),
        recurrence_horizon=recurrence_horizon,
    )


@dataclass
class DispatcherLoop:
    runtime: Runtime
    batch: int
    max_sleep: float
    default_missed_after: int
    metrics: DispatchMetrics
    recurrence_horizon: timedelta = timedelta(days=60)

    async def drain(self) -> int:
        """Claims batches until nothing is due; returns how many targets were handled."""
        total = 0
        while True:
            async with unit_of_work(self.runtime.sessions) as session:
                n = await claim_due(
                    session,
                    outbox=self.runtime.outbox,
                    batch=self.batch,
                    default_missed_after=self.default_missed_after,
                    metrics=self.metrics,
                    recurrence_horizon=self.recurrence_horizon,
                )
            total += n
            if n < self.batch:
                return total

    async def seconds_to_next(self) -> float:
        async with self.runtime.sessions() as session:
            due = await next_due(session)
            now: datetime = await session.scalar(select(func.now()))
        if due is None:
            return self.max_sleep
        return min(max((due - now).total_seconds(), 0.0), self.max_sleep)

    async def run(self) -> None:
        while True:
            await self.drain()
            # A NOTIFY (something due sooner was just scheduled) cuts the sleep short. The
            # floor covers rows due now but still locked by another replica's claim: they are
            # about to leave `scheduled`, so look again shortly instead of spinning.
            wait = await self.seconds_to_next()
            await self.runtime.notifier.wait(DUE_CHANNEL, max(wait, 0.02))
