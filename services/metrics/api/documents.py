"""Reports a person reads: ask for one, follow it, download it; monthly schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.metrics.api.deps import AnalystDep, AnalyticsSettingsDep, SettingsDep
from services.metrics.models import Report, ReportSchedule
from services.metrics.report_jobs import (
    FORMATS,
    MEDIA_TYPES,
    check_language,
    check_scope,
    check_timezone,
    find_report,
    find_schedule,
    link_valid,
    list_reports,
    list_schedules,
    next_run,
    report_view,
    request_report,
)
from services.metrics.reports import report_range
from services.metrics.responses import csv_response, wants
from services.metrics.schemas import (
    ReportAccepted,
    ReportCreate,
    ReportOut,
    ReportPage,
    ReportScheduleCreate,
    ReportScheduleOut,
    ReportSchedules,
)
from shared.errors import NotFound, PermissionDenied, ValidationFailed
from shared.service import SessionDep

router = APIRouter(tags=["reports"])


@router.post("/v1/reports", status_code=202, response_model=ReportAccepted)
async def new_report(
    body: ReportCreate, principal: AnalystDep, session: SessionDep, settings: SettingsDep
) -> ReportAccepted:
    """Queues a report (PDF, HTML and CSV) over a range, for the whole workspace, a campaign or
    some channels. `report.ready` announces it with signed download links."""
    rng = report_range(
        start=body.from_, end=body.to, now=datetime.now(UTC), max_days=settings.max_report_days
    )
    language = check_language(body.language)
    timezone = check_timezone(body.timezone or principal.timezone)
    channel_ids = await check_scope(
        session, workspace_id=principal.workspace_id, channel_ids=body.channel_ids
    )
    report = await request_report(
        session,
        workspace_id=principal.workspace_id,
        rng=rng,
        campaign=body.campaign_id,
        channel_ids=channel_ids,
        language=language,
        timezone=timezone,
    )
    return ReportAccepted(id=report.id, status=report.status)


@router.post("/v1/reports/schedules", status_code=201, response_model=ReportScheduleOut)
async def new_schedule(
    body: ReportScheduleCreate, principal: AnalyticsSettingsDep, session: SessionDep
) -> ReportScheduleOut:
    """A report every month on `day_of_month` at `at` (wall time of `timezone`, the
    workspace's when absent), covering the calendar month before."""
    timezone = check_timezone(body.timezone or principal.timezone)
    schedule = ReportSchedule(
        id=uuid4(),
        workspace_id=principal.workspace_id,
        day_of_month=body.day_of_month,
        at=body.at,
        timezone=timezone,
        language=check_language(body.language),
        campaign=body.campaign_id,
        channel_ids=await check_scope(
            session, workspace_id=principal.workspace_id, channel_ids=body.channel_ids
        ),
        next_run_at=next_run(
            day_of_month=body.day_of_month,
            at=body.at,
            timezone=timezone,
            after=datetime.now(UTC),
        ),
    )
    session.add(schedule)
    await session.flush()
    return _schedule_out(schedule)


@router.get("/v1/reports/schedules", response_model=ReportSchedules)
async def schedules(
    principal: AnalystDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ReportSchedules:
    """The workspace's report schedules, oldest first, a page at a time."""
    page, next_cursor = await list_schedules(
        session, workspace_id=principal.workspace_id, limit=limit, cursor=cursor
    )
    return ReportSchedules(items=[_schedule_out(s) for s in page], next_cursor=next_cursor)


@router.get("/v1/reports/schedules/{schedule_id}", response_model=ReportScheduleOut)
async def schedule(
    schedule_id: UUID, principal: AnalystDep, session: SessionDep
) -> ReportScheduleOut:
    found = await find_schedule(
        session, workspace_id=principal.workspace_id, schedule_id=schedule_id
    )
    return _schedule_out(found)


@router.delete("/v1/reports/schedules/{schedule_id}", status_code=204)
async def delete_schedule(
    schedule_id: UUID, principal: AnalyticsSettingsDep, session: SessionDep
) -> None:
    found = await find_schedule(
        session, workspace_id=principal.workspace_id, schedule_id=schedule_id
    )
    await session.delete(found)


def _schedule_out(s: ReportSchedule) -> ReportScheduleOut:
    return ReportScheduleOut(
        id=s.id,
        day_of_month=s.day_of_month,
        at=s.at,
        timezone=s.timezone,
        language=s.language,
        campaign_id=s.campaign,
        channel_ids=s.channel_ids,
        next_run_at=s.next_run_at,
    )


@router.get(
    "/v1/reports/{report_id}",
    response_model=ReportOut,
    responses={200: {"content": {"text/csv": {}}}},
)
async def report(
    report_id: UUID,
    request: Request,
    principal: AnalystDep,
    session: SessionDep,
    settings: SettingsDep,
) -> ReportOut | Response:
    """The report's status; when ready, its download links (fresh on every call) and figures.
    `Accept: text/csv` gives the report's figures as CSV."""
    row = await find_report(session, workspace_id=principal.workspace_id, report_id=report_id)
    if wants(request, "text/csv"):
        if row.csv is None:
            raise ValidationFailed("The report is not ready yet.", field="report_id")
        return Response(row.csv, media_type=MEDIA_TYPES["csv"])
    return ReportOut.model_validate(report_view(row, settings, now=datetime.now(UTC)))


@router.get(
    "/v1/reports", response_model=ReportPage, responses={200: {"content": {"text/csv": {}}}}
)
async def reports(
    request: Request,
    principal: AnalystDep,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query()] = None,
) -> ReportPage | Response:
    """The workspace's reports, newest first."""
    rows, next_cursor = await list_reports(
        session, workspace_id=principal.workspace_id, limit=limit, cursor=cursor
    )
    now = datetime.now(UTC)
    items = [ReportOut.model_validate(report_view(r, settings, now=now)) for r in rows]
    if wants(request, "text/csv"):
        return csv_response(
            columns=["id", "status", "from", "to", "campaign_id", "language", "ready_at"],
            rows=[{**i.model_dump(), "from": i.from_} for i in items],
            filename="reports.csv",
        )
    return ReportPage(items=items, next_cursor=next_cursor)


@router.get("/reports/{report_id}/report.{fmt}", include_in_schema=True)
async def download(
    report_id: UUID,
    fmt: str,
    session: SessionDep,
    settings: SettingsDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    """A report's file, from the signed link of `report.ready` or `GET /v1/reports/{id}`
    (no API key: the link is the permission, until it expires)."""
    if fmt not in FORMATS:
        raise NotFound(f"No {fmt!r} version of a report.", field="fmt")
    if not link_valid(
        settings, report_id, fmt, expires=expires, signature=signature, now=datetime.now(UTC)
    ):
        raise PermissionDenied("This download link is not valid or has expired.")
    row = await session.get(Report, report_id)
    body = None if row is None else {"pdf": row.pdf, "html": row.html, "csv": row.csv}[fmt]
    if body is None:
        raise NotFound(f"No report {report_id}.", field="report_id")
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "content-disposition": f'attachment; filename="report-{report_id}.{fmt}"',
            "cache-control": "private, no-store",
        },
    )
