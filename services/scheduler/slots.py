"""Posting slots (a channel's queue) and best times: choosing a time instead of being given one."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import BestTimes, Channel, Slot, Target
from services.scheduler.pacing import WINDOW, crowded, daily_cap, planned_times
from services.scheduler.timing import to_utc
from shared.errors import ValidationFailed

# A slot counts as taken by targets in these states.
OCCUPYING = ("in_review", "approved", "scheduled", "publishing", "retrying", "published")
# How far ahead the queue looks for a free slot.
QUEUE_HORIZON_DAYS = 366
# Until metrics has data for a channel: weekday mornings, lunch and end of day.
DEFAULT_BEST = [
    {"weekday": day, "hour": hour, "score": 1.0} for day in range(5) for hour in (9, 12, 17)
]
# A "best" time is never closer than this, so a planner can still look at the post.
BEST_LEAD = timedelta(minutes=5)


_SLOT_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def parse_slot_time(value: str, *, field: str) -> str:
    """`"9:00"` or `"09:00"` → `"09:00"`; anything else is a 422 naming `field`."""
    match = _SLOT_TIME.fullmatch(value.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValidationFailed("A slot time is HH:MM (24-hour).", field=field)
    return f"{int(match[1]):02d}:{match[2]}"


async def channel_slots(session: AsyncSession, *, channel_id: UUID) -> list[Slot]:
    return list(
        (
            await session.scalars(
                select(Slot).where(Slot.channel_id == channel_id).order_by(Slot.weekday, Slot.time)
            )
        ).all()
    )


async def replace_slots(
    session: AsyncSession,
    *,
    channel: Channel,
    slots: Sequence[tuple[int, str, int]],
) -> list[Slot]:
    """Replaces the channel's slots with `(weekday, "HH:MM", cap)` triples (duplicates merged)."""
    await session.execute(delete(Slot).where(Slot.channel_id == channel.id))
    unique = {(weekday, at): cap for weekday, at, cap in slots}
    if unique:
        await session.execute(
            pg_insert(Slot),
            [
                {
                    "channel_id": channel.id,
                    "workspace_id": channel.workspace_id,
                    "weekday": weekday,
                    "time": at,
                    "cap": cap,
                }
                for (weekday, at), cap in unique.items()
            ],
        )
    return await channel_slots(session, channel_id=channel.id)


def _occurrences(
    *, weekday: int, at: time, tz: ZoneInfo, start: datetime, days: int
) -> list[datetime]:
    """UTC instants of a weekly wall-clock time in `tz`, from `start`'s local date on."""
    first_day = start.astimezone(tz).date()
    out = []
    for offset in range(days + 1):
        day = first_day + timedelta(days=offset)
        if day.weekday() == weekday:
            out.append(to_utc(datetime.combine(day, at), tz))
    return out


async def next_free_slot(
    session: AsyncSession,
    *,
    channel: Channel,
    tz: ZoneInfo,
    now: datetime,
    exclude_post_id: UUID | None = None,
) -> datetime:
    """The first upcoming slot of the channel with room left under its cap.

    The channel's row is locked first, so two posts queued at once cannot both take the last
    place in a slot.
    """
    await session.execute(select(Channel.id).where(Channel.id == channel.id).with_for_update())
    slots = await channel_slots(session, channel_id=channel.id)
    if not slots:
        raise ValidationFailed(
            "This channel has no posting slots (PUT /v1/channels/{id}/slots).",
            field="schedule.queue",
        )
    horizon = now + timedelta(days=QUEUE_HORIZON_DAYS)
    query = select(Target.due_at).where(
        Target.channel_id == channel.id,
        Target.status.in_(OCCUPYING),
        Target.due_at > now,
        Target.due_at <= horizon,
    )
    if exclude_post_id is not None:
        query = query.where(Target.post_id != exclude_post_id)
    taken = Counter((await session.scalars(query)).all())
    cap = daily_cap(channel)
    paced = (
        await planned_times(
            session, channel_id=channel.id, start=now - WINDOW,
            end=horizon + WINDOW, exclude_post_id=exclude_post_id,
        )
        if cap is not None
        else []
    )  # fmt: skip
    candidates = sorted(
        (instant, slot.cap)
        for slot in slots
        for instant in _occurrences(
            weekday=slot.weekday,
            at=time.fromisoformat(slot.time),
            tz=tz,
            start=now,
            days=QUEUE_HORIZON_DAYS,
        )
        if instant > now
    )
    for instant, slot_cap in candidates:
        if taken[instant] < slot_cap and (cap is None or crowded(instant, paced, cap) is None):
            return instant
    raise ValidationFailed(
        "Every slot of this channel is full for the next year.", field="schedule.queue"
    )


async def best_time(
    session: AsyncSession, *, channel: Channel, fallback_tz: ZoneInfo, now: datetime
) -> tuple[datetime, str]:
    """The channel's best hour in the coming week (highest score, then soonest) and its zone.

    Hours come from metrics' `best_times.updated`, in the zone metrics computed them in;
    without data, weekday 09:00, 12:00 and 17:00 in the channel's zone.
    """
    row = await session.get(BestTimes, channel.id)
    if row is not None and row.slots:
        try:
            tz = ZoneInfo(row.timezone)
        except (ValueError, KeyError):
            tz = fallback_tz
        slots = row.slots
    else:
        tz, slots = fallback_tz, DEFAULT_BEST
    earliest = now + BEST_LEAD
    candidates = [
        (-float(slot["score"]), instant)
        for slot in slots
        for instant in _occurrences(
            weekday=int(slot["weekday"]), at=time(int(slot["hour"])), tz=tz, start=now, days=7
        )
        if earliest <= instant <= now + timedelta(days=7)
    ]
    if not candidates:
        raise ValidationFailed("No best time in the coming week.", field="schedule.best")
    _, instant = min(candidates)
    return instant, tz.key
