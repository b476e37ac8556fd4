"""The calendar: every planned or published target over a range, with its local time.

A recurring post has rows only for its occurrences within the materialised horizon
(`recurrence`); the calendar also shows every later occurrence in the asked range, expanded
from the post's rule by `recurrence.occurrences` on each channel's clock and marked
`materialised: false` (no target yet, so no `target_id`). Such an occurrence can be skipped
or edited by its instant (`occurrences`).
"""

from __future__ import annotations

import heapq
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Post, Target
from services.scheduler.recurrence import occurrences
from services.scheduler.schemas import CalendarItem, CalendarPage
from services.scheduler.timing import local_time
from shared.errors import ValidationFailed
from shared.pagination import decode_cursor, encode_cursor

MAX_RANGE = timedelta(days=400)
# A series whose latest row is in one of these goes on.
OPEN = frozenset({"draft", "in_review", "changes_requested", "approved", "scheduled"})


async def calendar(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    start: datetime,
    end: datetime,
    channel_id: UUID | None = None,
    network: str | None = None,
    status: str | None = None,
    tag: str | None = None,
    campaign: str | None = None,
    limit: int = 200,
    cursor: str | None = None,
) -> CalendarPage:
    """Targets due in `[start, end)`, in due order, keyset-paginated."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed(
            "from and to need a UTC offset (e.g. 2030-01-01T00:00:00Z).",
            field="from" if start.tzinfo is None else "to",
        )
    if end <= start:
        raise ValidationFailed("to must be after from.", field="to")
    if end - start > MAX_RANGE:
        raise ValidationFailed("A calendar range is at most 400 days.", field="to")
    query = (
        select(Target, Post.text, Post.tags, Post.campaign)
        .join(Post, Post.id == Target.post_id)
        .where(
            Target.workspace_id == workspace_id,
            Target.due_at >= start,
            Target.due_at < end,
        )
    )
    if channel_id is not None:
        query = query.where(Target.channel_id == channel_id)
    if network is not None:
        query = query.where(Target.network == network)
    if status is not None:
        query = query.where(Target.status == status)
    if tag is not None:
        query = query.where(Post.tags.contains([tag]))
    if campaign is not None:
        query = query.where(Post.campaign == campaign)
    after = decode_cursor(cursor)
    if after is not None:
        after_due, after_id = after
        query = query.where(
            or_(Target.due_at > after_due, and_(Target.due_at == after_due, Target.id > after_id))
        )
    rows = (await session.execute(query.order_by(Target.due_at, Target.id).limit(limit + 1))).all()
    real = [_row_item(row) for row in rows]
    planned = await _unmaterialised(
        session,
        workspace_id=workspace_id,
        start=start,
        end=end,
        filters=CalendarFilters(channel_id, network, status, tag, campaign),
        after=after,
        limit=limit + 1,
    )
    merged = sorted([*real, *planned], key=_key)
    items = merged[:limit]
    next_cursor = encode_cursor(*_key(items[-1])) if len(merged) > limit else None
    return CalendarPage(items=items, next_cursor=next_cursor)


def _row_item(row: Any) -> CalendarItem:
    target = row.Target
    return CalendarItem(
        post_id=target.post_id,
        target_id=target.id,
        channel_id=target.channel_id,
        network=target.network,
        status=target.status,
        due_at=target.due_at,
        local_due_at=local_time(target.due_at, target.timezone) if target.timezone else None,
        timezone=target.timezone,
        text=target.text if target.text is not None else row.text,
        tags=list(row.tags or []),
        campaign=row.campaign,
    )


def _key(item: CalendarItem) -> tuple[datetime, UUID]:
    return item.due_at, item.target_id or occurrence_key(item.post_id, item.channel_id, item.due_at)


def occurrence_key(post_id: UUID, channel_id: UUID, due_at: datetime) -> UUID:
    """A stable id for an occurrence that has no row yet (orders it in the keyset)."""
    return uuid.uuid5(post_id, f"{channel_id}|{due_at.astimezone(UTC).isoformat()}")


@dataclass(frozen=True)
class CalendarFilters:
    channel_id: UUID | None
    network: str | None
    status: str | None
    tag: str | None
    campaign: str | None


async def _unmaterialised(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    start: datetime,
    end: datetime,
    filters: CalendarFilters,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[CalendarItem]:
    """Occurrences of recurring posts in `[start, end)` beyond each channel's last row."""
    query = select(Post).where(
        Post.workspace_id == workspace_id,
        Post.schedule["rrule"].astext.is_not(None),
        Post.status != "canceled",
    )
    if filters.tag is not None:
        query = query.where(Post.tags.contains([filters.tag]))
    if filters.campaign is not None:
        query = query.where(Post.campaign == filters.campaign)
    posts = {post.id: post for post in (await session.scalars(query)).all()}
    if not posts:
        return []
    # Each series' latest row per channel: where its rows stop and what the next ones copy.
    latest = (
        select(Target)
        .where(Target.post_id.in_(list(posts)))
        .ext(distinct_on(Target.post_id, Target.channel_id))
        .order_by(Target.post_id, Target.channel_id, Target.due_at.desc().nulls_last())
    )
    series: list[_Series] = []
    for last in (await session.scalars(latest)).all():
        # A series whose latest row is no longer a plan has ended (or was canceled).
        if last.status not in OPEN or last.due_at is None or last.timezone is None:
            continue
        if not _wanted(last, filters):
            continue
        floor = max(last.due_at, start - timedelta(microseconds=1))
        if after is not None:
            floor = max(floor, after[0] - timedelta(microseconds=1))
        series.append(_Series(posts[last.post_id], last, floor, end, after))
    return _first_of_all(series, limit)


