"""Request and response models of the scheduler API."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.scheduler.models import Campaign, Post, ReviewLink, Target, Template
from services.scheduler.timing import local_time
from services.scheduler.workspaces import Defaults

# Bounds of what a client may send, from the columns that keep it and the networks' rules:
# the longest post any network takes is Facebook's 63,206 characters; a tag is a VARCHAR(100);
# an IANA zone name a VARCHAR(64).
MAX_TEXT = 100_000
MAX_MEDIA = 40
MAX_TAGS = 50
Tag = Annotated[str, Field(max_length=100)]
TimeZone = Annotated[str, Field(max_length=64)]
# Target options (first comment, thread parts, poll, title…): how many, and how large in all.
MAX_OPTIONS = 30
MAX_OPTIONS_BYTES = 64 * 1024
# Posting slots of one channel: one every ten minutes of the week is already 1,008.
MAX_SLOTS = 1_008
# Posts of one channel's queue reordered at once.
MAX_QUEUE = 10_000


class MediaIn(BaseModel):
    """A media URL, or `{"media_id"}` of a media library item (whose kind, type, size,
    dimensions and duration are then the ones measured from its bytes)."""

    media_id: UUID | None = None
    url: str = Field(default="", max_length=2000)
    kind: Literal["image", "video", "gif"] = "image"
    alt: str | None = Field(default=None, max_length=2000)
    size_bytes: int | None = Field(default=None, ge=0)
    mime: str | None = Field(default=None, max_length=255)
    duration_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    width: int | None = Field(default=None, ge=0)
    height: int | None = Field(default=None, ge=0)
    rotated: bool | None = None

    @model_validator(mode="after")
    def _url_or_library(self) -> MediaIn:
        if self.media_id is None and not self.url:
            raise ValueError('a media item needs "url" or "media_id"')
        return self


class MediaOut(BaseModel):
    id: UUID
    kind: str
    mime: str
    size_bytes: int
    width: int
    height: int
    duration_s: float | None
    aspect_ratio: str
    # Everything preflight measured: format, animated, frame rate, codecs, bitrate, audio.
    facts: dict[str, Any]
    name: str
    alt: str | None
    tags: list[str]
    source_url: str | None
    created_at: datetime
    # A signed, expiring URL of the original file.
    url: str


class MediaPage(BaseModel):
    items: list[MediaOut]
    next_cursor: str | None


class MediaImportIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000)
    name: str | None = Field(default=None, max_length=300)
    alt: str | None = Field(default=None, max_length=2000)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)


class TargetIn(BaseModel):
    channel_id: UUID
    # None: the post's base copy and media.
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    media: list[MediaIn] | None = Field(default=None, max_length=MAX_MEDIA)
    options: dict[Annotated[str, Field(max_length=100)], Any] = Field(
        default_factory=dict, max_length=MAX_OPTIONS
    )

    @field_validator("options")
    @classmethod
    def _options_size(cls, options: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(options, default=str)) > MAX_OPTIONS_BYTES:
            raise ValueError(f"options may take at most {MAX_OPTIONS_BYTES} bytes as JSON")
        return options


class ScheduleIn(BaseModel):
    """One of `{"at", "timezone"}`, `{"now": true}`, `{"queue": true}`, `{"best": true}` or
    `{"rrule", "at", "timezone", "exdates"?, "until"?, "count"?}` (a recurring post whose first
    occurrence is `at`; `exdates`, `until` are wall-clock times in `timezone`)."""

    at: datetime | None = None
    timezone: TimeZone | None = None
    now: bool = False
    queue: bool = False
    best: bool = False
    rrule: str | None = Field(default=None, max_length=1000)
    exdates: list[datetime] = Field(default_factory=list, max_length=1000)
    until: datetime | None = None
    count: int | None = Field(default=None, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_way(self) -> ScheduleIn:
        ways = [self.at is not None, self.now, self.queue, self.best]
        if sum(ways) != 1:
            raise ValueError('give exactly one of "at", "now": true, "queue": true, "best": true')
        if self.rrule is not None and self.at is None:
            raise ValueError('a recurring schedule ("rrule") needs "at", its first occurrence')
        if self.rrule is None and (self.exdates or self.until is not None or self.count):
            raise ValueError('"exdates", "until" and "count" only go with "rrule"')
        return self


class EvergreenIn(BaseModel):
    """Re-queue the post into its channels' free slots after each publication."""

    min_gap_days: int = Field(ge=1, le=3650)


class PostIn(BaseModel):
    text: str = Field(default="", max_length=MAX_TEXT)
    media: list[MediaIn] = Field(default_factory=list, max_length=MAX_MEDIA)
    targets: list[TargetIn] = Field(min_length=1, max_length=50)
    schedule: ScheduleIn | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    # The campaign by name (made if the workspace has none by that name) or by id.
    campaign: str | None = Field(default=None, max_length=200)
    campaign_id: UUID | None = None
    evergreen: EvergreenIn | None = None


