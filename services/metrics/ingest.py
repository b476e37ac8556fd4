"""Storing what the publisher fetched: the raw time series, the latest values, the rollups.

Networks report running totals (a post's likes so far). Each sample also keeps its `delta`,
the growth since the subject's previous known value, because growth is what adds up over
hours, days, channels and campaigns; the rollups are sums of deltas, written by the same
statement as the samples (they are computed from the very rows inserted), so they always
equal them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import (
    Channel,
    ChannelDailyRollup,
    ChannelHourlyRollup,
    Collection,
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
    "workspace_id",
    "channel_id",
    "subject_id",
    "post_id",
    "network",
    "metric",
    "network_metric",
    "value",
    "delta",
    "collected_at",
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


# (subject, post_id, common name, sample): a sample matched to what it measures.
Resolved = tuple[UUID, UUID | None, str, FetchedSample]


@dataclass
class _Matched:
    """The samples matched to their subjects, in time order so deltas chain correctly."""

    samples: list[Resolved] = field(default_factory=list)
    unmatched: int = 0
    # The tracked posts (target ids) that got an answer, and whether the account did.
    answered: set[UUID] = field(default_factory=set)
    account_seen: bool = False


@dataclass
class _Rows:
    """One entry per sample, in time order: what the single write statement stores."""

    subjects: list[UUID] = field(default_factory=list)
    posts: list[UUID | None] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    deltas: list[float | None] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    post_of: dict[UUID, UUID | None] = field(default_factory=dict)
    # The latest values that changed.
    touched: dict[tuple[UUID, str], _Known] = field(default_factory=dict)


async def ingest_fetched(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    fetched: MetricsFetched,
    now: datetime,
    account_interval: timedelta,
) -> IngestResult:
    channel_id, network = fetched.channel_id, fetched.network
    driver = await _driver(session)
    matched = await _match(driver, workspace_id=workspace_id, fetched=fetched)
    if matched.unmatched:
        log.warning(
            "%d samples for posts this service does not track (channel %s)",
            matched.unmatched,
            channel_id,
        )
    known = await _lock_latest(driver, {subject for subject, *_ in matched.samples})
    rows = _rows(matched.samples, known)
    # A fixed order of the latest rows keeps concurrent upserts from deadlocking.
    latest = sorted(rows.touched.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    await driver.execute(
        _WRITE,
        workspace_id,
        channel_id,
        network,
        rows.subjects,
        rows.posts,
        rows.metrics,
        rows.names,
        rows.values,
        rows.deltas,
        rows.times,
        [subject for (subject, _), _ in latest],
        [metric for (_, metric), _ in latest],
        [rows.post_of[subject] for (subject, _), _ in latest],
        [k.network_metric for _, k in latest],
        [k.value for _, k in latest],
        [k.collected_at for _, k in latest],
        sorted(matched.answered),
        now,
        now + account_interval if matched.account_seen else None,
        bool(matched.answered),
    )
    return IngestResult(stored=len(rows.subjects), unmatched=matched.unmatched)


async def _tracked_targets(
    driver: Any, *, workspace_id: UUID, fetched: MetricsFetched
) -> tuple[dict[str, tuple[UUID, UUID]], dict[UUID, tuple[UUID, UUID]]]:
    """(target_id, post_id) of each tracked post the samples name, by external id and by
    post id."""
    external_ids = {s.external_id for s in fetched.samples if s.external_id}
    post_ids = {s.post_id for s in fetched.samples if s.post_id and not s.external_id}
    if not external_ids and not post_ids:
        return {}, {}
    targets = await driver.fetch(
        f"SELECT target_id, post_id, external_id FROM {_table(TrackedPost)} "
        "WHERE channel_id = $1 AND workspace_id = $2 "
        "AND (external_id = ANY($3::text[]) OR post_id = ANY($4::uuid[]))",
        fetched.channel_id,
        workspace_id,
        list(external_ids),
        list(post_ids),
    )
    return {t[2]: (t[0], t[1]) for t in targets}, {t[1]: (t[0], t[1]) for t in targets}


async def _match(driver: Any, *, workspace_id: UUID, fetched: MetricsFetched) -> _Matched:
    by_external, by_post = await _tracked_targets(
        driver, workspace_id=workspace_id, fetched=fetched
    )
    matched = _Matched()
    names: dict[tuple[str, str | None], str] = {}
    for sample in sorted(fetched.samples, key=lambda s: s.collected_at):
        name_key = (sample.network_metric, sample.metric)
        metric = names.get(name_key) or names.setdefault(
            name_key,
            common_name(
                network=fetched.network, network_metric=sample.network_metric, metric=sample.metric
            ),
        )
        if not (sample.external_id or sample.post_id):
            matched.account_seen = True
            matched.samples.append((fetched.channel_id, None, metric, sample))
            continue
        if sample.external_id:
            target = by_external.get(sample.external_id)
        else:
            assert sample.post_id is not None
            target = by_post.get(sample.post_id)
        if target is None:
            matched.unmatched += 1
            continue
        matched.answered.add(target[0])
        matched.samples.append((target[0], target[1], metric, sample))
    return matched


async def _lock_latest(driver: Any, subjects: set[UUID]) -> dict[tuple[UUID, str], _Known]:
    """The latest known values of `subjects`, locked so two deliveries for the same post
    cannot both compute growth from the same previous value."""
    if not subjects:
        return {}
    rows = await driver.fetch(
        f"SELECT subject_id, metric, value, collected_at, network_metric FROM {_LATEST} "
        "WHERE subject_id = ANY($1::uuid[]) ORDER BY subject_id, metric FOR UPDATE",
        list(subjects),
    )
    return {(r[0], r[1]): _Known(r[2], r[3], r[4]) for r in rows}


def _growth(
    value: float | None, at: datetime, prev: _Known | None, *, account_baseline: bool
) -> float | None:
    if value is None:
        return None
    if prev is None or prev.value is None:
        # A post starts at zero, so its first figure is all growth; an account's first
        # follower count is a baseline, not followers gained.
        return None if account_baseline else value
    if at <= prev.collected_at:
        return None  # older than what is known: kept in the series, growth already counted
    return value - prev.value


def _rows(samples: list[Resolved], known: dict[tuple[UUID, str], _Known]) -> _Rows:
    rows = _Rows()
    for subject, post_id, metric, sample in samples:
        value, at, network_metric = sample.value, sample.collected_at, sample.network_metric
        key = (subject, metric)
        prev = known.get(key)
        delta = _growth(
            value, at, prev, account_baseline=post_id is None and metric in ACCOUNT_METRICS
        )
        if value is not None and (prev is None or prev.value is None or at > prev.collected_at):
            known[key] = rows.touched[key] = _Known(value, at, network_metric)
        elif prev is None:
            known[key] = rows.touched[key] = _Known(None, at, network_metric)
        rows.subjects.append(subject)
        rows.posts.append(post_id)
        rows.metrics.append(metric)
        rows.names.append(network_metric)
        rows.values.append(value)
        rows.deltas.append(delta)
        rows.times.append(at)
        rows.post_of[subject] = post_id
    return rows


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


def _table(model: type[Any]) -> str:
    return f"{model.__table__.schema}.{model.__tablename__}"


_LATEST = _table(LatestValue)


def _rollup_cte(name: str, model: type[Any], grain: str) -> str:
    """Adds the samples' deltas into a per-post rollup, one row per subject, metric, bucket."""
    return f"""
{name} AS (
    INSERT INTO {_table(model)} AS r
        (subject_id, metric, bucket, workspace_id, channel_id, post_id, network, total,
         samples, missing)
    SELECT subject, metric, date_trunc('{grain}', at, 'UTC'), $1::uuid, $2::uuid,
           min(post::text)::uuid, $3::text, coalesce(sum(delta), 0), count(*),
           count(*) FILTER (WHERE value IS NULL)
    FROM s GROUP BY subject, metric, date_trunc('{grain}', at, 'UTC')
    ORDER BY 1, 2, 3
    ON CONFLICT (subject_id, metric, bucket) DO UPDATE
    SET total = r.total + excluded.total, samples = r.samples + excluded.samples,
        missing = r.missing + excluded.missing
)"""


