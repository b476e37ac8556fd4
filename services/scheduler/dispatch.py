"""The dispatcher: says `post.due` the moment a target is due, once, whatever the replicas."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from prometheus_client import Counter, Histogram
from sqlalchemy import insert, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.campaigns import apply_utm
from services.scheduler.freezes import held_condition
from services.scheduler.media import MediaLinks
from services.scheduler.models import Target, Transition
from services.scheduler.planning import refs
from services.scheduler.posts import summarize
from services.scheduler.recurrence import extend, is_recurring
from shared.events import Envelope, MediaItem, PostDue, PostMissed, PostScheduled
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


# The claim, in one statement: the due rows (and their posts) locked with SKIP LOCKED, marked
# `publishing` (or `missed` when found later than the workspace's threshold) and returned with
# the post's base copy. Posts are locked here too, with SKIP LOCKED: a post being edited right
# now is passed over until the edit commits (the edit then sees its targets claimed, or the
# next look claims them), and the dispatcher never waits on a lock, so it cannot deadlock with
# an edit or a publishing outcome that locks the post first. "Now" is the database's `now()`,
# not a replica's clock: every replica then agrees on what is due and what is missed.
CLAIM_SQL = text(
    """
    WITH due AS MATERIALIZED (
        SELECT t.id, p.text AS post_text, p.media AS post_media, p.schedule AS post_schedule,
               c.utm AS campaign_utm,
               now() - t.due_at
                   > coalesce(ws.missed_after_seconds, :default_missed) * interval '1 second'
                   AS missed,
               t.due_at + coalesce(ws.missed_after_seconds, :default_missed)
                   * interval '1 second' AS retry_until
        FROM scheduler.targets t
        JOIN scheduler.posts p ON p.id = t.post_id
        LEFT JOIN scheduler.workspace_settings ws ON ws.workspace_id = t.workspace_id
        LEFT JOIN scheduler.campaigns c ON c.id = p.campaign_id
        WHERE t.status = 'scheduled' AND t.due_at <= now()
          -- A frozen queue (services/scheduler/freezes.py) holds its targets.
          AND NOT EXISTS (
              SELECT 1 FROM scheduler.queue_freezes f
              WHERE f.workspace_id = t.workspace_id AND f.resumed_at IS NULL
                AND (f.channel_id IS NULL OR f.channel_id = t.channel_id))
        ORDER BY t.due_at
        LIMIT :batch
        FOR UPDATE OF t, p SKIP LOCKED
    )
    UPDATE scheduler.targets t
    SET status = CASE WHEN due.missed THEN 'missed' ELSE 'publishing' END,
        claimed_at = CASE WHEN due.missed THEN t.claimed_at ELSE now() END,
        error = CASE
            WHEN due.missed
            THEN 'Not published: found ' || justify_interval(now() - t.due_at)::text
                 || ' after its due time.'
            ELSE t.error
        END,
        updated_at = now()
    FROM due
    WHERE t.id = due.id
    RETURNING t.id, t.post_id, t.workspace_id, t.channel_id, t.network, t.position, t.text,
              t.media, t.options, t.status, t.due_at, t.timezone, due.post_text,
              due.post_media, due.post_schedule, due.campaign_utm, due.retry_until,
              now() AS now
    """
).columns(media=JSONB, options=JSONB, post_media=JSONB, post_schedule=JSONB, campaign_utm=JSONB)


async def claim_due(
    session: AsyncSession,
    *,
    outbox: Outbox,
    batch: int,
    default_missed_after: int,
    metrics: DispatchMetrics | None = None,
    recurrence_horizon: timedelta = timedelta(days=60),
    media_links: MediaLinks | None = None,
) -> int:
    """Claims up to `batch` due targets and writes their `post.due` in the same transaction.

    `FOR UPDATE SKIP LOCKED` lets any number of dispatchers run side by side: each takes rows
    no other holds, and a claimed row leaves `scheduled` before the lock is released, so it is
    never taken twice. A target due longer ago than its workspace's threshold (downtime)
    becomes `missed` instead of going out hours late.

    A batch costs a fixed handful of statements whatever its size (claim, post summaries,
    transitions of missed targets, outbox): per-row round trips were what made a burst of
    due targets late.
    """
    rows = (
        await session.execute(CLAIM_SQL, {"batch": batch, "default_missed": default_missed_after})
    ).all()
    if not rows:
        return 0
    now: datetime = rows[0].now
    envelopes: list[Envelope] = []
    post_workspace: dict[UUID, UUID] = {}
    # A claimed occurrence of a recurring post makes room for the next ones (per channel).
    series: dict[UUID, dict[UUID, tuple[UUID, dict[str, Any]]]] = defaultdict(dict)
    for row in rows:
        post_workspace[row.post_id] = row.workspace_id
        if is_recurring(row.post_schedule):
            series[row.post_id][row.channel_id] = (row.id, row.post_schedule)
        late = (now - row.due_at).total_seconds()
        if row.status == "missed":
            envelopes.append(_missed(row, late))
            if metrics:
                metrics.missed.inc()
            continue
        envelopes.append(_due(row, media_links))
        if metrics:
            metrics.lateness.observe(max(late, 0.0))
            metrics.dispatched.inc()
    await _record_missed(session, [row for row in rows if row.status == "missed"])
    # The posts are locked by the claim, so two replicas claiming occurrences of the same
    # series cannot both add the next one.
    for post_id, templates in series.items():
        added = await _extend_series(
            session, templates=templates, now=now, horizon=recurrence_horizon
        )
        if added:
            envelopes.append(
                Envelope.of(
                    PostScheduled(post_id=post_id, targets=refs(added)),
                    workspace_id=post_workspace[post_id],
                )
            )
    await _refresh_posts(session, post_ids=sorted(post_workspace))
    await outbox.add(session, *envelopes)
    return len(rows)


def _missed(row: Any, late: float) -> Envelope:
    return Envelope.of(
        PostMissed(
            post_id=row.post_id,
            target_id=row.id,
            channel_id=row.channel_id,
            due_at=row.due_at,
            late_by_seconds=late,
        ),
        workspace_id=row.workspace_id,
    )


def _due(row: Any, media_links: MediaLinks | None) -> Envelope:
    media = row.media if row.media is not None else (row.post_media or [])
    return Envelope.of(
        PostDue(
            post_id=row.post_id,
            target_id=row.id,
            channel_id=row.channel_id,
            network=row.network,
            # The campaign's UTM parameters go on the links as the post goes out.
            text=apply_utm(row.text if row.text is not None else row.post_text, row.campaign_utm),
            media=[
                MediaItem.model_validate(
                    media_links.for_network(item, row.network, row.options or {})
                    if media_links is not None
                    else item
                )
                for item in media
            ],
            options=row.options or {},
            due_at=row.due_at,
            retry_until=row.retry_until,
        ),
        workspace_id=row.workspace_id,
    )


async def _record_missed(session: AsyncSession, missed: list[Any]) -> None:
    if not missed:
        return
    await session.execute(
        insert(Transition),
        [
            {
                "post_id": row.post_id,
                "target_id": row.id,
                "from_status": "scheduled",
                "to_status": "missed",
                "by": "dispatcher",
            }
            for row in missed
        ],
    )


async def _extend_series(
    session: AsyncSession,
    *,
    templates: dict[UUID, tuple[UUID, dict[str, Any]]],
    now: datetime,
    horizon: timedelta,
) -> list[Target]:
    """The next occurrences of a series, per channel, after the ones just claimed."""
    added: list[Target] = []
    for target_id, schedule in templates.values():
        template = await session.get(Target, target_id)
        assert template is not None
        added += await extend(
            session, template=template, schedule=schedule, now=now, horizon=horizon
        )
    if added:
        await session.flush()
    return added


async def _refresh_posts(session: AsyncSession, *, post_ids: list[UUID]) -> None:
    """Each post's summary status from its targets', and a new version (an edit based on the
    version before the claim must get its 409), in two statements for the whole batch."""
    found = (
        await session.execute(
            text(
                "SELECT post_id, array_agg(DISTINCT status) FROM scheduler.targets "
                "WHERE post_id = ANY(CAST(:ids AS uuid[])) GROUP BY post_id"
            ),
            {"ids": post_ids},
        )
    ).all()
    if not found:
        return
    await session.execute(
        text(
            """
            UPDATE scheduler.posts p
            SET status = v.status, version = p.version + 1, updated_at = now()
            FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[])) AS v(id, status)
            WHERE p.id = v.id
            """
        ),
        {
            "ids": [post_id for post_id, _ in found],
            "statuses": [summarize(statuses) for _, statuses in found],
        },
    )


async def next_due(session: AsyncSession) -> datetime | None:
    """The next due time the dispatcher can act on: targets held by a freeze do not count
    (they would wake it over and over); resuming wakes it with a NOTIFY."""
    return await session.scalar(
        text(
            # ORDER BY … LIMIT 1 walks the due index and stops at the first target not held;
            # min() over an anti-join would read every scheduled target.
            "SELECT t.due_at FROM scheduler.targets t WHERE t.status = 'scheduled' "
            f"AND NOT {held_condition()} ORDER BY t.due_at LIMIT 1"
        )
    )