class TargetOut(BaseModel):
    id: UUID
    channel_id: UUID
    network: str
    status: str
    due_at: datetime | None
    # The due time on the wall clock it was planned in.
    local_due_at: datetime | None = None
    timezone: str | None
    published_at: datetime | None
    external_id: str | None
    url: str | None
    error: str | None
    # While `retrying`: attempts so far and when the next one is (`error` is the last one's).
    attempts: int = 0
    next_attempt_at: datetime | None = None
    text: str | None
    media: list[MediaIn] | None
    options: dict[str, Any]
    # Once out: the last change asked of its network, and how it went.
    change: TargetChangeOut | None = None
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    remote_error: str | None = None


class TargetChangeOut(BaseModel):
    """An edit or removal of a published target asked of its network."""

    action: Literal["edit", "delete"]
    request_id: UUID
    # What the edit sets, in the network's words ("text", "title", "description").
    fields: dict[str, str] = Field(default_factory=dict)
    by: str | None = None
    requested_at: datetime
    # When the network's answer arrived (None: still under way).
    answered_at: datetime | None = None


class PostOut(BaseModel):
    id: UUID
    status: str
    version: int
    text: str
    media: list[MediaIn]
    tags: list[str]
    campaign: str | None
    campaign_id: UUID | None = None
    schedule: dict[str, Any] | None
    evergreen: EvergreenIn | None = None
    created_by: str = ""
    # In review: how many of the workspace's approval stages have approved.
    approval_stage: int = 0
    # Set on a post made from one occurrence of a recurring post: the series and the instant.
    series_id: UUID | None = None
    occurrence_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    targets: list[TargetOut]


class PostPage(BaseModel):
    items: list[PostOut]
    next_cursor: str | None


class LinkPreview(BaseModel):
    """The card a page declares for itself (Open Graph, else Twitter card tags, else <title>)."""

    url: str
    title: str
    description: str
    image: str | None


class TargetCheck(BaseModel):
    channel_id: UUID
    network: str
    length: int
    limit: int
    counting: str
    valid: bool
    problems: list[dict[str, str]]
    # Present only where the post's card is built from the page's own tags (Bluesky, LinkedIn,
    # Facebook, Threads) and the variant has a link and no media; null when the page could
    # not be read (the post is still valid, the link goes out without a card).
    preview: LinkPreview | None = None


class ValidationOut(BaseModel):
    valid: bool
    targets: list[TargetCheck]


class PostPatch(BaseModel):
    """Only the fields given change; `"schedule": null` takes a post off the calendar."""

    text: str | None = Field(default=None, max_length=MAX_TEXT)
    media: list[MediaIn] | None = Field(default=None, max_length=MAX_MEDIA)
    # The whole new list: channels kept keep their target, new ones are added, others removed.
    targets: list[TargetIn] | None = Field(default=None, min_length=1, max_length=50)
    schedule: ScheduleIn | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    campaign: str | None = Field(default=None, max_length=200)
    campaign_id: UUID | None = None
    # An alternative to If-Match for clients that cannot set headers.
    version: int | None = None


class OccurrencePatch(BaseModel):
    """One occurrence of a recurring post, edited alone (it becomes a post of its own).

    Fields not given come from the series; `at` (wall clock in `timezone`, else the series'
    zone, else each channel's) moves it; `targets` may only name channels it goes out on."""

    text: str | None = Field(default=None, max_length=100_000)
    media: list[MediaIn] | None = Field(default=None, max_length=40)
    targets: list[TargetIn] | None = Field(default=None, min_length=1, max_length=50)
    at: datetime | None = None
    timezone: str | None = Field(default=None, max_length=64)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    campaign: str | None = Field(default=None, max_length=200)
    # An alternative to If-Match for clients that cannot set headers (the series' version).
    version: int | None = None


class ReviewIn(BaseModel):
    comment: str | None = Field(default=None, max_length=5000)


class TransitionOut(BaseModel):
    target_id: UUID | None
    from_status: str | None
    to_status: str
    by: str
    comment: str | None
    at: datetime


class ApprovalStageIn(BaseModel):
    """One approval stage: who may approve at it (any approver when neither is given)."""

    name: str = Field(min_length=1, max_length=50)
    roles: list[Literal["owner", "admin", "reviewer"]] = Field(default_factory=list, max_length=3)
    # Principal ids (members, keys) who may approve at this stage.
    principals: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=100
    )


class WorkspaceSettingsIn(BaseModel):
    approval_required: bool | None = None
    # Targets found later than this after their due time are marked missed, not published.
    missed_after_seconds: int | None = Field(default=None, ge=60, le=7 * 24 * 3600)
    # In order, e.g. editor → legal → manager; [] is one approval by any approver.
    approval_stages: list[ApprovalStageIn] | None = Field(default=None, max_length=10)
    # Whoever created a post may not approve it, at any stage.
    forbid_self_approval: bool | None = None


