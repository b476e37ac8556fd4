"""Inbox figures: what the audience said and how fast the team answered (from inbox events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import (
    CrisisAlert,
    InboxBreach,
    InboxMessage,
    InboxResolution,
    InboxResponse,
)
from shared.db import insert_once
from shared.events import (
    ConversationReplied,
    ConversationResolved,
    ConversationSlaBreached,
    CrisisDetected,
    CrisisResolved,
    MessageReceived,
)

# Sentiment is a score in [-1, 1]; beyond these it counts as clearly positive or negative.
POSITIVE, NEGATIVE = 0.25, -0.25


async def record_message(
    session: AsyncSession, *, workspace_id: UUID, message: MessageReceived
) -> None:
    await insert_once(
        session,
        InboxMessage,
        keys=[InboxMessage.message_id],
        message_id=message.message_id,
        workspace_id=workspace_id,
        conversation_id=message.conversation_id,
        channel_id=message.channel_id,
        network=message.network,
        kind=message.kind,
        sentiment=message.sentiment,
        language=message.language,
        received_at=message.received_at,
    )


async def record_reply(
    session: AsyncSession, *, workspace_id: UUID, reply: ConversationReplied
) -> None:
    # Only the first answer of a conversation says how long the audience waited.
    if reply.first_response_seconds is None:
        return
    await insert_once(
        session,
        InboxResponse,
        keys=[InboxResponse.conversation_id],
        conversation_id=reply.conversation_id,
        workspace_id=workspace_id,
        first_response_seconds=reply.first_response_seconds,
        replied_at=reply.replied_at,
    )


async def record_resolution(
    session: AsyncSession, *, workspace_id: UUID, resolved: ConversationResolved
) -> None:
    # A conversation reopened and resolved again counts each time it was resolved.
    await insert_once(
        session,
        InboxResolution,
        keys=[InboxResolution.conversation_id, InboxResolution.resolved_at],
        conversation_id=resolved.conversation_id,
        resolved_at=resolved.resolved_at,
        workspace_id=workspace_id,
        resolution_seconds=resolved.resolution_seconds,
    )


async def record_breach(
    session: AsyncSession, *, workspace_id: UUID, breach: ConversationSlaBreached
) -> None:
    await insert_once(
        session,
        InboxBreach,
        keys=[InboxBreach.conversation_id, InboxBreach.breached_at],
        conversation_id=breach.conversation_id,
        breached_at=breach.breached_at,
        workspace_id=workspace_id,
        priority=breach.priority,
    )


async def inbox_report(
    session: AsyncSession, *, workspace_id: UUID, start: datetime, end: datetime,
    channel_id: UUID | None = None, network: str | None = None, language: str | None = None,
) -> dict[str, Any]:
    filters = _message_filters(
        workspace_id=workspace_id, start=start, end=end, channel_id=channel_id,
        network=network, language=language,
    )
    days = await _days(session, filters=filters)
    responses, response_p50, response_p90 = await _percentiles(
        session, InboxResponse, InboxResponse.first_response_seconds, InboxResponse.replied_at,
        workspace_id=workspace_id, start=start, end=end,
    )
    resolutions, resolution_p50, resolution_p90 = await _percentiles(
        session, InboxResolution, InboxResolution.resolution_seconds, InboxResolution.resolved_at,
        workspace_id=workspace_id, start=start, end=end,
    )
    return {
        "volume": sum(d["messages"] for d in days),
        "days": days,
        "languages": await _languages(session, filters=filters),
        "responses": responses,
        "first_response_p50_seconds": response_p50,
        "first_response_p90_seconds": response_p90,
        "resolutions": resolutions,
        "resolution_p50_seconds": resolution_p50,
        "resolution_p90_seconds": resolution_p90,
        # Conversations that went past their response-time target in the period.
        "sla_breaches": await session.scalar(
            select(func.count()).where(
                InboxBreach.workspace_id == workspace_id,
                InboxBreach.breached_at >= start,
                InboxBreach.breached_at < end,
            )
        ) or 0,
    }


def _message_filters(
    *, workspace_id: UUID, start: datetime, end: datetime, channel_id: UUID | None,
    network: str | None, language: str | None,
) -> list[Any]:
    filters = [
        InboxMessage.workspace_id == workspace_id,
        InboxMessage.received_at >= start,
        InboxMessage.received_at < end,
    ]
    if channel_id is not None:
        filters.append(InboxMessage.channel_id == channel_id)
    if network is not None:
        filters.append(InboxMessage.network == network)
    if language == "unknown":
        filters.append(InboxMessage.language.is_(None))
    elif language is not None:
        filters.append(InboxMessage.language == language)
    return filters


async def _days(
    session: AsyncSession, *, filters: list[Any]
) -> list[dict[str, Any]]:
    day = func.date_trunc("day", InboxMessage.received_at, "UTC").label("day")
    rows = (
        await session.execute(
            select(
                day,
                func.count().label("messages"),
                func.count().filter(InboxMessage.kind == "comment").label("comments"),
                func.count().filter(InboxMessage.kind == "mention").label("mentions"),
                func.count().filter(InboxMessage.kind == "dm").label("dms"),
                func.avg(InboxMessage.sentiment).label("sentiment"),
                func.sum(case((InboxMessage.sentiment >= POSITIVE, 1), else_=0)).label("positive"),
                func.sum(case((InboxMessage.sentiment <= NEGATIVE, 1), else_=0)).label("negative"),
            )
            .where(*filters)
            .group_by(day)
            .order_by(day)
        )
    ).all()
    return [
        {
            "day": r.day.date().isoformat(),
            "messages": r.messages,
            "comments": r.comments,
            "mentions": r.mentions,
            "dms": r.dms,
            "sentiment": None if r.sentiment is None else round(float(r.sentiment), 4),
            "positive": int(r.positive or 0),
            "negative": int(r.negative or 0),
        }
        for r in rows
    ]


async def _percentiles(
    session: AsyncSession, model: Any, seconds: Any, at: Any, *, workspace_id: UUID,
    start: datetime, end: datetime,
) -> tuple[int, float | None, float | None]:
    """How many of a duration (first response, resolution) ended in the range, and their
    median and 90th percentile."""
    row = (
        await session.execute(
            select(
                func.count().label("n"),
                func.percentile_cont(0.5).within_group(seconds),
                func.percentile_cont(0.9).within_group(seconds),
            ).where(
                model.workspace_id == workspace_id,
                at >= start,
                at < end,
            )
        )
    ).one()
    return (
        row[0],
        None if row[1] is None else float(row[1]),
        None if row[2] is None else float(row[2]),
    )


async def record_crisis(
    session: AsyncSession, *, workspace_id: UUID, detected: CrisisDetected
) -> None:
    # Upsert: a resolution may have been handled before the detection it follows.
    await session.execute(
        pg_insert(CrisisAlert)
        .values(alert_id=detected.alert_id, workspace_id=workspace_id,
                channel_id=detected.channel_id, detected_at=detected.detected_at)
        .on_conflict_do_update(
            index_elements=[CrisisAlert.alert_id],
            set_={"detected_at": detected.detected_at, "channel_id": detected.channel_id},
        )
    )


async def record_crisis_resolved(
    session: AsyncSession, *, workspace_id: UUID, resolved: CrisisResolved
) -> None:
    await session.execute(
        pg_insert(CrisisAlert)
        .values(alert_id=resolved.alert_id, workspace_id=workspace_id,
                resolved_at=resolved.resolved_at)
        .on_conflict_do_update(
            index_elements=[CrisisAlert.alert_id], set_={"resolved_at": resolved.resolved_at}
        )
    )


async def inbox_by_language(
    session: AsyncSession, *, workspace_id: UUID, start: datetime, end: datetime,
    channel_ids: tuple[UUID, ...] = (),
) -> list[dict[str, Any]]:
    """Messages and mean sentiment per message language (None: not detected), largest first."""
    query = (
        select(
            InboxMessage.language,
            func.count().label("messages"),
            func.avg(InboxMessage.sentiment).label("sentiment"),
        )
        .where(InboxMessage.workspace_id == workspace_id, InboxMessage.received_at >= start,
               InboxMessage.received_at < end)
        .group_by(InboxMessage.language)
        .order_by(func.count().desc(), InboxMessage.language)
    )
    if channel_ids:
        query = query.where(InboxMessage.channel_id.in_(channel_ids))
    return [
        {"language": r.language, "messages": r.messages,
         "sentiment": None if r.sentiment is None else round(float(r.sentiment), 4)}
        for r in (await session.execute(query)).all()
    ]


async def response_times_by_day(
    session: AsyncSession, *, workspace_id: UUID, start: datetime, end: datetime, timezone: str,
) -> list[dict[str, Any]]:
    """Median and 90th percentile of the first response, per day of `timezone`."""
    day = func.date_trunc("day", InboxResponse.replied_at, timezone).label("day")
    seconds = InboxResponse.first_response_seconds
    rows = (
        await session.execute(
            select(
                day,
                func.percentile_cont(0.5).within_group(seconds).label("p50"),
                func.percentile_cont(0.9).within_group(seconds).label("p90"),
            )
            .where(InboxResponse.workspace_id == workspace_id,
                   InboxResponse.replied_at >= start, InboxResponse.replied_at < end)
            .group_by(day)
            .order_by(day)
        )
    ).all()
    return [{"day": r.day.astimezone(ZoneInfo(timezone)).date(), "p50": r.p50, "p90": r.p90}
            for r in rows]


async def crisis_summary(
    session: AsyncSession, *, workspace_id: UUID, start: datetime, end: datetime
) -> dict[str, int]:
    """Crisis alerts raised in the range, and how many of them are still open."""
    row = (
        await session.execute(
            select(
                func.count().label("alerts"),
                func.count().filter(CrisisAlert.resolved_at.is_(None)).label("open"),
            ).where(CrisisAlert.workspace_id == workspace_id, CrisisAlert.detected_at >= start,
                    CrisisAlert.detected_at < end)
        )
    ).one()
    return {"alerts": int(row.alerts), "open": int(row.open)}



async def _languages(session: AsyncSession, *, filters: list[Any]) -> list[dict[str, Any]]:
    """Messages per language over the range, most first; `unscored` are those no scorer
    covers (their sentiment is unknown, not neutral)."""
    rows = (
        await session.execute(
            select(
                InboxMessage.language,
                func.count().label("messages"),
                func.sum(case((InboxMessage.sentiment >= POSITIVE, 1), else_=0)).label("positive"),
                func.sum(case((InboxMessage.sentiment <= NEGATIVE, 1), else_=0)).label("negative"),
                func.count().filter(InboxMessage.sentiment.is_(None)).label("unscored"),
                func.avg(InboxMessage.sentiment).label("sentiment"),
            )
            .where(*filters)
            .group_by(InboxMessage.language)
            .order_by(func.count().desc(), InboxMessage.language)
        )
    ).all()
    return [
        {
            "language": r.language,
            "messages": r.messages,
            "positive": int(r.positive or 0),
            "negative": int(r.negative or 0),
            "unscored": r.unscored,
            "sentiment": None if r.sentiment is None else round(float(r.sentiment), 4),
        }
        for r in rows
    ]
