"""A campaign's report: posts, reach, engagements, clicks, conversions, per network."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.metrics.api.deps import AnalystDep
from services.metrics.campaigns import campaign_report
from services.metrics.responses import csv_response, wants
from services.metrics.schemas import CampaignReport
from shared.service import SessionDep

router = APIRouter(tags=["campaigns"])
COLUMNS = ["network", "posts", "reach", "engagements", "clicks", "conversions", "conversion_rate"]


@router.get(
    "/v1/campaigns/{campaign_id}/report",
    response_model=CampaignReport,
    responses={200: {"content": {"text/csv": {}}}},
)
async def read_campaign_report(
    campaign_id: UUID, request: Request, principal: AnalystDep, session: SessionDep
) -> CampaignReport | Response:
    """Per network and in total; `conversion_rate` is conversions per (human) click, null
    without clicks; `goal.progress` is the goal's metric over its target."""
    report = await campaign_report(
        session, workspace_id=principal.workspace_id, campaign_id=campaign_id
    )
    if wants(request, "text/csv"):
        rows = [*report["networks"], {**report["totals"], "network": "total"}]
        return csv_response(columns=COLUMNS, rows=rows, filename=f"campaign-{campaign_id}.csv")
    return CampaignReport.model_validate(report)
