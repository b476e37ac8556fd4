"""The figures of a report over a range, read from what this service stores: the summary
against the previous period, engagement per network and day, top and weakest posts with their
text, best times, links and conversions, inbox and crisis numbers.

Everything here is plain data (JSON-ready): the documents are drawn from it, and it is kept
with the report so the numbers a reader got can be checked afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.best_times import current_best_times
from services.metrics.inbox import (
    crisis_summary,
    inbox_by_language,
    inbox_report,
    response_times_by_day,
)
from services.metrics.links import conversion_rates
from services.metrics.models import ChannelHourlyRollup, HourlyRollup, TrackedPost
from services.metrics.reports import (
    SUMMARY_FIGURES,
    Filters,
    Range,
    rollup_rows,
    summary_report,
    top_posts,
)
from services.metrics.vocabulary import ENGAGEMENT_METRICS

POSTS_LISTED = 5
# Best-times grids drawn: the channels of the scope with the most posts in the range.
BEST_TIMES_CHANNELS = 3


async def gather(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    rng: Range,
    campaign: str | None,
    channel_ids: tuple[UUID, ...],
    timezone: str,
    prior_posts: float,
    slot_count: int,
    now: datetime,
) -> dict[str, Any]:
    filters = Filters(campaign=campaign, channel_ids=channel_ids)
    previous = Range(rng.start - (rng.end - rng.start), rng.start)
    current = await summary_report(session, workspace_id=workspace_id, rng=rng, filters=filters)
    before = await summary_report(session, workspace_id=workspace_id, rng=previous, filters=filters)
    links_now = await _links(session, workspace_id=workspace_id, rng=rng, campaign=campaign)
    links_before = await _links(session, workspace_id=workspace_id, rng=previous, campaign=campaign)
    summary = {key: {"current": current[key], "previous": before[key]} for key in SUMMARY_FIGURES}
    summary["clicks"] = {"current": links_now["clicks"], "previous": links_before["clicks"]}
    summary["conversions"] = {
        "current": links_now["conversions"],
        "previous": links_before["conversions"],
    }
    args = {"workspace_id": workspace_id, "rng": rng, "filters": filters}
    return {
        "from": rng.start.isoformat(),
        "to": rng.end.isoformat(),
        "previous_from": previous.start.isoformat(),
        "previous_to": previous.end.isoformat(),
        "timezone": timezone,
        "campaign": campaign,
        "channel_ids": [str(c) for c in channel_ids],
        "summary": summary,
        "engagement_by_day": await engagement_by_day(session, timezone=timezone, **args),
        "top_posts": await _posts(session, weakest=False, **args),
        "bottom_posts": await _posts(session, weakest=True, **args),
        "best_times": await _best_times(
            session, prior_posts=prior_posts, slot_count=slot_count, now=now, **args
        ),
        "campaigns": links_now["rows"],
        "inbox": await _inbox(
            session,
            workspace_id=workspace_id,
            rng=rng,
            channel_ids=channel_ids,
            timezone=timezone,
        ),
    }


async def engagement_by_day(
    session: AsyncSession, *, workspace_id: UUID, rng: Range, filters: Filters, timezone: str
) -> dict[str, list[tuple[str, float]]]:
    """Engagements per network and day of `timezone` (hourly rollups: days of any zone)."""
    per_post = filters.campaign is not None or filters.tag is not None
    model: Any = HourlyRollup if per_post else ChannelHourlyRollup
    rows = rollup_rows(model, workspace_id=workspace_id, rng=rng, filters=filters)
    rows = rows.add_columns(model.network, model.bucket).where(model.metric.in_(ENGAGEMENT_METRICS))
    sub = rows.subquery()
    day = func.date_trunc("day", sub.c.bucket, timezone).label("day")
    query = (
        select(sub.c.network, day, func.sum(sub.c.total).label("total"))
        .group_by(sub.c.network, day)
        .order_by(sub.c.network, day)
    )
    zone = ZoneInfo(timezone)
    out: dict[str, list[tuple[str, float]]] = {}
    for row in (await session.execute(query)).all():
        out.setdefault(row.network, []).append(
            (row.day.astimezone(zone).date().isoformat(), float(row.total or 0.0))
        )
    return out


async def _posts(
    session: AsyncSession, *, workspace_id: UUID, rng: Range, filters: Filters, weakest: bool
) -> list[dict[str, Any]]:
    items = await top_posts(
        session,
        workspace_id=workspace_id,
        metric="engagements",
        limit=POSTS_LISTED,
        rng=rng,
        filters=filters,
        weakest=weakest,
    )
    texts = await post_texts(session, [i["post_id"] for i in items])
    return [
        {
            "post_id": str(i["post_id"]),
            "engagements": i["value"],
            "networks": i["networks"],
            "published_at": i["published_at"].isoformat(),
            "campaign": i["campaign"],
            "text": texts.get(i["post_id"]),
        }
        for i in items
    ]


async def post_texts(session: AsyncSession, post_ids: list[UUID]) -> dict[UUID, str | None]:
    """Each post's published text (one of its targets'; variants may differ)."""
    rows = await session.execute(
        select(TrackedPost.post_id, func.max(TrackedPost.text))
        .where(TrackedPost.post_id.in_(post_ids))
        .group_by(TrackedPost.post_id)
    )
    return {post_id: text for post_id, text in rows.all()}


async def _best_times(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    rng: Range,
    filters: Filters,
    prior_posts: float,
    slot_count: int,
    now: datetime,
) -> list[dict[str, Any]]:
    posts = func.count(func.distinct(TrackedPost.post_id))
    query = (
        select(TrackedPost.channel_id, func.min(TrackedPost.network).label("network"))
        .where(
            TrackedPost.workspace_id == workspace_id,
            TrackedPost.published_at >= rng.start,
            TrackedPost.published_at < rng.end,
        )
        .group_by(TrackedPost.channel_id)
        .order_by(posts.desc(), TrackedPost.channel_id)
        .limit(BEST_TIMES_CHANNELS)
    )
    if filters.channel_ids:
        query = query.where(TrackedPost.channel_id.in_(filters.channel_ids))
    if filters.campaign is not None:
        query = query.where(TrackedPost.campaign == filters.campaign)
    grids = []
    for row in (await session.execute(query)).all():
        report = await current_best_times(
            session,
            workspace_id=workspace_id,
            channel_id=row.channel_id,
            prior_posts=prior_posts,
            slot_count=slot_count,
            now=now,
        )
        grids.append(
            {
                "channel_id": str(row.channel_id),
                "network": row.network,
                "timezone": report["timezone"],
                "posts": report["posts"],
                "scores": [
                    [c["score"] if report["posts"] else None for c in r] for r in report["grid"]
                ],
                "slots": [{"weekday": s["weekday"], "hour": s["hour"]} for s in report["slots"]],
            }
        )
    return grids


async def _links(
    session: AsyncSession, *, workspace_id: UUID, rng: Range, campaign: str | None
) -> dict[str, Any]:
    rows = await conversion_rates(
        session, workspace_id=workspace_id, group_by="campaign", start=rng.start, end=rng.end
    )
    if campaign is not None:
        rows = [r for r in rows if r["key"] == campaign]
    return {
        "rows": rows,
        "clicks": sum(r["clicks"] for r in rows),
        "conversions": sum(r["conversions"] for r in rows),
    }


async def _inbox(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    rng: Range,
    channel_ids: tuple[UUID, ...],
    timezone: str,
) -> dict[str, Any]:
    # A channel set narrows the messages; response and resolution times are the workspace's
    # (the inbox events that carry them do not name a channel).
    report = await inbox_report(
        session,
        workspace_id=workspace_id,
        start=rng.start,
        end=rng.end,
        channel_id=channel_ids[0] if len(channel_ids) == 1 else None,
    )
    del report["days"]
    languages = await inbox_by_language(
        session,
        workspace_id=workspace_id,
        start=rng.start,
        end=rng.end,
        channel_ids=channel_ids,
    )
    report["volume"] = sum(row["messages"] for row in languages)
    report["languages"] = languages
    report["response_days"] = [
        {**row, "day": row["day"].isoformat()}
        for row in await response_times_by_day(
            session, workspace_id=workspace_id, start=rng.start, end=rng.end, timezone=timezone
        )
    ]
    report["crisis"] = await crisis_summary(
        session, workspace_id=workspace_id, start=rng.start, end=rng.end
    )
    return report
