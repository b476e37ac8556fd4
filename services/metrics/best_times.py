"""Best time to post: which hours of the week a channel's audience answers.

Each post scores the engagement rate it earned (engagements / views; plain engagements on
networks that report no views), filed under the weekday and hour it went out in the
channel's own timezone. A cell's score is its posts' mean shrunk towards the channel's mean
(`prior_posts` imaginary posts at the mean), so one lucky post cannot crown an hour; the
sample size of every cell is shown next to its score.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import BestTimes, Channel, LatestValue, TrackedPost
from services.metrics.settings import MetricsSettings
from services.metrics.vocabulary import ENGAGEMENT_METRICS
from shared.db import unit_of_work
from shared.errors import NotFound
from shared.events import BestSlot, BestTimesUpdated, Envelope
from shared.loops import Loop
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown timezone %r; using UTC", name)
        return ZoneInfo("UTC")


def best_times_query(channel_id: UUID) -> Select[Any]:
    """Each post target of the channel: when it went out, its engagements and its views."""
    engagements = func.sum(LatestValue.value).filter(LatestValue.metric.in_(ENGAGEMENT_METRICS))
    views = func.max(LatestValue.value).filter(LatestValue.metric == "views")
    return (
        select(TrackedPost.published_at, engagements.label("engagements"), views.label("views"))
        .join(LatestValue, LatestValue.subject_id == TrackedPost.target_id)
        .where(TrackedPost.channel_id == channel_id)
        .group_by(TrackedPost.target_id, TrackedPost.published_at)
    )


async def compute_best_times(
    session: AsyncSession,
    *,
    channel_id: UUID,
    prior_posts: float,
    slot_count: int,
    now: datetime,
) -> dict[str, Any]:
    channel = await session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"No channel {channel_id}.", field="channel_id")
    zone = _zone(channel.timezone)
    rows = (await session.execute(best_times_query(channel_id))).all()
    rated = [r for r in rows if r.views and r.engagements is not None]
    if rated:
        basis = "engagement_rate"
        scored = [(r.published_at, float(r.engagements) / float(r.views)) for r in rated]
    else:
        basis = "engagements"
        scored = [(r.published_at, float(r.engagements)) for r in rows if r.engagements is not None]
    sums = [[0.0] * 24 for _ in range(7)]
    counts = [[0] * 24 for _ in range(7)]
    for published_at, value in scored:
        local = published_at.astimezone(zone)
        sums[local.weekday()][local.hour] += value
        counts[local.weekday()][local.hour] += 1
    mean = sum(v for _, v in scored) / len(scored) if scored else None
    grid = []
    for day in range(7):
        row = []
        for hour in range(24):
            n = counts[day][hour]
            if mean is None:
                score = 0.0
            else:
                score = (sums[day][hour] + prior_posts * mean) / (n + prior_posts)
            row.append(
                {
                    "weekday": day,
                    "hour": hour,
                    "score": score,
                    "rate": sums[day][hour] / n if n else None,
                    "posts": n,
                }
            )
        grid.append(row)
    # Only hours that were actually tried can be recommended.
    tried = sorted(
        (c for row in grid for c in row if c["posts"]),
        key=lambda c: (-c["score"], c["weekday"], c["hour"]),
    )
    slots = [
        {"weekday": c["weekday"], "hour": c["hour"], "score": c["score"], "posts": c["posts"]}
        for c in tried[:slot_count]
    ]
    return {
        "channel_id": channel_id,
        "workspace_id": channel.workspace_id,
        "timezone": str(zone.key),
        "basis": basis,
        "channel_mean": mean,
        "posts": len(scored),
        "prior_posts": prior_posts,
        "slot_count": slot_count,
        "grid": grid,
        "slots": slots,
        "computed_at": now,
    }


async def publish_best_times(
    session: AsyncSession, *, outbox: Outbox, report: dict[str, Any]
) -> None:
    """Keeps the grid and tells the scheduler (`best_times.updated`)."""
    values = {
        "workspace_id": report["workspace_id"],
        "timezone": report["timezone"],
        "grid": {
            "basis": report["basis"],
            "channel_mean": report["channel_mean"],
            "posts": report["posts"],
            "prior_posts": report["prior_posts"],
            "slot_count": report["slot_count"],
            "cells": [[[c["score"], c["posts"], c["rate"]] for c in row] for row in report["grid"]],
        },
        "slots": report["slots"],
        "computed_at": report["computed_at"],
    }
    await session.execute(
        pg_insert(BestTimes)
        .values(channel_id=report["channel_id"], **values)
        .on_conflict_do_update(index_elements=[BestTimes.channel_id], set_=values)
    )
    await outbox.add(
        session,
        Envelope.of(
            BestTimesUpdated(
                channel_id=report["channel_id"],
                timezone=report["timezone"],
                slots=[
                    BestSlot(weekday=s["weekday"], hour=s["hour"], score=s["score"])
                    for s in report["slots"]
                ],
            ),
            workspace_id=report["workspace_id"],
        ),
    )


def stored_grid_query(channel_id: UUID) -> Select[Any]:
    """The channel's owner and state with its kept grid, if any: one round trip."""
    return (
        select(Channel.workspace_id, Channel.best_times_dirty, Channel.timezone, BestTimes)
        .outerjoin(BestTimes, BestTimes.channel_id == Channel.channel_id)
        .where(Channel.channel_id == channel_id)
    )


