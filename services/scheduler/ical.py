"""The secret iCalendar feed: the workspace's calendar for apps that subscribe to a URL.

RFC 5545: CRLF line ends, lines folded at 75 octets (never inside a UTF-8 sequence), TEXT
values with backslash, semicolon, comma and newline escaped, every time in UTC.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import CalendarFeed, Post, Target
from shared.errors import NotFound

FEED_PATH = "/v1/calendar.ics"
# What a subscribed calendar shows: the recent past and the months ahead.
PAST = timedelta(days=31)
AHEAD = timedelta(days=366)
SHOWN = (
    "in_review",
    "approved",
    "scheduled",
    "publishing",
    "retrying",
    "published",
    "failed",
    "missed",
)


async def feed_token(session: AsyncSession, *, workspace_id: UUID, rotate: bool = False) -> str:
    """The workspace's feed token, created on first use; `rotate` replaces it (old URL dies)."""
    token = secrets.token_urlsafe(32)
    statement = pg_insert(CalendarFeed).values(workspace_id=workspace_id, token=token)
    if rotate:
        statement = statement.on_conflict_do_update(
            index_elements=[CalendarFeed.workspace_id], set_={"token": token}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=[CalendarFeed.workspace_id])
    await session.execute(statement)
    current = await session.scalar(
        select(CalendarFeed.token).where(CalendarFeed.workspace_id == workspace_id)
    )
    assert current is not None
    return current


async def workspace_for_token(session: AsyncSession, *, token: str) -> UUID:
    workspace_id = await session.scalar(
        select(CalendarFeed.workspace_id).where(CalendarFeed.token == token)
    )
    if not token or workspace_id is None:
        raise NotFound("No such calendar feed.", field="token")
    return workspace_id


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Splits a content line into CRLF + space continued chunks of at most 75 octets."""
    data = line.encode()
    chunks: list[bytes] = []
    limit = 75
    while len(data) > limit:
        cut = limit
        # Never split a UTF-8 sequence: back off continuation bytes (10xxxxxx).
        while cut > 0 and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        chunks.append(data[:cut])
        data = data[cut:]
        limit = 74  # continuation lines start with a space
    chunks.append(data)
    return "\r\n ".join(chunk.decode() for chunk in chunks)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def render(events: Iterable[tuple[Target, str]], *, now: datetime, name: str) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Herald//Scheduler//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for target, text in events:
        assert target.due_at is not None
        first_line = text.strip().splitlines()[0] if text.strip() else "(no text)"
        summary = f"[{target.network}] {first_line[:80]}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{target.id}@herald",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(target.due_at)}",
            f"DTEND:{_stamp(target.due_at + timedelta(minutes=15))}",
            f"SUMMARY:{escape_text(summary)}",
            f"DESCRIPTION:{escape_text(text)}",
            f"STATUS:{'CANCELLED' if target.status in {'failed', 'missed'} else 'CONFIRMED'}",
            f"CATEGORIES:{escape_text(target.status)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


async def feed(session: AsyncSession, *, token: str) -> str:
    workspace_id = await workspace_for_token(session, token=token)
    now = datetime.now(UTC)
    rows = (
        await session.execute(
            select(Target, Post.text)
            .join(Post, Post.id == Target.post_id)
            .where(
                Target.workspace_id == workspace_id,
                Target.status.in_(SHOWN),
                Target.due_at >= now - PAST,
                Target.due_at < now + AHEAD,
            )
            .order_by(Target.due_at, Target.id)
            .limit(5000)
        )
    ).all()
    events = [
        (row.Target, row.Target.text if row.Target.text is not None else row.text) for row in rows
    ]
    return render(events, now=now, name="Herald posts")


def feed_url(settings_url: str, token: str) -> str:
    return f"{settings_url.rstrip('/')}{FEED_PATH}?token={token}"
