"""Best time to post, per channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.metrics.api.deps import AnalystDep, SettingsDep
from services.metrics.best_times import current_best_times
from services.metrics.charts import best_times_heatmap
from services.metrics.responses import CHART_RESPONSES, chart_asked, csv_response, wants
from services.metrics.schemas import BestTimesReport
from shared.service import SessionDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


@router.get(
    "/best-times",
    response_model=BestTimesReport,
    responses=CHART_RESPONSES,
)
async def best_times(
    request: Request,
    principal: AnalystDep,
    session: SessionDep,
    settings: SettingsDep,
    channel_id: Annotated[UUID, Query()],
    language: Annotated[str | None, Query(description="Chart labels: en, he or is")] = None,
) -> BestTimesReport | Response:
    report = await current_best_times(
        session,
        workspace_id=principal.workspace_id,
        channel_id=channel_id,
        prior_posts=settings.best_times_prior_posts,
        slot_count=settings.best_times_slots,
        now=datetime.now(UTC),
    )
    image = chart_asked(request, language)
    if image is not None:
        scores = [[c["score"] if report["posts"] else None for c in row] for row in report["grid"]]
        slots = [(s["weekday"], s["hour"]) for s in report["slots"]]
        return await image.response(
            lambda: best_times_heatmap(
                scores,
                slots=slots,
                language=image.language,
                timezone=report["timezone"],
                fmt=image.fmt,
            )
        )
    if wants(request, "text/csv"):
        rows = [c for row in report["grid"] for c in row]
        return csv_response(
            columns=["weekday", "hour", "score", "rate", "posts"],
            rows=rows,
            filename=f"best-times-{channel_id}.csv",
        )
    return BestTimesReport.model_validate(report)
