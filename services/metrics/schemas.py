"""Request and response models of the metrics API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, HttpUrl


class Point(BaseModel):
    at: datetime
    value: float | None


class MetricSeries(BaseModel):
    metric: str
    network_metric: str
    points: list[Point]


class TrackedTarget(BaseModel):
    target_id: UUID
    channel_id: UUID
    network: str
    external_id: str
    url: str | None
    published_at: datetime
    latest: dict[str, float | None] = Field(default_factory=dict)
    series: list[MetricSeries] = Field(default_factory=list)


class PostAnalytics(BaseModel):
    post_id: UUID
    targets: list[TrackedTarget]
    # Latest value per common metric summed over the targets; null = no network reported it.
    totals: dict[str, float | None] = Field(default_factory=dict)


class RefreshAccepted(BaseModel):
    post_id: UUID
    targets: int


class Summary(BaseModel):
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    posts_published: int
    engagements: float
    engagement_rate: float | None
    views: float
    reach: float
    followers_gained: float
    metrics: dict[str, float]

    model_config = {"populate_by_name": True}


class TopPost(BaseModel):
    post_id: UUID
    metric: str
    value: float
    published_at: datetime
    networks: list[str]
    campaign: str | None


class TopPosts(BaseModel):
    items: list[TopPost]


class InboxDay(BaseModel):
    day: str
    messages: int
    comments: int
    mentions: int
    dms: int
    sentiment: float | None
    positive: int
    negative: int


class InboxLanguage(BaseModel):
    # ISO 639-1; null for messages whose language could not be told.
    language: str | None
    messages: int
    positive: int
    negative: int
    # Messages in a language no sentiment scorer covers.
    unscored: int
    sentiment: float | None


class InboxReport(BaseModel):
    volume: int
    days: list[InboxDay]
    languages: list[InboxLanguage] = []
    responses: int
    first_response_p50_seconds: float | None
    first_response_p90_seconds: float | None
    resolutions: int = 0
    resolution_p50_seconds: float | None = None
    resolution_p90_seconds: float | None = None
    # Conversations that went past their response-time target in the period.
    sla_breaches: int = 0


class ContentGroup(BaseModel):
    key: str
    posts: int
    engagements: float
    views: float
    engagements_per_post: float
    engagement_rate: float | None


class ContentComparison(BaseModel):
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    group_by: Literal["content_type", "hashtag"]
    items: list[ContentGroup]

    model_config = {"populate_by_name": True}


class Cell(BaseModel):
    weekday: int
    hour: int
    score: float
    rate: float | None
    posts: int


class Slot(BaseModel):
    weekday: int
    hour: int
    score: float
    posts: int


class BestTimesReport(BaseModel):
    channel_id: UUID
    timezone: str
    basis: Literal["engagement_rate", "engagements"]
    weekday_numbering: str = "0=Monday"
    channel_mean: float | None
    posts: int
    prior_posts: float
    grid: list[list[Cell]]
    slots: list[Slot]
    computed_at: datetime


UtmKey = Literal["source", "medium", "campaign", "term", "content"]


class LinkCreate(BaseModel):
    url: HttpUrl
    post_id: UUID | None = None
    # At most the five UTM parameters.
    utm: dict[
        Annotated[str, Field(max_length=20)], Annotated[str, Field(min_length=1, max_length=200)]
    ] = Field(default_factory=dict, max_length=5)


class LinkOut(BaseModel):
    id: UUID
    code: str
    short_url: str
    url: str
    destination: str
    post_id: UUID | None
    utm: dict[str, str]
    created_at: datetime
    clicks: int = 0
    bot_clicks: int = 0


class LinkPage(BaseModel):
    items: list[LinkOut]
    next_cursor: str | None


class ConversionCreate(BaseModel):
    # A short link's code (the column is VARCHAR(20)).
    link_code: str | None = Field(default=None, max_length=20)
    post_id: UUID | None = None
    name: str = Field(default="conversion", min_length=1, max_length=100)
    # 1e400 in JSON reads as infinity: stored, it would make every sum of values infinite.
    value: float | None = Field(default=None, allow_inf_nan=False)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    occurred_at: datetime | None = None


class ConversionOut(BaseModel):
    id: UUID
    link_code: str | None
    post_id: UUID | None
    name: str
    value: float | None
    currency: str | None
    occurred_at: datetime


class ConversionRate(BaseModel):
    key: str | None
    clicks: int
    conversions: int
    rate: float | None
    value: float


class ConversionRates(BaseModel):
    group_by: str
    items: list[ConversionRate]


class ReportCreate(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    # The campaign the posts were published under (`campaign` of `POST /v1/posts`).
    campaign_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    channel_ids: Annotated[list[UUID], Field(max_length=50)] | None = None
    language: Annotated[str, Field(max_length=5)] = "en"
    # The zone days and dates are read in; the workspace's when absent.
    timezone: Annotated[str, Field(max_length=64)] | None = None

    model_config = {"populate_by_name": True}


class ReportAccepted(BaseModel):
    id: UUID
    status: str


class ReportFileOut(BaseModel):
    format: Literal["pdf", "html", "csv"]
    url: str


class ReportOut(BaseModel):
    id: UUID
    status: Literal["queued", "running", "ready", "failed"]
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    campaign_id: str | None
    channel_ids: list[UUID] | None
    language: str
    timezone: str
    schedule_id: UUID | None
    created_at: datetime
    ready_at: datetime | None
    error: str | None
    # When ready: the PDF's signed link, every format's, and when they stop working.
    download_url: str | None = None
    files: list[ReportFileOut] | None = None
    expires_at: datetime | None = None
    # The numbers the documents show, as generated.
    figures: dict[str, Any] | None = None

    model_config = {"populate_by_name": True}


class ReportPage(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None


class ReportScheduleCreate(BaseModel):
    day_of_month: Annotated[int, Field(ge=1, le=28)] = 1
    at: Annotated[str, Field(max_length=5, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "09:00"
    timezone: Annotated[str, Field(max_length=64)] | None = None
    language: Annotated[str, Field(max_length=5)] = "en"
    campaign_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    channel_ids: Annotated[list[UUID], Field(max_length=50)] | None = None


class ReportScheduleOut(BaseModel):
    id: UUID
    day_of_month: int
    at: str
    timezone: str
    language: str
    campaign_id: str | None
    channel_ids: list[UUID] | None
    next_run_at: datetime


class ReportSchedules(BaseModel):
    items: list[ReportScheduleOut]
    next_cursor: str | None = None


class Ga4PropertyIn(BaseModel):
    measurement_id: Annotated[str, Field(max_length=22, pattern=r"^G-[A-Z0-9]{4,20}$")]
    api_secret: Annotated[str, Field(min_length=8, max_length=200)]


class Ga4PropertyOut(BaseModel):
    # The API secret is never shown again.
    measurement_id: str
    updated_at: datetime
    hits_pending: int
    hits_sent: int


class CampaignGoalProgress(BaseModel):
    metric: str
    target: float
    actual: float
    # actual / target (1.0 is the goal reached).
    progress: float


class CampaignFigures(BaseModel):
    posts: int
    reach: float
    engagements: float
    clicks: int
    conversions: int
    # Conversions per human click; null without clicks.
    conversion_rate: float | None


class CampaignNetworkFigures(CampaignFigures):
    network: str


class CampaignReport(BaseModel):
    campaign_id: UUID
    name: str
    starts_at: datetime | None
    ends_at: datetime | None
    goal: CampaignGoalProgress | None
    totals: CampaignFigures
    networks: list[CampaignNetworkFigures]
