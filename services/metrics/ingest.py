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
from typing import Any
from uuid import UUID

from sqlalchemy import or_, select, update
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
    driver = await _driver(session)
    if subjects:
        # Locked so two deliveries for the same post cannot both compute growth from the same
        # previous value.
        rows = await driver.fetch(
            f"SELECT subject_id, metric, value, collected_at, network_metric FROM {_LATEST} "
            "WHERE subject_id = ANY($1::uuid[]) ORDER BY subject_id, metric FOR UPDATE",
            list(subjects),
        )
        known = {(r[0], r[1]): _Known(r[2], r[3], r[4]) for r in rows}

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
        await driver.copy_records_to_table(
            Sample.__tablename__, schema_name=Sample.__table__.schema, columns=SAMPLE_COLUMNS,
            records=records,
        )
        await _upsert_latest(driver, workspace_id=workspace_id, channel_id=channel_id,
                             network=network, touched=touched, post_of=post_of)
        for model, store in ((HourlyRollup, hourly), (DailyRollup, daily)):
            await _add_rollups(driver, model=model, store=store, workspace_id=workspace_id,
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


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session (same transaction).

    The bulk writes below go straight to it: compiling a multi-row INSERT through SQLAlchemy
    costs more than PostgreSQL takes to run it, and `unnest` arrays send each column once.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    return driver


async def copy_samples(session: AsyncSession, *, records: list[tuple[object, ...]]) -> None:
    """Appends samples with COPY on the session's own connection (same transaction)."""
    driver = await _driver(session)
    await driver.copy_records_to_table(
        Sample.__tablename__,
        schema_name=Sample.__table__.schema,
        columns=SAMPLE_COLUMNS,
        records=records,
    )


def _table(model: type[Any]) -> str:
    return f"{model.__table__.schema}.{model.__tablename__}"


_LATEST = _table(LatestValue)

_UPSERT_LATEST = f"""
INSERT INTO {_LATEST} AS lv
    (subject_id, metric, workspace_id, channel_id, post_id, network, network_metric, value,
     collected_at)
SELECT s, m, $3::uuid, $4::uuid, p, $5::text, nm, v, at
FROM unnest($1::uuid[], $2::text[], $6::uuid[], $7::text[], $8::float8[], $9::timestamptz[])
    AS t(s, m, p, nm, v, at)
ON CONFLICT (subject_id, metric) DO UPDATE
SET value = excluded.value, network_metric = excluded.network_metric,
    collected_at = excluded.collected_at
WHERE lv.collected_at <= excluded.collected_at
"""


async def _upsert_latest(
    driver: Any,
    *,
    workspace_id: UUID,
    channel_id: UUID,
    network: str,
    touched: dict[tuple[UUID, str], _Known],
    post_of: dict[UUID, UUID | None],
) -> None:
    if not touched:
        return
    # A fixed order keeps concurrent upserts of overlapping rows from deadlocking.
    ordered = sorted(touched.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    await driver.execute(
        _UPSERT_LATEST,
        [subject for (subject, _), _ in ordered],
        [metric for (_, metric), _ in ordered],
        workspace_id,
        channel_id,
        network,
        [post_of[subject] for (subject, _), _ in ordered],
        [k.network_metric for _, k in ordered],
        [k.value for _, k in ordered],
        [k.collected_at for _, k in ordered],
    )


def _rollup_upsert(model: type[HourlyRollup] | type[DailyRollup]) -> str:
    return f"""
INSERT INTO {_table(model)} AS r
    (subject_id, metric, bucket, workspace_id, channel_id, post_id, network, total, samples,
     missing)
SELECT s, m, b, $4::uuid, $5::uuid, p, $6::text, t, n, x
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $7::uuid[], $8::float8[], $9::int4[],
            $10::int4[]) AS u(s, m, b, p, t, n, x)
ON CONFLICT (subject_id, metric, bucket) DO UPDATE
SET total = r.total + excluded.total, samples = r.samples + excluded.samples,
    missing = r.missing + excluded.missing
"""


_ROLLUP_UPSERTS = {model: _rollup_upsert(model) for model in (HourlyRollup, DailyRollup)}


async def _add_rollups(
    driver: Any,
    *,
    model: type[HourlyRollup] | type[DailyRollup],
    store: dict[tuple[UUID, str, datetime], list[float]],
    workspace_id: UUID,
    channel_id: UUID,
    network: str,
    post_of: dict[UUID, UUID | None],
) -> None:
    if not store:
        return
    # A fixed order keeps concurrent upserts of overlapping rows from deadlocking.
    ordered = sorted(store.items(), key=lambda kv: kv[0])
    await driver.execute(
        _ROLLUP_UPSERTS[model],
        [k[0] for k, _ in ordered],
        [k[1] for k, _ in ordered],
        [k[2] for k, _ in ordered],
        workspace_id,
        channel_id,
        network,
        [post_of[k[0]] for k, _ in ordered],
        [agg[0] for _, agg in ordered],
        [int(agg[1]) for _, agg in ordered],
        [int(agg[2]) for _, agg in ordered],
    )