class WorkspaceSettingsOut(BaseModel):
    approval_required: bool
    missed_after_seconds: int
    approval_stages: list[ApprovalStageIn] = Field(default_factory=list)
    forbid_self_approval: bool = False


class SlotIn(BaseModel):
    weekday: int = Field(ge=0, le=6, description="0 is Monday")
    time: str = Field(max_length=5, description="HH:MM in the channel's timezone")
    cap: int = Field(default=1, ge=1, le=100)


class SlotOut(BaseModel):
    weekday: int
    time: str
    cap: int


class PacingIn(BaseModel):
    """The channel's own cap of posts in any 24 hours; null: its network's limit."""

    daily_cap: int | None = Field(default=None, ge=1, le=10_000)


class PacingOut(BaseModel):
    channel_id: UUID
    network: str
    daily_cap: int | None
    # The network's documented limit of API posts per 24 h (null: none known).
    network_limit: int | None
    # What scheduling keeps to: the channel's cap, else the network's limit.
    effective: int | None


class CalendarItem(BaseModel):
    post_id: UUID
    # None for an occurrence of a recurring post that has no row yet (`materialised` false):
    # it is planned by the rule and becomes a target as its time comes within the horizon.
    target_id: UUID | None
    materialised: bool = True
    channel_id: UUID
    network: str
    status: str
    due_at: datetime
    local_due_at: datetime | None
    timezone: str | None
    text: str
    tags: list[str]
    campaign: str | None


class CalendarPage(BaseModel):
    items: list[CalendarItem]
    next_cursor: str | None


class QueueItem(BaseModel):
    post_id: UUID
    target_id: UUID
    status: str
    due_at: datetime
    local_due_at: datetime | None
    timezone: str | None
    text: str


class QueueOrder(BaseModel):
    """The channel's queued posts, every one of them, in the wanted order."""

    post_ids: list[UUID] = Field(max_length=MAX_QUEUE)


class CalendarFeedOut(BaseModel):
    url: str


class ImportOut(BaseModel):
    created: int
    posts: list[PostOut]


class FreezeIn(BaseModel):
    """Freezes the whole workspace's outgoing queue, or one channel's."""

    model_config = ConfigDict(extra="forbid")

    channel_id: UUID | None = None
    reason: str = Field(min_length=1, max_length=1000)


class ResumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_id: UUID | None = None


class FreezeOut(BaseModel):
    id: UUID
    # "workspace", or the channel id.
    scope: str
    channel_id: UUID | None
    reason: str
    frozen_by: str
    # The crisis alert that asked for it, when one did.
    alert_id: UUID | None
    frozen_at: datetime
    resumed_by: str | None
    resumed_at: datetime | None


class ResumeOut(BaseModel):
    # The freezes lifted, each with who froze it, why, and who resumed it.
    resumed: list[FreezeOut]
    # Targets that fell due while frozen, released now; those of them later than the
    # workspace's missed-post threshold are marked missed instead of going out.
    due: int
    past_threshold: int


class QueueStateOut(BaseModel):
    # The whole workspace's queue is frozen.
    frozen: bool
    # Every freeze in force: the workspace's and single channels'.
    freezes: list[FreezeOut]
    # Targets already due and waiting for a resume.
    held: int


class ImportRowError(BaseModel):
    row: int = Field(description="1 is the first row after the header")
    column: str
    field: str
    message: str
    code: str


class ImportCheckOut(BaseModel):
    """A dry run's verdict: what the import would do and every row's problems."""

    valid: bool
    rows: int
    valid_rows: int
    # Posts the rows would make (rows sharing a `post` key are one post).
    posts: int
    errors: list[ImportRowError]


class TemplateIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class TemplateOut(BaseModel):
    id: UUID
    name: str
    # What a post made from it starts with: a `POST /v1/posts` body without `schedule`.
    body: dict[str, Any]
    created_by: str
    created_at: datetime


class TemplatePage(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None


class TemplateUse(BaseModel):
    """A post from a template or a duplicate: the saved content, these fields over it.
    Without `schedule` the new post is a draft."""

    text: str | None = Field(default=None, max_length=100_000)
    media: list[MediaIn] | None = Field(default=None, max_length=40)
    targets: list[TargetIn] | None = Field(default=None, min_length=1, max_length=50)
    schedule: ScheduleIn | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    campaign: str | None = Field(default=None, max_length=200)


class UtmIn(BaseModel):
    """UTM parameters added to the links of the campaign's posts (without the `utm_`)."""

    source: str | None = Field(default=None, max_length=200)
    medium: str | None = Field(default=None, max_length=200)
    campaign: str | None = Field(default=None, max_length=200)
    term: str | None = Field(default=None, max_length=200)
    content: str | None = Field(default=None, max_length=200)


class GoalIn(BaseModel):
    """What the campaign aims at, e.g. 500 conversions."""

    metric: Literal["conversions", "clicks", "reach", "engagements"] = "conversions"
    target: float = Field(gt=0, le=1e12)


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    goal: GoalIn | None = None
    utm: UtmIn | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)


