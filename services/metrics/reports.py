"""Reports over the stored numbers: one post over time, a summary over a range, top posts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Select, and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import (
    Channel,
    DailyRollup,
    HourlyRollup,
    LatestValue,
    Sample,
    TrackedPost,
)
from services.metrics.vocabulary import ENGAGEMENT_METRICS, VOCABULARY
from shared.errors import NotFound, ValidationFailed

DEFAULT_RANGE = timedelta(days=30)


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime


def report_range(
    *, start: datetime | None, end: datetime | None, now: datetime, max_days: int
) -> Range:
    """The range a report covers; refuses reversed and overlong ranges, naming the field."""
    end = _aware(end) if end else now
    start = _aware(start) if start else end - DEFAULT_RANGE
    if start >= end:
        raise ValidationFailed("`from` must be before `to`.", field="from")
    if end - start > timedelta(days=max_days):
        raise ValidationFailed(f"A report covers at most {max_days} days.", field="to")
    return Range(start, end)


def _aware(value: datetime) -> datetime:
    # A time without an offset is read as UTC rather than refused: query strings rarely
    # carry one, and the API speaks UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_metric(metric: str, *, field: str = "metric") -> str:
    if metric not in VOCABULARY:
        raise ValidationFailed(
            f"Unknown metric {metric!r}; one of: {', '.join(VOCABULARY)}.", field=field
        )
    return metric


async def check_channel(session: AsyncSession, *, workspace_id: UUID, channel_id: UUID) -> None:
    owner = await session.scalar(
        select(Channel.workspace_id).where(Channel.channel_id == channel_id)
    )
    if owner != workspace_id:
        # Another workspace's channel is reported exactly like a channel that does not exist.
        raise NotFound(f"No channel {channel_id} in this workspace.", field="channel_id")


async def post_report(
    session: AsyncSession, *, workspace_id: UUID, post_id: UUID, metric: str | None = None
) -> dict[str, Any]:
    targets = (
        await session.scalars(
            select(TrackedPost)
            .where(TrackedPost.post_id == post_id, TrackedPost.workspace_id == workspace_id)
            .order_by(TrackedPost.published_at)
        )
    ).all()
    if not targets:
        raise NotFound(f"No published post {post_id} in this workspace.", field="post_id")
    ids = [t.target_id for t in targets]
    sample_query = (
        select(Sample.subject_id, Sample.metric, Sample.network_metric, Sample.value,
               Sample.collected_at)
        .where(Sample.subject_id.in_(ids))
        .order_by(Sample.subject_id, Sample.metric, Sample.collected_at)
    )
    latest_query = select(LatestValue).where(LatestValue.subject_id.in_(ids))
    if metric is not None:
        sample_query = sample_query.where(Sample.metric == metric)
        latest_query = latest_query.where(LatestValue.metric == metric)
    series: dict[UUID, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in (await session.execute(sample_query)).all():
        entry = series[row.subject_id].setdefault(
            row.metric, {"metric": row.metric, "network_metric": row.network_metric,
                         "points": []}
        )
        entry["points"].append({"at": row.collected_at, "value": row.value})
    latest: dict[UUID, dict[str, float | None]] = defaultdict(dict)
    totals: dict[str, float | None] = {}
    for lv in (await session.scalars(latest_query)).all():
        latest[lv.subject_id][lv.metric] = lv.value
        if lv.value is not None:
            totals[lv.metric] = (totals.get(lv.metric) or 0.0) + lv.value
        else:
            totals.setdefault(lv.metric, None)
    return {
        "post_id": post_id,
        "targets": [
            {
                "target_id": t.target_id,
                "channel_id": t.channel_id,
                "network": t.network,
                "external_id": t.external_id,
                "url": t.url,
                "published_at": t.published_at,
                "latest": latest.get(t.target_id, {}),
                "series": list(series.get(t.target_id, {}).values()),
            }
            for t in targets
        ],
        "totals": totals,
    }


@dataclass(frozen=True)
class Filters:
    channel_id: UUID | None = None
    network: str | None = None
    campaign: str | None = None
    tag: str | None = None


def _rollup_query(
    model: type[HourlyRollup] | type[DailyRollup], *, workspace_id: UUID, rng: Range,
    filters: Filters,
) -> Select[Any]:
    query = select(model.subject_id, model.metric, func.sum(model.total).label("total")).where(
        model.workspace_id == workspace_id, model.bucket >= rng.start, model.bucket < rng.end
    )
    if filters.channel_id is not None:
        query = query.where(model.channel_id == filters.channel_id)
    if filters.network is not None:
        query = query.where(model.network == filters.network)
    if filters.campaign is not None or filters.tag is not None:
        # Account numbers belong to no campaign or tag; they drop out of such a filter.
        post_filter = [TrackedPost.target_id == model.subject_id]
        if filters.campaign is not None:
            post_filter.append(TrackedPost.campaign == filters.campaign)
        if filters.tag is not None:
            post_filter.append(TrackedPost.tags.contains([filters.tag]))
        query = query.where(select(literal(1)).where(and_(*post_filter)).exists())
    return query.group_by(model.subject_id, model.metric)


def _pieces(rng: Range) -> list[tuple[type[HourlyRollup] | type[DailyRollup], Range]]:
    """Whole UTC days read the daily rollup; the ragged hours at either end read the hourly."""
    first_day = rng.start.replace(hour=0, minute=0, second=0, microsecond=0)
    if first_day < rng.start:
        first_day += timedelta(days=1)
    last_day = rng.end.replace(hour=0, minute=0, second=0, microsecond=0)
    if first_day >= last_day:
        return [(HourlyRollup, rng)]
    pieces: list[tuple[type[HourlyRollup] | type[DailyRollup], Range]] = [
        (DailyRollup, Range(first_day, last_day))
    ]
    if rng.start < first_day:
        pieces.append((HourlyRollup, Range(rng.start, first_day)))
    if last_day < rng.end:
        pieces.append((HourlyRollup, Range(last_day, rng.end)))
    return pieces


async def summary_report(
    session: AsyncSession, *, workspace_id: UUID, rng: Range, filters: Filters
) -> dict[str, Any]:
    """Growth within the range, from the rollups (hour precision at the edges).

    Engagement rate = engagements / views over the posts that report views, so networks
    without impressions (Mastodon, Bluesky) neither inflate nor dilute it.
    """
    per_subject: dict[UUID, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for model, piece in _pieces(rng):
        query = _rollup_query(model, workspace_id=workspace_id, rng=piece, filters=filters)
        for row in (await session.execute(query)).all():
            per_subject[row.subject_id][row.metric] += float(row.total or 0.0)
    metrics: dict[str, float] = defaultdict(float)
    rated_engagements = rated_views = 0.0
    posts = 0
    for values in per_subject.values():
        engagements = sum(values.get(m, 0.0) for m in ENGAGEMENT_METRICS)
        for name, value in values.items():
            metrics[name] += value
        if "followers" not in values:
            posts += 1
        if values.get("views", 0.0) > 0:
            rated_engagements += engagements
            rated_views += values["views"]
    engagements = sum(metrics.get(m, 0.0) for m in ENGAGEMENT_METRICS)
    return {
        "from": rng.start,
        "to": rng.end,
        "posts_with_data": posts,
        "engagements": engagements,
        "engagement_rate": (rated_engagements / rated_views) if rated_views else None,
        "views": metrics.get("views", 0.0),
        "reach": metrics.get("reach", 0.0),
        "followers_gained": metrics.get("followers", 0.0),
        "metrics": dict(sorted(metrics.items())),
    }


async def top_posts(
    session: AsyncSession, *, workspace_id: UUID, metric: str, limit: int,
    rng: Range | None, filters: Filters,
) -> list[dict[str, Any]]:
    """Posts ranked by a metric's latest value summed over their targets (published in range)."""
    if metric == "engagements":
        value_filter = LatestValue.metric.in_(ENGAGEMENT_METRICS)
    else:
        value_filter = LatestValue.metric == metric
    total = func.sum(LatestValue.value).label("value")
    query = (
        select(
            TrackedPost.post_id,
            total,
            func.min(TrackedPost.published_at).label("published_at"),
            func.array_agg(func.distinct(TrackedPost.network)).label("networks"),
            func.max(TrackedPost.campaign).label("campaign"),
        )
        .join(LatestValue, LatestValue.subject_id == TrackedPost.target_id)
        .where(TrackedPost.workspace_id == workspace_id, value_filter,
               LatestValue.value.is_not(None))
        .group_by(TrackedPost.post_id)
        .order_by(total.desc(), TrackedPost.post_id)
        .limit(limit)
    )
    if rng is not None:
        query = query.where(TrackedPost.published_at >= rng.start,
                            TrackedPost.published_at < rng.end)
    if filters.channel_id is not None:
        query = query.where(TrackedPost.channel_id == filters.channel_id)
    if filters.network is not None:
        query = query.where(TrackedPost.network == filters.network)
    if filters.campaign is not None:
        query = query.where(TrackedPost.campaign == filters.campaign)
    if filters.tag is not None:
        query = query.where(TrackedPost.tags.contains([filters.tag]))
    return [
        {
            "post_id": row.post_id,
            "metric": metric,
            "value": float(row.value),
            "published_at": row.published_at,
            "networks": sorted(row.networks),
            "campaign": row.campaign,
        }
        for row in (await session.execute(query)).all()
    ]


