"""Per-post analytics and on-demand collection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.metrics.api.deps import AnalystDep, RefreshDep
from services.metrics.charts import post_series
from services.metrics.collection import request_refresh
from services.metrics.reports import check_metric, post_report
from services.metrics.responses import CHART_RESPONSES, chart_asked, csv_response, wants
from services.metrics.schemas import PostAnalytics, RefreshAccepted
from shared.service import SessionDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


@router.get(
    "/posts/{post_id}",
    response_model=PostAnalytics,
    responses=CHART_RESPONSES,
)
async def post_analytics(
    post_id: UUID,
    request: Request,
    principal: AnalystDep,
    session: SessionDep,
    metric: Annotated[str | None, Query(description="Only this common metric")] = None,
    language: Annotated[str | None, Query(description="Chart labels: en, he or is")] = None,
) -> PostAnalytics | Response:
    if metric is not None:
        check_metric(metric)
    report = await post_report(
        session, workspace_id=principal.workspace_id, post_id=post_id, metric=metric
    )
    if wants(request, "text/csv"):
        rows = [
            (
                t["target_id"],
                t["network"],
                s["metric"],
                s["network_metric"],
                p["at"].isoformat(),
                p["value"],
            )
            for t in report["targets"]
            for s in t["series"]
            for p in s["points"]
        ]
        return csv_response(
            columns=("target_id", "network", "metric", "network_metric", "collected_at", "value"),
            rows=rows,
            filename=f"post-{post_id}.csv",
        )
    image = chart_asked(request, language)
    if image is not None:
        # One line per target of the chosen metric (views unless asked otherwise).
        chosen = metric or "views"
        lines = [
            (t["network"], [(p["at"], p["value"]) for p in s["points"] if p["value"] is not None])
            for t in report["targets"]
            for s in t["series"]
            if s["metric"] == chosen
        ]
        return await image.response(
            lambda: post_series(
                lines,
                metric=chosen,
                language=image.language,
                timezone=principal.timezone,
                fmt=image.fmt,
            )
        )
    return PostAnalytics.model_validate(report)


@router.post("/posts/{post_id}/refresh", status_code=202, response_model=RefreshAccepted)
async def refresh_post(
    post_id: UUID, principal: RefreshDep, session: SessionDep
) -> RefreshAccepted:
    targets = await request_refresh(
        session, workspace_id=principal.workspace_id, post_id=post_id, now=datetime.now(UTC)
    )
    return RefreshAccepted(post_id=post_id, targets=targets)
