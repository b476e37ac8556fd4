"""Pacing: how many posts the scheduler places on a channel in any 24 hours.

Each network's documented limit of API posts per 24 h is the default (Instagram 50, as its
`content_publishing_limit` reports; Threads 250; YouTube's 10,000 quota units a day pay for
about six uploads); a channel may set its own cap (lower, to
pace a brand's feed, or higher where its account has more). A post whose time would put more
than the cap into some 24 hours of the channel is refused at scheduling with the reason; a
queued or recycled post is placed in the first slot that keeps within it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Channel, Target
from shared.errors import ValidationFailed
from shared.networks import UnknownNetwork, rules_for

WINDOW = timedelta(hours=24)
NETWORK_DAILY_LIMITS: dict[str, int] = {"instagram": 50, "threads": 250, "youtube": 6}
# Targets that went out or will: what the network counts against its limit.
COUNTED = ("scheduled", "publishing", "retrying", "published")


def daily_cap(channel: Channel) -> int | None:
    """The channel's own cap, else its network's documented limit (None: no limit known)."""
    if channel.daily_cap is not None:
        return channel.daily_cap
    return NETWORK_DAILY_LIMITS.get(channel.network)


async def planned_times(
    session: AsyncSession,
    *,
    channel_id: UUID,
    start: datetime,
    end: datetime,
    exclude_post_id: UUID | None = None,
) -> list[datetime]:
    """The due times of the channel's counted targets between `start` and `end`, in order."""
    query = select(Target.due_at).where(
        Target.channel_id == channel_id,
        Target.status.in_(COUNTED),
        Target.due_at > start,
        Target.due_at < end,
    )
    if exclude_post_id is not None:
        query = query.where(Target.post_id != exclude_post_id)
    return sorted(t for t in (await session.scalars(query)).all() if t is not None)


def crowded(at: datetime, others: Sequence[datetime], cap: int) -> datetime | None:
    """The start of a 24 hours that one more post at `at` would take over `cap` (None when it
    fits). The fullest window holding `at` starts at one of the posts in it."""
    times = sorted([*others, at])
    for start in (t for t in times if at - WINDOW < t <= at):
        if sum(1 for t in times if start <= t < start + WINDOW) > cap:
            return start
    return None


async def check_pace(
    session: AsyncSession, *, channel: Channel, at: datetime, exclude_post_id: UUID | None
) -> None:
    """Refuses a time that would put more than the channel's cap into some 24 hours."""
    cap = daily_cap(channel)
    if cap is None:
        return
    others = await planned_times(
        session,
        channel_id=channel.id,
        start=at - WINDOW,
        end=at + WINDOW,
        exclude_post_id=exclude_post_id,
    )
    start = crowded(at, others, cap)
    if start is None:
        return
    raise ValidationFailed(
        f"Channel {channel.id} takes at most {cap} posts in any 24 hours ({_source(channel)}); "
        f"at {at.isoformat()} it would have {cap + 1} between {start.isoformat()} and "
        f"{(start + WINDOW).isoformat()}. Pick another time, or change the channel's cap "
        f"(PUT /v1/channels/{channel.id}/pacing).",
        field="schedule.at",
    )


async def check_series_pace(
    session: AsyncSession, *, channel: Channel, instants: Sequence[datetime]
) -> None:
    """Refuses a recurring post whose occurrences (those planned now, within the horizon)
    would put more than the channel's cap into some 24 hours, with what is planned there."""
    cap = daily_cap(channel)
    if cap is None or not instants:
        return
    others = await planned_times(
        session, channel_id=channel.id, start=min(instants) - WINDOW, end=max(instants) + WINDOW
    )
    times = sorted([*others, *instants])
    end = 0
    # One pass: the window starting at each post, and how many posts it holds.
    for begin, start in enumerate(times):
        while end < len(times) and times[end] < start + WINDOW:
            end += 1
        if end - begin > cap:
            raise ValidationFailed(
                f"Channel {channel.id} takes at most {cap} posts in any 24 hours "
                f"({_source(channel)}); the series would put {end - begin} between "
                f"{start.isoformat()} and {(start + WINDOW).isoformat()}.",
                field="schedule.rrule",
            )


def _source(channel: Channel) -> str:
    if channel.daily_cap is not None:
        return "the channel's own cap"
    try:
        name = rules_for(channel.network).name
    except UnknownNetwork:
        name = channel.network
    return f"{name}'s limit of API posts per 24 h"


def pacing_of(channel: Channel) -> dict[str, object]:
    return {
        "channel_id": channel.id,
        "network": channel.network,
        "daily_cap": channel.daily_cap,
        "network_limit": NETWORK_DAILY_LIMITS.get(channel.network),
        "effective": daily_cap(channel),
    }
