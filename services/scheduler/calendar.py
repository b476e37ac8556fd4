"""The calendar: every planned or published target over a range, with its local time."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Post, Target
from services.scheduler.schemas import CalendarItem, CalendarPage
from services.scheduler.timing import local_time
from shared.errors import ValidationFailed

MAX_RANGE = timedelta(days=400)


def _encode_cursor(due_at: datetime, target_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{due_at.isoformat()}|{target_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        due, target = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(due), UUID(target)
    except (ValueError, binascii.Error) as exc:
        raise ValidationFailed("This cursor is not one we gave out.", field="cursor") from exc


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
    if cursor is not None:
        after_due, after_id = _decode_cursor(cursor)
        query = query.where(
            or_(Target.due_at > after_due, and_(Target.due_at == after_due, Target.id > after_id))
        )
    rows = (await session.execute(query.order_by(Target.due_at, Target.id).limit(limit + 1))).all()
    items = [
        CalendarItem(
            post_id=row.Target.post_id,
            target_id=row.Target.id,
            channel_id=row.Target.channel_id,
            network=row.Target.network,
            status=row.Target.status,
            due_at=row.Target.due_at,
            local_due_at=local_time(row.Target.due_at, row.Target.timezone)
            if row.Target.timezone
            else None,
            timezone=row.Target.timezone,
            text=row.Target.text if row.Target.text is not None else row.text,
            tags=list(row.tags or []),
            campaign=row.campaign,
        )
        for row in rows[:limit]
    ]
    next_cursor = (
        _encode_cursor(items[-1].due_at, items[-1].target_id) if len(rows) > limit else None
    )
    return CalendarPage(items=items, next_cursor=next_cursor)