def _channel_rollup_cte(name: str, model: type[Any], grain: str) -> str:
    """The same sums per channel (every subject of a message is of its channel)."""
    return f"""
{name} AS (
    INSERT INTO {_table(model)} AS r
        (channel_id, metric, bucket, workspace_id, network, total, samples, missing)
    SELECT $2::uuid, metric, date_trunc('{grain}', at, 'UTC'), $1::uuid, $3::text,
           coalesce(sum(delta), 0), count(*), count(*) FILTER (WHERE value IS NULL)
    FROM s GROUP BY metric, date_trunc('{grain}', at, 'UTC')
    ORDER BY 1, 2, 3
    ON CONFLICT (channel_id, metric, bucket) DO UPDATE
    SET total = r.total + excluded.total, samples = r.samples + excluded.samples,
        missing = r.missing + excluded.missing
)"""


# Everything one `metrics.fetched` stores, in one statement and one round trip: the raw
# samples, the latest values, the per-post and per-channel hourly and daily rollups (sums of
# the same rows, so they always equal them), the answered collections and the channel's
# flags. Each column travels once, as an array.
_WRITE = f"""
WITH s AS (
    SELECT * FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::float8[],
                         $9::float8[], $10::timestamptz[])
        AS s(subject, post, metric, network_metric, value, delta, at)
),
stored AS (
    INSERT INTO {_table(Sample)} ({", ".join(SAMPLE_COLUMNS)})
    SELECT $1::uuid, $2::uuid, subject, post, $3::text, metric, network_metric, value, delta,
           at
    FROM s
),
latest AS (
    INSERT INTO {_LATEST} AS lv
        (subject_id, metric, workspace_id, channel_id, post_id, network, network_metric,
         value, collected_at)
    SELECT subject, metric, $1::uuid, $2::uuid, post, $3::text, network_metric, value, at
    FROM unnest($11::uuid[], $12::text[], $13::uuid[], $14::text[], $15::float8[],
                $16::timestamptz[]) AS t(subject, metric, post, network_metric, value, at)
    ON CONFLICT (subject_id, metric) DO UPDATE
    SET value = excluded.value, network_metric = excluded.network_metric,
        collected_at = excluded.collected_at
    WHERE lv.collected_at <= excluded.collected_at
),
{_rollup_cte("hourly", HourlyRollup, "hour")},
{_rollup_cte("daily", DailyRollup, "day")},
{_channel_rollup_cte("channel_hourly", ChannelHourlyRollup, "hour")},
{_channel_rollup_cte("channel_daily", ChannelDailyRollup, "day")},
answered AS (
    UPDATE {_table(Collection)} SET status = 'done', answered_at = $18
    WHERE target_id = ANY($17::uuid[]) AND status = 'sent'
)
UPDATE {_table(Channel)}
SET account_due_at = coalesce($19::timestamptz, account_due_at),
    best_times_dirty = best_times_dirty OR $20::bool
WHERE channel_id = $2::uuid
  -- An already dirty channel is left alone: no row lock queues the channel's next answers.
  AND ($19::timestamptz IS NOT NULL OR ($20::bool AND NOT best_times_dirty))
"""
