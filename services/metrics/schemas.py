"""Request and response models of the metrics API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
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


class InboxReport(BaseModel):
    volume: int
    days: list[InboxDay]
    responses: int
    first_response_p50_seconds: float | None
    first_response_p90_seconds: float | None
    resolutions: int = 0
    resolution_p50_seconds: float | None = None
    resolution_p90_seconds: float | None = None


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
    utm: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=dict
    )


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
    link_code: str | None = None
    post_id: UUID | None = None
    name: str = Field(default="conversion", min_length=1, max_length=100)
    value: float | None = None
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
