"""Storing what the publisher fetched: the raw time series, the latest values, the rollups.

Networks report running totals (a post's likes so far). Each sample also keeps its `delta`,
the growth since the subject's previous known value, because growth is what adds up over
hours, days, channels and campaigns; the rollups are sums of deltas, kept in the same
transaction as the samples so they always equal them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.collection import mark_answered
from services.metrics.models import (
    Channel,
    DailyRollup,
    HourlyRollup,
    LatestValue,
    Sample,
    TrackedPost,
)
from services.metrics.vocabulary import ACCOUNT_METRICS, common_name
from shared.events import MetricsFetched
from shared.events import Sample as FetchedSample

log = logging.getLogger(__name__)

SAMPLE_COLUMNS = (
    "workspace_id", "channel_id", "subject_id", "post_id", "network", "metric",
    "network_metric", "value", "delta", "collected_at",
)


@dataclass
class _Known:
    value: float | None
    collected_at: datetime
    network_metric: str


@dataclass
class IngestResult:
    stored: int
    unmatched: int


async def ingest_fetched(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    fetched: MetricsFetched,
    now: datetime,
    account_interval: timedelta,
) -> IngestResult:
    channel_id, network = fetched.channel_id, fetched.network
    external_ids = {s.external_id for s in fetched.samples if s.external_id}
    post_ids = {s.post_id for s in fetched.samples if s.post_id and not s.external_id}
    by_external: dict[str, TrackedPost] = {}
    by_post: dict[UUID, TrackedPost] = {}
    if external_ids or post_ids:
        targets = (
            await session.scalars(
                select(TrackedPost).where(
                    TrackedPost.channel_id == channel_id,
                    TrackedPost.workspace_id == workspace_id,
                    or_(
                        TrackedPost.external_id.in_(external_ids),
                        TrackedPost.post_id.in_(post_ids),
                    ),
                )
            )
        ).all()
        by_external = {t.external_id: t for t in targets}
        by_post = {t.post_id: t for t in targets}

    # (subject, post_id, common name, sample) in time order, so deltas chain correctly.
    resolved: list[tuple[UUID, UUID | None, str, FetchedSample]] = []
    unmatched = 0
    answered: set[UUID] = set()
    account_seen = False
    for sample in sorted(fetched.samples, key=lambda s: s.collected_at):
        metric = common_name(
            network=network, network_metric=sample.network_metric, metric=sample.metric
        )
        if sample.external_id or sample.post_id:
            if sample.external_id:
                target = by_external.get(sample.external_id)
            else:
                assert sample.post_id is not None
                target = by_post.get(sample.post_id)
            if target is None:
                unmatched += 1
                continue
            answered.add(target.target_id)
            resolved.append((target.target_id, target.post_id, metric, sample))
        else:
            account_seen = True
            resolved.append((channel_id, None, metric, sample))
    if unmatched:
        log.warning("%d samples for posts this service does not track (channel %s)",
                    unmatched, channel_id)

    subjects = {subject for subject, *_ in resolved}
    known: dict[tuple[UUID, str], _Known] = {}
    if subjects:
        # Locked so two deliveries for the same post cannot both compute growth from the same
        # previous value.
        rows = (
            await session.scalars(
                select(LatestValue)
                .where(LatestValue.subject_id.in_(subjects))
                .order_by(LatestValue.subject_id, LatestValue.metric)
                .with_for_update()
            )
        ).all()
        known = {
            (r.subject_id, r.metric): _Known(r.value, r.collected_at, r.network_metric)
            for r in rows
        }

    records = []
    hourly: dict[tuple[UUID, str, datetime], list[float]] = defaultdict(lambda: [0.0, 0, 0])
    daily: dict[tuple[UUID, str, datetime], list[float]] = defaultdict(lambda: [0.0, 0, 0])
    post_of: dict[UUID, UUID | None] = {}
    touched: dict[tuple[UUID, str], _Known] = {}
    for subject, post_id, metric, sample in resolved:
        value, at, network_metric = sample.value, sample.collected_at, sample.network_metric
        key = (subject, metric)
        prev = known.get(key)
        delta: float | None
        if value is None:
            delta = None
        elif prev is None or prev.value is None:
            # A post starts at zero, so its first figure is all growth; an account's first
            # follower count is a baseline, not followers gained.
            delta = None if (post_id is None and metric in ACCOUNT_METRICS) else value
        elif at <= prev.collected_at:
            delta = None  # older than what is known: kept in the series, growth already counted
        else:
            delta = value - prev.value
        if value is not None and (prev is None or prev.value is None or at > prev.collected_at):
            known[key] = touched[key] = _Known(value, at, network_metric)
        elif prev is None:
            known[key] = touched[key] = _Known(None, at, network_metric)
        records.append(
            (workspace_id, channel_id, subject, post_id, network, metric, network_metric,
             value, delta, at)
        )
        post_of[subject] = post_id
        hour = at.replace(minute=0, second=0, microsecond=0)
        day = hour.replace(hour=0)
        for bucket_key, store in (((subject, metric, hour), hourly), ((subject, metric, day),
                                                                       daily)):
            agg = store[bucket_key]
            agg[0] += delta or 0.0
            agg[1] += 1
            agg[2] += 1 if value is None else 0

    if records:
        await copy_samples(session, records=records)
        await _upsert_latest(session, workspace_id=workspace_id, channel_id=channel_id,
                             network=network, touched=touched, post_of=post_of)
        for model, store in ((HourlyRollup, hourly), (DailyRollup, daily)):
            await _add_rollups(session, model=model, store=store, workspace_id=workspace_id,
                               channel_id=channel_id, network=network, post_of=post_of)

    await mark_answered(session, target_ids=answered, now=now)
    changes: dict[str, object] = {}
    if account_seen:
        changes["account_due_at"] = now + account_interval
    if answered:
        changes["best_times_dirty"] = True
    if changes:
        await session.execute(
            update(Channel).where(Channel.channel_id == channel_id).values(**changes)
        )
    return IngestResult(stored=len(records), unmatched=unmatched)


async def copy_samples(session: AsyncSession, *, records: list[tuple[object, ...]]) -> None:
    """Appends samples with COPY on the session's own connection (same transaction)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(
        Sample.__tablename__,
        schema_name=Sample.__table__.schema,
        columns=SAMPLE_COLUMNS,
        records=records,
    )


