"""The content calendar over a range."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from services.scheduler.api.deps import ReaderDep, SettingsDep
from services.scheduler.calendar import calendar
from services.scheduler.ical import FEED_PATH, feed, feed_token, feed_url
from services.scheduler.schemas import CalendarFeedOut, CalendarPage
from shared.auth import Principal, require
from shared.service import SessionDep

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])
# Served without the internal token (an open prefix): the token in the URL is the credential.
feed_router = APIRouter(tags=["calendar"])
ManagerDep = Annotated[Principal, Depends(require("scheduler.settings"))]


@router.get("", response_model=CalendarPage)
async def read_calendar(
    principal: ReaderDep,
    session: SessionDep,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
    channel_id: UUID | None = None,
    network: str | None = None,
    status: str | None = None,
    tag: str | None = None,
    campaign: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: str | None = None,
) -> CalendarPage:
    return await calendar(
        session,
        workspace_id=principal.workspace_id,
        start=start,
        end=end,
        channel_id=channel_id,
        network=network,
        status=status,
        tag=tag,
        campaign=campaign,
        limit=limit,
        cursor=cursor,
    )


@router.get("/feed", response_model=CalendarFeedOut)
async def read_feed_url(
    principal: ReaderDep, session: SessionDep, settings: SettingsDep
) -> CalendarFeedOut:
    """The workspace's secret iCalendar URL (created on first ask)."""
    token = await feed_token(session, workspace_id=principal.workspace_id)
    return CalendarFeedOut(url=feed_url(settings.public_url, token))


@router.post("/feed/rotate", response_model=CalendarFeedOut)
async def rotate_feed_url(
    principal: ManagerDep, session: SessionDep, settings: SettingsDep
) -> CalendarFeedOut:
    """A new secret URL; the old one stops working at once."""
    token = await feed_token(session, workspace_id=principal.workspace_id, rotate=True)
    return CalendarFeedOut(url=feed_url(settings.public_url, token))


@feed_router.get(FEED_PATH, response_class=Response)
async def read_feed(session: SessionDep, token: str = "") -> Response:
    body = await feed(session, token=token)
    return Response(
        content=body.encode(),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
