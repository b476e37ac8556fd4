"""Reports over the stored numbers: one post over time, a summary over a range, top posts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CompoundSelect,
    Float,
    Integer,
    Select,
    String,
    and_,
    func,
    literal,
    null,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import (
    Channel,
    ChannelDailyRollup,
    ChannelHourlyRollup,
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
        select(
            Sample.subject_id,
            Sample.metric,
            Sample.network_metric,
            Sample.value,
            Sample.collected_at,
        )
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
            row.metric, {"metric": row.metric, "network_metric": row.network_metric, "points": []}
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
    # A set of channels (a report over some of the workspace's channels); empty means all.
    channel_ids: tuple[UUID, ...] = ()


Model = (
    type[HourlyRollup] | type[DailyRollup] | type[ChannelHourlyRollup] | type[ChannelDailyRollup]
)


def rollup_rows(model: Model, *, workspace_id: UUID, rng: Range, filters: Filters) -> Select[Any]:
    """The rollup rows of one piece of a range, filtered: channel, metric, total."""
    query = select(model.channel_id, model.metric, model.total).where(
        model.workspace_id == workspace_id, model.bucket >= rng.start, model.bucket < rng.end
    )
    query = _channel_filters(query, filters, channel=model.channel_id, network=model.network)
    if filters.campaign is not None or filters.tag is not None:
        assert model is HourlyRollup or model is DailyRollup
        # Account numbers belong to no campaign or tag; they drop out of such a filter.
        post_filter = [TrackedPost.target_id == model.subject_id]
        if filters.campaign is not None:
            post_filter.append(TrackedPost.campaign == filters.campaign)
        if filters.tag is not None:
            post_filter.append(TrackedPost.tags.contains([filters.tag]))
        query = query.where(select(literal(1)).where(and_(*post_filter)).exists())
    return query


def _published_posts(*, workspace_id: UUID, rng: Range, filters: Filters) -> Select[Any]:
    query = select(func.count(func.distinct(TrackedPost.post_id))).where(
        TrackedPost.workspace_id == workspace_id,
        TrackedPost.published_at >= rng.start,
        TrackedPost.published_at < rng.end,
    )
    return _post_filters(query, filters)


def _channel_filters(
    query: Select[Any], filters: Filters, *, channel: Any, network: Any
) -> Select[Any]:
    """The channel and network parts of `filters`, on these columns."""
    if filters.channel_id is not None:
        query = query.where(channel == filters.channel_id)
    if filters.channel_ids:
        query = query.where(channel.in_(filters.channel_ids))
    if filters.network is not None:
        query = query.where(network == filters.network)
    return query


def _post_filters(query: Select[Any], filters: Filters) -> Select[Any]:
    query = _channel_filters(
        query, filters, channel=TrackedPost.channel_id, network=TrackedPost.network
    )
    if filters.campaign is not None:
        query = query.where(TrackedPost.campaign == filters.campaign)
    if filters.tag is not None:
        query = query.where(TrackedPost.tags.contains([filters.tag]))
    return query


def _pieces(
    rng: Range, *, hourly: Any = HourlyRollup, daily: Any = DailyRollup
) -> list[tuple[Any, Range]]:
    """Whole UTC days read the daily rollup; the ragged hours at either end read the hourly."""
    first_day = rng.start.replace(hour=0, minute=0, second=0, microsecond=0)
    if first_day < rng.start:
        first_day += timedelta(days=1)
    last_day = rng.end.replace(hour=0, minute=0, second=0, microsecond=0)
    if first_day >= last_day:
        return [(hourly, rng)]
    pieces: list[tuple[Any, Range]] = [(daily, Range(first_day, last_day))]
    if rng.start < first_day:
        pieces.append((hourly, Range(rng.start, first_day)))
    if last_day < rng.end:
        pieces.append((hourly, Range(last_day, rng.end)))
    return pieces


def summary_query(*, workspace_id: UUID, rng: Range, filters: Filters) -> CompoundSelect[Any]:
    """The whole summary in one statement, added up where the rows are.

    Without a campaign or tag filter it reads the per-channel rollups (a few rows per channel
    and day); a campaign or tag needs the per-post ones. The rows of the range are grouped
    twice in one pass (GROUPING SETS): per metric, which gives the totals, and per channel,
    which tells which channels report views. The result is one row per metric (`metric`
    set) and one row of the rate's parts and the posts count (`metric` NULL).
    """
    per_post = filters.campaign is not None or filters.tag is not None
    models = {} if per_post else {"hourly": ChannelHourlyRollup, "daily": ChannelDailyRollup}
    parts = [
        rollup_rows(model, workspace_id=workspace_id, rng=piece, filters=filters)
        for model, piece in _pieces(rng, **models)
    ]
    rows = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("rows")
    grouped = (
        select(
            rows.c.metric,
            func.grouping(rows.c.metric).label("per_channel"),
            func.sum(rows.c.total).label("total"),
            func.coalesce(
                func.sum(rows.c.total).filter(rows.c.metric.in_(ENGAGEMENT_METRICS)), 0.0
            ).label("engagements"),
            func.sum(rows.c.total).filter(rows.c.metric == "views").label("views"),
        )
        .group_by(func.grouping_sets(tuple_(rows.c.metric), tuple_(rows.c.channel_id)))
        .cte("grouped")
    )
    none = null().cast(Float)
    totals = select(
        grouped.c.metric,
        grouped.c.total,
        null().cast(Integer).label("posts"),
        none.label("rated_engagements"),
        none.label("rated_views"),
    ).where(grouped.c.per_channel == 0)
    rated = grouped.c.views > 0
    published = _published_posts(workspace_id=workspace_id, rng=rng, filters=filters)
    overall = select(
        null().cast(String).label("metric"),
        none.label("total"),
        published.scalar_subquery().label("posts"),
        func.sum(grouped.c.engagements).filter(rated).label("rated_engagements"),
        func.sum(grouped.c.views).filter(rated).label("rated_views"),
    ).where(grouped.c.per_channel == 1)
    return union_all(totals, overall)


# The headline figures of a summary, in the order exports and comparisons show them.
SUMMARY_FIGURES = (
    "posts_published",
    "engagements",
    "engagement_rate",
    "views",
    "reach",
    "followers_gained",
)


async def summary_report(
    session: AsyncSession, *, workspace_id: UUID, rng: Range, filters: Filters
) -> dict[str, Any]:
    """Growth within the range, from the rollups (hour precision at the edges).

    Engagement rate = engagements / views over the channels that report views in the range,
    so networks without impressions (Mastodon, Bluesky) neither inflate nor dilute it.
    `posts_published` counts the posts published within the range.
    """
    metrics: dict[str, float] = {}
    posts = 0
    rated_engagements = rated_views = 0.0
    query = summary_query(workspace_id=workspace_id, rng=rng, filters=filters)
    for row in (await session.execute(query)).all():
        if row.metric is not None:
            metrics[row.metric] = float(row.total or 0.0)
        else:
            posts = int(row.posts or 0)
            rated_engagements = float(row.rated_engagements or 0.0)
            rated_views = float(row.rated_views or 0.0)
    engagements = sum(metrics.get(m, 0.0) for m in ENGAGEMENT_METRICS)
    return {
        "from": rng.start,
        "to": rng.end,
        "posts_published": posts,
        "engagements": engagements,
        "engagement_rate": (rated_engagements / rated_views) if rated_views else None,
        "views": metrics.get("views", 0.0),
        "reach": metrics.get("reach", 0.0),
        "followers_gained": metrics.get("followers", 0.0),
        "metrics": dict(sorted(metrics.items())),
    }


async def top_posts(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    metric: str,
    limit: int,
    rng: Range | None,
    filters: Filters,
    weakest: bool = False,
) -> list[dict[str, Any]]:
    """Posts ranked by a metric's latest value summed over their targets (published in range);
    `weakest` ranks from the bottom."""
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
        .where(
            TrackedPost.workspace_id == workspace_id, value_filter, LatestValue.value.is_not(None)
        )
        .group_by(TrackedPost.post_id)
        .order_by(total.asc() if weakest else total.desc(), TrackedPost.post_id)
        .limit(limit)
    )
    if rng is not None:
        query = query.where(
            TrackedPost.published_at >= rng.start, TrackedPost.published_at < rng.end
        )
    query = _post_filters(query, filters)
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
    session: AsyncSession,
    *,
    workspace_id: UUID,
    rng: Range,
    filters: Filters,
    by: str,
) -> list[dict[str, Any]]:
    """Growth within the range per content type ("text", "image", "video", …) or hashtag.

    A post counts under each of its hashtags, so hashtag rows do not add up to the whole.
    Posts whose content type nobody reported are grouped as "unknown"; posts without
    hashtags are left out of the hashtag comparison.
    """
    per_target = await _growth_per_target(
        session, workspace_id=workspace_id, rng=rng, filters=filters, by=by
    )
    items = [
        {
            "key": key,
            "posts": len(g["posts"]),
            "engagements": g["engagements"],
            "views": g["views"],
            "engagements_per_post": g["engagements"] / len(g["posts"]),
            "engagement_rate": (
                g["rated_engagements"] / g["rated_views"] if g["rated_views"] else None
            ),
        }
        for key, g in _content_groups(per_target).items()
    ]
    items.sort(key=lambda i: (-i["engagements_per_post"], i["key"]))
    return items


async def _growth_per_target(
    session: AsyncSession, *, workspace_id: UUID, rng: Range, filters: Filters, by: str
) -> dict[UUID, dict[str, Any]]:
    """Each post target's growth per metric within the range, with the keys it is grouped
    under (its content type, or its hashtags)."""
    per_target: dict[UUID, dict[str, Any]] = {}
    for model, piece in _pieces(rng):
        query = (
            select(
                TrackedPost.target_id,
                TrackedPost.post_id,
                TrackedPost.content_type,
                TrackedPost.hashtags,
                model.metric,
                func.sum(model.total).label("total"),
            )
            .join(TrackedPost, TrackedPost.target_id == model.subject_id)
            .where(
                model.workspace_id == workspace_id,
                model.bucket >= piece.start,
                model.bucket < piece.end,
                TrackedPost.workspace_id == workspace_id,
            )
            .group_by(TrackedPost.target_id, model.metric)
        )
        for row in (await session.execute(_post_filters(query, filters))).all():
            entry = per_target.setdefault(
                row.target_id,
                {
                    "post_id": row.post_id,
                    "keys": (
                        [row.content_type or "unknown"]
                        if by == "content_type"
                        else list(row.hashtags or [])
                    ),
                    "metrics": defaultdict(float),
                },
            )
            entry["metrics"][row.metric] += float(row.total or 0.0)
    return per_target


def _content_groups(per_target: dict[UUID, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for entry in per_target.values():
        values = entry["metrics"]
        engagements = sum(values.get(m, 0.0) for m in ENGAGEMENT_METRICS)
        views = values.get("views", 0.0)
        for key in entry["keys"]:
            g = groups.setdefault(
                key,
                {
                    "posts": set(),
                    "engagements": 0.0,
                    "views": 0.0,
                    "rated_engagements": 0.0,
                    "rated_views": 0.0,
                },
            )
            g["posts"].add(entry["post_id"])
            g["engagements"] += engagements
            g["views"] += views
            # The rate counts only posts whose views are known.
            if views > 0:
                g["rated_engagements"] += engagements
                g["rated_views"] += views
    return groups
