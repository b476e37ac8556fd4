"""Best time to post, per channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.metrics.api.deps import AnalystDep, SettingsDep
from services.metrics.api.render import csv_response, png_response, wants
from services.metrics.best_times import current_best_times
from services.metrics.charts import heatmap_png
from services.metrics.schemas import BestTimesReport
from shared.service import SessionDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


@router.get(
    "/best-times",
    response_model=BestTimesReport,
    responses={200: {"content": {"text/csv": {}, "image/png": {}}}},
)
async def best_times(
    request: Request,
    principal: AnalystDep,
    session: SessionDep,
    settings: SettingsDep,
    channel_id: Annotated[UUID, Query()],
) -> BestTimesReport | Response:
    report = await current_best_times(
        session,
        workspace_id=principal.workspace_id,
        channel_id=channel_id,
        prior_posts=settings.best_times_prior_posts,
        slot_count=settings.best_times_slots,
        now=datetime.now(UTC),
    )
    if wants(request, "image/png"):
        scores = [[c["score"] if report["posts"] else None for c in row] for row in report["grid"]]
        return png_response(
            heatmap_png(scores, highlight=[(s["weekday"], s["hour"]) for s in report["slots"]])
        )
    if wants(request, "text/csv"):
        rows = [c for row in report["grid"] for c in row]
        return csv_response(
            columns=["weekday", "hour", "score", "rate", "posts"],
            rows=rows,
            filename=f"best-times-{channel_id}.csv",
        )
    return BestTimesReport.model_validate(report)
