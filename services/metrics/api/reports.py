"""Reports over a range: summary, top posts, inbox figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.metrics import charts
from services.metrics.api.deps import AnalystDep, SettingsDep
from services.metrics.inbox import inbox_by_language, inbox_report, response_times_by_day
from services.metrics.report_figures import engagement_by_day, post_texts
from services.metrics.reports import (
    SUMMARY_FIGURES,
    Filters,
    Range,
    check_channel,
    check_metric,
    content_report,
    report_range,
    summary_report,
    top_posts,
)
from services.metrics.responses import (
    CHART_RESPONSES,
    ChartAsked,
    chart_asked,
    csv_response,
    wants,
)
from services.metrics.schemas import (
    ContentComparison,
    ContentGroup,
    InboxReport,
    Summary,
    TopPost,
    TopPosts,
)
from shared.errors import ValidationFailed
from shared.networks import NETWORKS
from shared.service import SessionDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

FromQ = Annotated[datetime | None, Query(alias="from", description="Start (UTC if no offset)")]
ToQ = Annotated[datetime | None, Query(alias="to", description="End, exclusive")]
ChannelQ = Annotated[UUID | None, Query()]
NetworkQ = Annotated[str | None, Query()]
CSV = {200: {"content": {"text/csv": {}}}}
LanguageQ = Annotated[str | None, Query(description="Chart labels: en, he or is")]


async def _filters(
    session: SessionDep,
    *,
    workspace_id: UUID,
    channel_id: UUID | None,
    network: str | None,
    campaign: str | None = None,
    tag: str | None = None,
) -> Filters:
    if network is not None and network not in NETWORKS:
        raise ValidationFailed(f"Unknown network {network!r}.", field="network")
    if channel_id is not None:
        await check_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    return Filters(channel_id=channel_id, network=network, campaign=campaign, tag=tag)


@dataclass(frozen=True)
class ReportAsked:
    """The range and filters a report is asked for."""

    rng: Range
    filters: Filters


async def report_filters(
    principal: AnalystDep,
    session: SessionDep,
    channel_id: ChannelQ = None,
    network: NetworkQ = None,
    campaign: Annotated[str | None, Query()] = None,
    tag: Annotated[str | None, Query()] = None,
) -> Filters:
    return await _filters(
        session,
        workspace_id=principal.workspace_id,
        channel_id=channel_id,
        network=network,
        campaign=campaign,
        tag=tag,
    )


FiltersDep = Annotated[Filters, Depends(report_filters)]


async def report_asked(
    settings: SettingsDep, filters: FiltersDep, start: FromQ = None, end: ToQ = None
) -> ReportAsked:
    rng = report_range(
        start=start, end=end, now=datetime.now(UTC), max_days=settings.max_report_days
    )
    return ReportAsked(rng=rng, filters=filters)


ReportAskedDep = Annotated[ReportAsked, Depends(report_asked)]


@router.get("/summary", response_model=Summary, responses=CHART_RESPONSES)
async def summary(
    request: Request,
    principal: AnalystDep,
    session: SessionDep,
    asked: ReportAskedDep,
    language: LanguageQ = None,
) -> Summary | Response:
    """The range's growth; as a chart (`Accept: image/png` or `image/svg+xml`), engagements
    per day and network in the workspace's time zone."""
    rng, filters = asked.rng, asked.filters
    image = chart_asked(request, language)
    if image is not None:
        tz = principal.timezone
        series = await engagement_by_day(
            session, workspace_id=principal.workspace_id, rng=rng, filters=filters, timezone=tz
        )
        points = {
            net: [(date.fromisoformat(d), v) for d, v in days] for net, days in series.items()
        }
        return await image.response(
            lambda: charts.engagement_over_time(
                points, language=image.language, timezone=tz, fmt=image.fmt
            )
        )
    report = await summary_report(
        session, workspace_id=principal.workspace_id, rng=rng, filters=filters
    )
    if wants(request, "text/csv"):
        head = ["from", "to", *SUMMARY_FIGURES]
        row = {**report, "from": rng.start.isoformat(), "to": rng.end.isoformat()}
        return csv_response(columns=head, rows=[row], filename="summary.csv")
    return Summary.model_validate(report)


@router.get("/top-posts", response_model=TopPosts, responses=CHART_RESPONSES)
async def top(
    request: Request,
    principal: AnalystDep,
    session: SessionDep,
    settings: SettingsDep,
    filters: FiltersDep,
    metric: Annotated[str, Query()] = "engagements",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    start: FromQ = None,
    end: ToQ = None,
    language: LanguageQ = None,
) -> TopPosts | Response:
    check_metric(metric)
    rng = None
    if start is not None or end is not None:
        rng = report_range(
            start=start, end=end, now=datetime.now(UTC), max_days=settings.max_report_days
        )
    items = await top_posts(
        session,
        workspace_id=principal.workspace_id,
        metric=metric,
        limit=limit,
        rng=rng,
        filters=filters,
    )
    image = chart_asked(request, language)
    if image is not None:
        texts = await post_texts(session, [i["post_id"] for i in items])
        bars = [
            (texts.get(i["post_id"]) or str(i["post_id"]), i["value"], i["networks"][0])
            for i in items
        ]
        return await image.response(
            lambda: charts.top_posts_bars(
                bars, language=image.language, metric_label=metric, fmt=image.fmt
            )
        )
    if wants(request, "text/csv"):
        rows = [
            {
                **i,
                "networks": " ".join(i["networks"]),
                "published_at": i["published_at"].isoformat(),
            }
            for i in items
        ]
        return csv_response(
            columns=["post_id", "metric", "value", "published_at", "networks", "campaign"],
            rows=rows,
            filename="top-posts.csv",
        )
    return TopPosts(items=[TopPost.model_validate(i) for i in items])