async def current_best_times(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    channel_id: UUID,
    prior_posts: float,
    slot_count: int,
    now: datetime,
) -> dict[str, Any]:
    """The channel's grid as the loop last stored it, while it is still current.

    It is current when no numbers arrived since (the channel is not dirty) and it was drawn
    in the channel's zone with the same prior; otherwise it is computed now. Reading the kept
    grid is one primary-key lookup instead of a pass over every post of the channel.
    """
    row = (await session.execute(stored_grid_query(channel_id))).first()
    if row is None or row.workspace_id != workspace_id:
        # Another workspace's channel is reported exactly like a channel that does not exist.
        raise NotFound(f"No channel {channel_id} in this workspace.", field="channel_id")
    if row.BestTimes is not None:
        stored: BestTimes = row.BestTimes
        grid = stored.grid
        cells = grid.get("cells")
        if (
            not row.best_times_dirty
            and stored.timezone == str(_zone(row.timezone).key)
            and grid.get("prior_posts") == prior_posts
            and cells
            and grid.get("slot_count") == slot_count
        ):
            return {
                "channel_id": channel_id,
                "workspace_id": stored.workspace_id,
                "timezone": stored.timezone,
                "basis": grid["basis"],
                "channel_mean": grid["channel_mean"],
                "posts": grid["posts"],
                "prior_posts": prior_posts,
                "slot_count": slot_count,
                "grid": [
                    [
                        {"weekday": day, "hour": hour, "score": c[0], "posts": c[1], "rate": c[2]}
                        for hour, c in enumerate(cells_row)
                    ]
                    for day, cells_row in enumerate(cells)
                ],
                "slots": stored.slots,
                "computed_at": stored.computed_at,
            }
    return await compute_best_times(
        session, channel_id=channel_id, prior_posts=prior_posts, slot_count=slot_count, now=now
    )


class BestTimesLoop(Loop):
    """Recomputes the channels whose numbers changed since their last grid."""

    name = "best-times"

    def __init__(self, runtime: Runtime, settings: MetricsSettings) -> None:
        super().__init__(runtime, batch=50, every=settings.best_times_interval_seconds)
        self.settings = settings

    async def run_once(self, *, now: datetime, batch: int = 50) -> int:
        async with unit_of_work(self.runtime.sessions) as session:
            channels = (
                await session.scalars(
                    select(Channel)
                    .where(Channel.best_times_dirty.is_(True))
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for channel in channels:
                report = await compute_best_times(
                    session,
                    channel_id=channel.channel_id,
                    prior_posts=self.settings.best_times_prior_posts,
                    slot_count=self.settings.best_times_slots,
                    now=now,
                )
                if report["posts"]:
                    await publish_best_times(session, outbox=self.runtime.outbox, report=report)
                channel.best_times_dirty = False
            await session.flush()
        return len(channels)

    async def step(self) -> int:
        return await self.run_once(now=self.clock(), batch=self.batch)