CONTENT_GROUPS = ("content_type", "hashtag")


async def content_report(
    session: AsyncSession, *, workspace_id: UUID, rng: Range, filters: Filters, by: str,
) -> list[dict[str, Any]]:
    """Growth within the range per content type ("text", "image", "video", …) or hashtag.

    A post counts under each of its hashtags, so hashtag rows do not add up to the whole.
    Posts whose content type nobody reported are grouped as "unknown"; posts without
    hashtags are left out of the hashtag comparison.
    """
    per_target: dict[UUID, dict[str, Any]] = {}
    for model, piece in _pieces(rng):
        query = (
            select(TrackedPost.target_id, TrackedPost.post_id, TrackedPost.content_type,
                   TrackedPost.hashtags, model.metric, func.sum(model.total).label("total"))
            .join(TrackedPost, TrackedPost.target_id == model.subject_id)
            .where(model.workspace_id == workspace_id, model.bucket >= piece.start,
                   model.bucket < piece.end, TrackedPost.workspace_id == workspace_id)
            .group_by(TrackedPost.target_id, model.metric)
        )
        if filters.channel_id is not None:
            query = query.where(TrackedPost.channel_id == filters.channel_id)
        if filters.network is not None:
            query = query.where(TrackedPost.network == filters.network)
        if filters.campaign is not None:
            query = query.where(TrackedPost.campaign == filters.campaign)
        if filters.tag is not None:
            query = query.where(TrackedPost.tags.contains([filters.tag]))
        for row in (await session.execute(query)).all():
            entry = per_target.setdefault(row.target_id, {
                "post_id": row.post_id,
                "keys": ([row.content_type or "unknown"] if by == "content_type"
                         else list(row.hashtags or [])),
                "metrics": defaultdict(float),
            })
            entry["metrics"][row.metric] += float(row.total or 0.0)
    groups: dict[str, dict[str, Any]] = {}
    for entry in per_target.values():
        values = entry["metrics"]
        engagements = sum(values.get(m, 0.0) for m in ENGAGEMENT_METRICS)
        views = values.get("views", 0.0)
        for key in entry["keys"]:
            g = groups.setdefault(key, {"posts": set(), "engagements": 0.0, "views": 0.0,
                                        "rated_engagements": 0.0, "rated_views": 0.0})
            g["posts"].add(entry["post_id"])
            g["engagements"] += engagements
            g["views"] += views
            if views > 0:
                g["rated_engagements"] += engagements
                g["rated_views"] += views
    items = [
        {
            "key": key,
            "posts": len(g["posts"]),
            "engagements": g["engagements"],
            "views": g["views"],
            "engagements_per_post": g["engagements"] / len(g["posts"]),
            "engagement_rate": (g["rated_engagements"] / g["rated_views"]
                                if g["rated_views"] else None),
        }
        for key, g in groups.items()
    ]
    items.sort(key=lambda i: (-i["engagements_per_post"], i["key"]))
    return items
