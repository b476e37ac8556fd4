"""Short links, the public redirect, conversions and conversion rates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.metrics.api.deps import (
    AnalystDep,
    ConversionWriterDep,
    LinkWriterDep,
    SettingsDep,
)
from services.metrics.charts import campaign_clicks
from services.metrics.links import (
    conversion_rates,
    create_link,
    follow,
    list_links,
    record_conversion,
    short_url,
)
from services.metrics.reports import report_range
from services.metrics.responses import CHART_RESPONSES, chart_asked, csv_response, wants
from services.metrics.schemas import (
    ConversionCreate,
    ConversionOut,
    ConversionRate,
    ConversionRates,
    LinkCreate,
    LinkOut,
    LinkPage,
)
from shared.errors import NotFound, ValidationFailed
from shared.service import SessionDep

router = APIRouter(tags=["links"])


@router.post("/v1/links", status_code=201, response_model=LinkOut)
async def new_link(
    body: LinkCreate, principal: LinkWriterDep, session: SessionDep, settings: SettingsDep
) -> LinkOut:
    link = await create_link(
        session, workspace_id=principal.workspace_id, url=str(body.url), post_id=body.post_id,
        utm=body.utm,
    )
    return LinkOut(
        id=link.id, code=link.code, short_url=short_url(settings.public_url, link.code),
        url=link.url, destination=link.destination, post_id=link.post_id, utm=link.utm,
        created_at=link.created_at, clicks=0,
    )


@router.get("/v1/links", response_model=LinkPage, responses={200: {"content": {"text/csv": {}}}})
async def links(
    request: Request, principal: AnalystDep, session: SessionDep, settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
    post_id: Annotated[UUID | None, Query()] = None,
) -> LinkPage | Response:
    items, next_cursor = await list_links(
        session, workspace_id=principal.workspace_id, limit=limit, cursor=cursor,
        post_id=post_id,
    )
    for item in items:
        item["short_url"] = short_url(settings.public_url, item["code"])
    if wants(request, "text/csv"):
        return csv_response(
            columns=["code", "short_url", "destination", "post_id", "clicks", "bot_clicks",
                     "created_at"],
            rows=items, filename="links.csv",
        )
    return LinkPage(items=[LinkOut.model_validate(i) for i in items], next_cursor=next_cursor)


@router.get("/l/{code}", include_in_schema=True, status_code=302)
async def redirect(code: str, request: Request, session: SessionDep) -> RedirectResponse:
    destination = await follow(
        session, code=code, referrer=request.headers.get("referer"),
        user_agent=request.headers.get("user-agent"),
    )
    if destination is None:
        raise NotFound("No such short link.", field="code")
    # Not cached by browsers or proxies: every visit must reach us to be counted.
    return RedirectResponse(destination, status_code=302,
                            headers={"cache-control": "private, no-store"})


@router.post("/v1/conversions", status_code=201, response_model=ConversionOut)
async def new_conversion(
    body: ConversionCreate, principal: ConversionWriterDep, session: SessionDep
) -> ConversionOut:
    occurred_at = body.occurred_at or datetime.now(UTC)
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    result = await record_conversion(
        session, workspace_id=principal.workspace_id, link_code=body.link_code,
        post_id=body.post_id, name=body.name, value=body.value, currency=body.currency,
        occurred_at=occurred_at,
    )
    return ConversionOut.model_validate(result)


@router.get("/v1/analytics/conversions", response_model=ConversionRates,
            responses=CHART_RESPONSES, tags=["analytics"])
async def rates(
    request: Request, principal: AnalystDep, session: SessionDep, settings: SettingsDep,
    group_by: Annotated[str, Query()] = "post",
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    language: Annotated[str | None, Query(description="Chart labels: en, he or is")] = None,
) -> ConversionRates | Response:
    """Conversions per human click; as a chart (`group_by=campaign`), clicks and conversions
    per campaign."""
    rng = report_range(start=start, end=end, now=datetime.now(UTC),
                       max_days=settings.max_report_days)
    items = await conversion_rates(session, workspace_id=principal.workspace_id,
                                   group_by=group_by, start=rng.start, end=rng.end)
    image = chart_asked(request, language)
    if image is not None:
        if group_by != "campaign":
            raise ValidationFailed("The chart of conversions is drawn by campaign.",
                                   field="group_by")
        bars = [(i["key"], i["clicks"], i["conversions"]) for i in items]
        return await image.response(
            lambda: campaign_clicks(bars, language=image.language, fmt=image.fmt)
        )
    if wants(request, "text/csv"):
        return csv_response(columns=["key", "clicks", "conversions", "rate", "value"],
                            rows=items, filename=f"conversions-by-{group_by}.csv")
    return ConversionRates(group_by=group_by,
                           items=[ConversionRate.model_validate(i) for i in items])
