"""Crisis alerts and the thresholds that raise them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.inbox.api.deps import ReaderDep, RulesDep, audited
from services.inbox.crisis import Thresholds
from services.inbox.models import Alert, CrisisSettings
from services.inbox.paging import newest_first
from services.inbox.schemas import AlertOut, AlertPage, CrisisSettingsIn, CrisisSettingsOut
from shared.errors import NotFound
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


def _out(alert: Alert) -> AlertOut:
    out = AlertOut.model_validate(alert, from_attributes=True)
    # Alerts raised before reasons were recorded have none.
    out.reason = alert.evidence.get("reason")
    out.languages = list(alert.evidence.get("crisis_languages") or [])
    return out


@router.get("", response_model=AlertPage, summary="Crisis alerts, newest first")
async def list_alerts(
    principal: ReaderDep,
    session: SessionDep,
    status: Literal["open", "resolved"] | None = None,
    channel_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> AlertPage:
    query = select(Alert).where(Alert.workspace_id == principal.workspace_id)
    if status is not None:
        query = query.where(Alert.status == status)
    if channel_id is not None:
        query = query.where(Alert.channel_id == channel_id)
    page, next_cursor = await newest_first(
        session, query, at=Alert.detected_at, id_=Alert.id, cursor=cursor, limit=limit
    )
    return AlertPage(items=[_out(a) for a in page], next_cursor=next_cursor)


def _settings_out(row: CrisisSettings | None) -> CrisisSettingsOut:
    return CrisisSettingsOut(**asdict(Thresholds.of(row)), customised=row is not None)


@router.get("/settings", response_model=CrisisSettingsOut, summary="Crisis thresholds")
async def get_settings(principal: ReaderDep, session: SessionDep) -> CrisisSettingsOut:
    return _settings_out(await session.get(CrisisSettings, principal.workspace_id))


@router.put("/settings", response_model=CrisisSettingsOut, summary="Set the crisis thresholds")
async def put_settings(
    body: CrisisSettingsIn, principal: RulesDep, session: SessionDep, runtime: RuntimeDep
) -> CrisisSettingsOut:
    """Replaces the workspace's thresholds; the next evaluation uses them."""
    values = {**body.model_dump(), "updated_by": principal.principal_id}
    await session.execute(
        pg_insert(CrisisSettings)
        .values(workspace_id=principal.workspace_id, **values)
        .on_conflict_do_update(index_elements=[CrisisSettings.workspace_id], set_=values)
    )
    row = await session.get(CrisisSettings, principal.workspace_id, populate_existing=True)
    await audited(
        session,
        runtime,
        principal,
        "crisis_settings.changed",
        "workspace",
        principal.workspace_id,
        **body.model_dump(mode="json"),
    )
    return _settings_out(row)


@router.get("/{alert_id}", response_model=AlertOut, summary="One crisis alert")
async def get_alert(alert_id: UUID, principal: ReaderDep, session: SessionDep) -> AlertOut:
    alert = await session.scalar(
        select(Alert).where(Alert.id == alert_id, Alert.workspace_id == principal.workspace_id)
    )
    if alert is None:
        raise NotFound(f"No alert {alert_id} in this workspace.")
    return _out(alert)