class CampaignPatch(BaseModel):
    """Only the fields given change; `null` clears dates, goal or UTM parameters."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    goal: GoalIn | None = None
    utm: UtmIn | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    version: int | None = None


class CampaignOut(BaseModel):
    id: UUID
    name: str
    starts_at: datetime | None
    ends_at: datetime | None
    goal: GoalIn | None
    utm: dict[str, str]
    tags: list[str]
    version: int
    created_at: datetime
    updated_at: datetime


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None


class ReviewLinkIn(BaseModel):
    # Who it is for, as the team will read it next to their comments.
    reviewer: str = Field(default="", max_length=200)
    expires_in_hours: int = Field(default=72, ge=1, le=24 * 365)


class ReviewLinkOut(BaseModel):
    id: UUID
    post_id: UUID
    reviewer: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class ReviewLinkCreated(ReviewLinkOut):
    # Shown once: the link is the credential.
    url: str
    token: str


class ReviewCommentIn(BaseModel):
    author: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=5000)


class ReviewCommentOut(BaseModel):
    id: UUID
    post_id: UUID
    link_id: UUID
    author: str
    text: str
    created_at: datetime


class ReviewedVariant(BaseModel):
    network: str
    text: str
    media: list[MediaIn]
    due_at: datetime | None
    local_due_at: datetime | None


class ReviewedPost(BaseModel):
    """What an external reviewer sees: one post, read only, and the comments left on it."""

    post_id: UUID
    status: str
    text: str
    media: list[MediaIn]
    variants: list[ReviewedVariant]
    comments: list[ReviewCommentOut]
    expires_at: datetime


# --- shaping the stored post for the API ---


def post_out(post: Post, targets: Sequence[Target]) -> PostOut:
    return PostOut(
        id=post.id,
        status=post.status,
        version=post.version,
        text=post.text,
        media=[MediaIn.model_validate(item) for item in post.media or []],
        tags=list(post.tags or []),
        campaign=post.campaign,
        campaign_id=post.campaign_id,
        schedule=post.schedule,
        evergreen=EvergreenIn(min_gap_days=post.evergreen_gap_days)
        if post.evergreen_gap_days
        else None,
        created_by=post.created_by,
        approval_stage=post.approval_stage or 0,
        series_id=post.series_id,
        occurrence_at=post.occurrence_at,
        created_at=post.created_at,
        updated_at=post.updated_at,
        targets=[
            TargetOut(
                id=t.id,
                channel_id=t.channel_id,
                network=t.network,
                status=t.status,
                due_at=t.due_at,
                local_due_at=local_time(t.due_at, t.timezone) if t.due_at and t.timezone else None,
                timezone=t.timezone,
                published_at=t.published_at,
                external_id=t.external_id,
                url=t.url,
                error=t.error,
                attempts=t.attempts,
                next_attempt_at=t.next_attempt_at,
                text=t.text,
                media=[MediaIn.model_validate(m) for m in t.media] if t.media is not None else None,
                options=t.options or {},
                change=change_out(t),
                edited_at=t.edited_at,
                deleted_at=t.deleted_at,
                remote_error=t.remote_error,
            )
            for t in targets
        ],
    )


def change_out(target: Target) -> TargetChangeOut | None:
    if target.change_request_id is None or target.change_requested_at is None:
        return None
    return TargetChangeOut(
        action="delete" if target.change_action == "delete" else "edit",
        request_id=target.change_request_id,
        fields=target.change_fields or {},
        by=target.change_by,
        requested_at=target.change_requested_at,
        answered_at=target.change_answered_at,
    )


def campaign_out(campaign: Campaign) -> CampaignOut:
    return CampaignOut.model_validate(campaign, from_attributes=True)


def template_out(template: Template) -> TemplateOut:
    return TemplateOut.model_validate(template, from_attributes=True)


def review_link_out(link: ReviewLink) -> ReviewLinkOut:
    return ReviewLinkOut.model_validate(link, from_attributes=True)


def settings_out(current: Defaults) -> WorkspaceSettingsOut:
    return WorkspaceSettingsOut(
        approval_required=current.approval_required,
        missed_after_seconds=current.missed_after_seconds,
        approval_stages=[ApprovalStageIn.model_validate(s) for s in current.approval_stages],
        forbid_self_approval=current.forbid_self_approval,
    )