CONTENT_COLUMNS = [
    "key",
    "posts",
    "engagements",
    "views",
    "engagements_per_post",
    "engagement_rate",
]


async def _content(
    request: Request, principal: AnalystDep, session: SessionDep, asked: ReportAsked, *, by: str
) -> ContentComparison | Response:
    items = await content_report(
        session, workspace_id=principal.workspace_id, rng=asked.rng, filters=asked.filters, by=by
    )
    if wants(request, "text/csv"):
        columns = [by if c == "key" else c for c in CONTENT_COLUMNS]
        rows = [{by if k == "key" else k: v for k, v in i.items()} for i in items]
        return csv_response(columns=columns, rows=rows, filename=f"{by}s.csv")
    return ContentComparison(
        from_=asked.rng.start,
        to=asked.rng.end,
        group_by=by,  # type: ignore[arg-type]
        items=[ContentGroup.model_validate(i) for i in items],
    )


@router.get("/content-types", response_model=ContentComparison, responses=CSV)
async def content_types(
    request: Request, principal: AnalystDep, session: SessionDep, asked: ReportAskedDep
) -> ContentComparison | Response:
    """Engagement in the range per content type of the posts (text, image, video, gif)."""
    return await _content(request, principal, session, asked, by="content_type")


@router.get("/hashtags", response_model=ContentComparison, responses=CSV)
async def hashtags(
    request: Request, principal: AnalystDep, session: SessionDep, asked: ReportAskedDep
) -> ContentComparison | Response:
    """Engagement in the range per hashtag of the posts' text (a post counts under each)."""
    return await _content(request, principal, session, asked, by="hashtag")


@router.get("/inbox", response_model=InboxReport, responses=CHART_RESPONSES)
async def inbox(
    request: Request,
    principal: AnalystDep,
    session: SessionDep,
    settings: SettingsDep,
    start: FromQ = None,
    end: ToQ = None,
    channel_id: ChannelQ = None,
    network: NetworkQ = None,
    language: Annotated[
        str | None,
        Query(pattern=r"^([a-z]{2,3}|unknown)$", description="ISO 639-1 code, or `unknown`"),
    ] = None,
    chart: Annotated[
        Literal["languages", "response_times"],
        Query(description="Which chart an image is: volume and sentiment per message "
              "language, or first-response times per day"),
    ] = "languages",
) -> InboxReport | Response:
    rng = report_range(
        start=start, end=end, now=datetime.now(UTC), max_days=settings.max_report_days
    )
    filters = await _filters(
        session, workspace_id=principal.workspace_id, channel_id=channel_id, network=network
    )
    # `language` here filters messages; chart labels follow Accept-Language.
    image = chart_asked(request, None)
    if image is not None:
        return await _inbox_chart(
            session, principal, rng, chart=chart, image=image, channel_id=channel_id
        )
    report = await inbox_report(
        session,
        workspace_id=principal.workspace_id,
        start=rng.start,
        end=rng.end,
        channel_id=filters.channel_id,
        network=filters.network,
        language=language,
    )
    if wants(request, "text/csv"):
        columns = [
            "day",
            "messages",
            "comments",
            "mentions",
            "dms",
            "sentiment",
            "positive",
            "negative",
        ]
        return csv_response(columns=columns, rows=report["days"], filename="inbox.csv")
    return InboxReport.model_validate(report)


async def _inbox_chart(
    session: SessionDep, principal: AnalystDep, rng: Range, *, chart: str, image: ChartAsked,
    channel_id: UUID | None,
) -> Response:
    ws, tz = principal.workspace_id, principal.timezone
    if chart == "languages":
        rows = await inbox_by_language(
            session, workspace_id=ws, start=rng.start, end=rng.end,
            channel_ids=(channel_id,) if channel_id else (),
        )
        bars = [(r["language"], r["messages"], r["sentiment"]) for r in rows]
        return await image.response(
            lambda: charts.inbox_by_language(bars, language=image.language, fmt=image.fmt)
        )
    days = await response_times_by_day(
        session, workspace_id=ws, start=rng.start, end=rng.end, timezone=tz
    )
    points = [(d["day"], d["p50"], d["p90"]) for d in days]
    return await image.response(
        lambda: charts.response_times(
            points, language=image.language, timezone=tz, fmt=image.fmt
        )
    )

