"""Request and response models of the scheduler API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    url: str = Field(min_length=1, max_length=2000)
    kind: Literal["image", "video", "gif"] = "image"
    alt: str | None = Field(default=None, max_length=2000)
    size_bytes: int | None = Field(default=None, ge=0)
    mime: str | None = Field(default=None, max_length=255)
    duration_s: float | None = Field(default=None, ge=0)


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
    campaign: str | None = Field(default=None, max_length=200)
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


class PostOut(BaseModel):
    id: UUID
    status: str
    version: int
    text: str
    media: list[MediaIn]
    tags: list[str]
    campaign: str | None
    schedule: dict[str, Any] | None
    evergreen: EvergreenIn | None = None
    created_at: datetime
    updated_at: datetime
    targets: list[TargetOut]


class TargetCheck(BaseModel):
    channel_id: UUID
    network: str
    length: int
    limit: int
    counting: str
    valid: bool
    problems: list[dict[str, str]]


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
    # An alternative to If-Match for clients that cannot set headers.
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


class WorkspaceSettingsIn(BaseModel):
    approval_required: bool | None = None
    # Targets found later than this after their due time are marked missed, not published.
    missed_after_seconds: int | None = Field(default=None, ge=60, le=7 * 24 * 3600)


class WorkspaceSettingsOut(BaseModel):
    approval_required: bool
    missed_after_seconds: int


class SlotIn(BaseModel):
    weekday: int = Field(ge=0, le=6, description="0 is Monday")
    time: str = Field(max_length=5, description="HH:MM in the channel's timezone")
    cap: int = Field(default=1, ge=1, le=100)


class SlotOut(BaseModel):
    weekday: int
    time: str
    cap: int


class CalendarItem(BaseModel):
    post_id: UUID
    target_id: UUID
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
