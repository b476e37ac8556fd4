"""The content calendar over a range."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from services.scheduler.api.deps import ReaderDep
from services.scheduler.calendar import calendar
from services.scheduler.schemas import CalendarPage
from shared.service import SessionDep

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])


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