class _Series:
    """One series on one channel: its occurrences past `floor`, asked of the rule a few at a
    time (a page needs only the earliest ones of all series together)."""

    BATCH = 8

    def __init__(
        self,
        post: Post,
        template: Target,
        floor: datetime,
        end: datetime,
        after: tuple[datetime, UUID] | None,
    ) -> None:
        assert post.schedule is not None and template.timezone is not None
        self.post, self.template, self.floor, self.end, self.after = (
            post, template, floor, end, after,
        )  # fmt: skip
        self.tz = ZoneInfo(template.timezone)
        self.ready: list[CalendarItem] = []
        self.done = False

    def peek(self) -> CalendarItem | None:
        while not self.ready and not self.done:
            assert self.post.schedule is not None
            found = occurrences(
                self.post.schedule, self.tz, after=self.floor, until=self.end, limit=self.BATCH
            )
            self.done = len(found) < self.BATCH
            for instant in found:
                self.floor = instant
                if instant >= self.end:
                    self.done = True
                    break
                item = _occurrence_item(self.post, self.template, instant)
                if self.after is None or _key(item) > self.after:
                    self.ready.append(item)
        return self.ready[0] if self.ready else None


def _first_of_all(series: list[_Series], limit: int) -> list[CalendarItem]:
    """The `limit` earliest occurrences over every series (a k-way merge)."""
    heap: list[tuple[tuple[datetime, UUID], int]] = []
    for index, one in enumerate(series):
        first = one.peek()
        if first is not None:
            heapq.heappush(heap, (_key(first), index))
    items: list[CalendarItem] = []
    while heap and len(items) < limit:
        _, index = heapq.heappop(heap)
        items.append(series[index].ready.pop(0))
        following = series[index].peek()
        if following is not None:
            heapq.heappush(heap, (_key(following), index))
    return items


def _wanted(target: Target, filters: CalendarFilters) -> bool:
    return (
        (filters.channel_id is None or target.channel_id == filters.channel_id)
        and (filters.network is None or target.network == filters.network)
        and (filters.status is None or target.status == filters.status)
    )


def _occurrence_item(post: Post, template: Target, instant: datetime) -> CalendarItem:
    assert template.timezone is not None
    return CalendarItem(
        post_id=post.id,
        target_id=None,
        materialised=False,
        channel_id=template.channel_id,
        network=template.network,
        status=template.status,
        due_at=instant,
        local_due_at=local_time(instant, template.timezone),
        timezone=template.timezone,
        text=template.text if template.text is not None else post.text,
        tags=list(post.tags or []),
        campaign=post.campaign,
    )
