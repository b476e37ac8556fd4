"""A workspace's Google Analytics 4 property: where clicks on its links are sent."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from services.metrics.api.deps import AnalystDep, AnalyticsSettingsDep, SettingsDep
from services.metrics.ga4 import property_view, remove_property, set_property
from services.metrics.schemas import Ga4PropertyIn, Ga4PropertyOut
from shared.service import SessionDep

router = APIRouter(prefix="/v1/analytics/ga4", tags=["analytics"])


@router.put("", response_model=Ga4PropertyOut)
async def put_property(
    body: Ga4PropertyIn,
    principal: AnalyticsSettingsDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Ga4PropertyOut:
    """Sends every human click on the workspace's links to this GA4 property (Measurement
    Protocol), with the link's UTM parameters as GA4 campaign parameters. The API secret is
    stored encrypted and never shown again."""
    await set_property(
        session,
        settings,
        workspace_id=principal.workspace_id,
        measurement_id=body.measurement_id,
        api_secret=body.api_secret,
        now=datetime.now(UTC),
    )
    return Ga4PropertyOut.model_validate(
        await property_view(session, workspace_id=principal.workspace_id)
    )


@router.get("", response_model=Ga4PropertyOut)
async def get_property(principal: AnalystDep, session: SessionDep) -> Ga4PropertyOut:
    return Ga4PropertyOut.model_validate(
        await property_view(session, workspace_id=principal.workspace_id)
    )


@router.delete("", status_code=204)
async def delete_property(principal: AnalyticsSettingsDep, session: SessionDep) -> None:
    """Stops sending clicks; those not sent yet are dropped."""
    await remove_property(session, workspace_id=principal.workspace_id)