async def _upsert_latest(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    channel_id: UUID,
    network: str,
    touched: dict[tuple[UUID, str], _Known],
    post_of: dict[UUID, UUID | None],
) -> None:
    if not touched:
        return
    rows = [
        {
            "subject_id": subject,
            "metric": metric,
            "workspace_id": workspace_id,
            "channel_id": channel_id,
            "post_id": post_of[subject],
            "network": network,
            "network_metric": k.network_metric,
            "value": k.value,
            "collected_at": k.collected_at,
        }
        for (subject, metric), k in sorted(touched.items(), key=lambda kv: (str(kv[0][0]),
                                                                              kv[0][1]))
    ]
    for chunk in _chunks(rows):
        stmt = pg_insert(LatestValue).values(chunk)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[LatestValue.subject_id, LatestValue.metric],
                set_={
                    "value": stmt.excluded.value,
                    "network_metric": stmt.excluded.network_metric,
                    "collected_at": stmt.excluded.collected_at,
                },
                where=LatestValue.collected_at <= stmt.excluded.collected_at,
            )
        )


async def _add_rollups(
    session: AsyncSession,
    *,
    model: type[HourlyRollup] | type[DailyRollup],
    store: dict[tuple[UUID, str, datetime], list[float]],
    workspace_id: UUID,
    channel_id: UUID,
    network: str,
    post_of: dict[UUID, UUID | None],
) -> None:
    rows = [
        {
            "subject_id": subject,
            "metric": metric,
            "bucket": bucket,
            "workspace_id": workspace_id,
            "channel_id": channel_id,
            "post_id": post_of[subject],
            "network": network,
            "total": agg[0],
            "samples": int(agg[1]),
            "missing": int(agg[2]),
        }
        # A fixed order keeps concurrent upserts of overlapping rows from deadlocking.
        for (subject, metric, bucket), agg in sorted(store.items(),
                                                      key=lambda kv: (str(kv[0][0]), kv[0][1],
                                                                      kv[0][2]))
    ]
    table = model.__table__
    for chunk in _chunks(rows):
        stmt = pg_insert(model).values(chunk)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[table.c.subject_id, table.c.metric, table.c.bucket],
                set_={
                    "total": table.c.total + stmt.excluded.total,
                    "samples": table.c.samples + stmt.excluded.samples,
                    "missing": table.c.missing + stmt.excluded.missing,
                },
            )
        )


def _chunks(rows: list[dict[str, object]], size: int = 2000) -> list[list[dict[str, object]]]:
    # PostgreSQL takes at most 32767 parameters per statement; a row here has about ten.
    return [rows[i : i + size] for i in range(0, len(rows), size)]
