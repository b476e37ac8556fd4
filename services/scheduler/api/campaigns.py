"""Campaigns: create, list, read and change them (their report is the metrics service's)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from services.scheduler.api.deps import IfMatchDep, ReaderDep, WriterDep
from services.scheduler.campaigns import (
    create_campaign,
    get_campaign,
    list_campaigns,
    update_campaign,
)
from services.scheduler.planning import based_on
from services.scheduler.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    campaign_out,
)
from shared.etag import version_etag
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


@router.post("", response_model=CampaignOut, status_code=201)
async def create(
    body: CampaignIn,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> CampaignOut:
    campaign = await create_campaign(session, principal=principal, body=body, outbox=runtime.outbox)
    response.headers["Location"] = f"/v1/campaigns/{campaign.id}"
    response.headers["ETag"] = version_etag(campaign.version)
    return campaign_out(campaign)


@router.get("", response_model=CampaignPage)
async def read_all(
    principal: ReaderDep,
    session: SessionDep,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CampaignPage:
    rows, next_cursor = await list_campaigns(
        session, workspace_id=principal.workspace_id, tag=tag, limit=limit, cursor=cursor
    )
    return CampaignPage(items=[campaign_out(c) for c in rows], next_cursor=next_cursor)


@router.get("/{campaign_id}", response_model=CampaignOut)
async def read_one(
    campaign_id: UUID, principal: ReaderDep, session: SessionDep, response: Response
) -> CampaignOut:
    campaign = await get_campaign(
        session, workspace_id=principal.workspace_id, campaign_id=campaign_id
    )
    response.headers["ETag"] = version_etag(campaign.version)
    return campaign_out(campaign)


@router.patch("/{campaign_id}", response_model=CampaignOut)
async def change(
    campaign_id: UUID,
    patch: CampaignPatch,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatchDep,
) -> CampaignOut:
    campaign = await update_campaign(
        session,
        principal=principal,
        campaign_id=campaign_id,
        patch=patch,
        expected_version=based_on(if_match, patch.version),
        outbox=runtime.outbox,
    )
    response.headers["ETag"] = version_etag(campaign.version)
    return campaign_out(campaign)
