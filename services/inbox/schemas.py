"""Request and response models of the inbox API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.inbox.crisis import DEFAULTS
from shared.inputs import Int32


class ConversationItem(BaseModel):
    id: UUID
    network: str
    kind: str
    status: str
    channel_id: UUID
    post_id: UUID | None
    author: dict[str, Any]
    last_message_at: datetime
    # negative | neutral | positive, from the latest message; the score itself beside it.
    # Null when no scorer covers the message's language.
    sentiment: Literal["positive", "neutral", "negative"] | None
    sentiment_score: float | None
    # The latest message's language (BCP 47 / ISO 639-1), null when it could not be told.
    language: str | None = None
    priority: str
    tags: list[str]
    assignee: str | None
    # Something from the audience arrived since the team last read the thread.
    unread: bool = False
    # Past the workspace's response-time target for its priority, still unanswered.
    overdue: bool = False


class ConversationPage(BaseModel):
    items: list[ConversationItem]
    next_cursor: str | None


class MessageOut(BaseModel):
    id: UUID
    kind: str
    direction: str
    external_id: str | None
    parent_external_id: str | None
    author_id: str | None
    author_name: str | None
    author_handle: str | None
    text: str
    # BCP 47 / ISO 639-1, null when the message is too short or mixed to tell.
    language: str | None
    # positive | neutral | negative, null when no scorer covers the language.
    sentiment: Literal["positive", "neutral", "negative"] | None
    sentiment_score: float | None
    moderation: str | None = None
    delivery_status: str | None
    error: str | None
    sent_by: str | None
    sent_at: datetime


class NoteOut(BaseModel):
    id: UUID
    conversation_id: UUID
    author: str
    text: str
    created_at: datetime


class ConversationDetail(ConversationItem):
    post_external_id: str | None
    first_message_at: datetime
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    # The ETag: PATCH with `If-Match` refuses (412) when the conversation changed meanwhile.
    version: int
    # One page of messages, oldest first (`messages_limit`, 100 by default); the next page is
    # `?messages_cursor=<messages_next_cursor>`, null on the last one.
    messages: list[MessageOut]
    messages_next_cursor: str | None = None
    notes: list[NoteOut]


class ConversationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["open", "pending", "resolved"] | None = None
    # Explicit null unassigns; leaving the field out leaves the assignee as it is.
    assignee: str | None = Field(default=None, max_length=200)
    tags: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    # true marks the thread read (for the whole team), false unread again.
    read: bool | None = None


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class ReplyIn(BaseModel):
    """Either `text`, or a saved reply whose variables are filled in for this conversation."""

    text: str | None = Field(default=None, min_length=1, max_length=10_000)
    saved_reply_id: UUID | None = None


class SavedReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    # Variables: {author}, {author_handle}, {channel}, {network}, {agent}.
    text: str = Field(min_length=1, max_length=10_000)


class SavedReplyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    text: str | None = Field(default=None, min_length=1, max_length=10_000)


class SavedReplyOut(BaseModel):
    id: UUID
    name: str
    text: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class SavedReplyList(BaseModel):
    items: list[SavedReplyOut]
    variables: dict[str, str]


class ModerationIn(BaseModel):
    # hide, unhide, delete: the comment; block: its author (any message from the audience).
    action: Literal["hide", "unhide", "delete", "block"]


class KeywordIn(BaseModel):
    # A word or phrase in any language; `*` at either end matches the rest of the word.
    term: str = Field(min_length=1, max_length=100)
    # VADER's scale: −4 (most negative) … 4 (most positive).
    weight: float = Field(ge=-4, le=4)


class KeywordsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keywords: list[KeywordIn] = Field(max_length=2000)


class KeywordsOut(BaseModel):
    keywords: list[KeywordIn]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    # keyword: comma-separated terms (whole words, `*` wildcards, any language, any case);
    # regex: a regular expression, case-insensitive.
    match: Literal["keyword", "regex"] = "keyword"
    pattern: str = Field(min_length=1, max_length=2000)
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20
    )
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    assignee: str | None = Field(default=None, max_length=200)
    # Ask the network to hide a matching comment (spam), where the network allows it.
    hide: bool = False
    enabled: bool = True
    position: Int32 = 0


class RuleOut(RuleIn):
    id: UUID
    created_by: str
    created_at: datetime


class RuleList(BaseModel):
    items: list[RuleOut]


class AlertOut(BaseModel):
    id: UUID
    # "workspace", or the channel id the counts were taken over.
    scope: str
    channel_id: UUID | None
    status: str
    detected_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    # The counts that raised it: window and baseline counts, negative share, sample messages.
    evidence: dict[str, Any]
    # The worst figures seen while it was open, and the latest evaluation's.
    peak: dict[str, Any]
    latest: dict[str, Any]
    # Why it was raised, in one sentence (from `evidence`): volume against the usual for the
    # hour of the week, negative share, languages.
    reason: str | None = None
    # The languages whose messages made the crisis.
    languages: list[str] = []


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class CrisisSettingsIn(BaseModel):
    """A workspace's crisis thresholds; a field left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    window_minutes: int = Field(default=DEFAULTS.window_minutes, ge=1, le=24 * 60)
    baseline_hours: float = Field(default=DEFAULTS.baseline_hours, gt=0, le=24 * 30)
    min_messages: int = Field(default=DEFAULTS.min_messages, ge=1, le=1_000_000)
    volume_factor: float = Field(default=DEFAULTS.volume_factor, ge=0, le=1000)
    negative_share: float = Field(default=DEFAULTS.negative_share, ge=0, le=1)
    negative_share_rise: float = Field(default=DEFAULTS.negative_share_rise, ge=0, le=1)
    calm_minutes: int = Field(default=DEFAULTS.calm_minutes, ge=0, le=7 * 24 * 60)
    enabled: bool = DEFAULTS.enabled
    # Weeks of history the hour-of-week baseline looks back over (0: the recent period only).
    baseline_weeks: int = Field(default=DEFAULTS.baseline_weeks, ge=0, le=12)
    # A raised alert freezes the queue of its scope (the whole workspace, or its channel).
    freeze_queue: bool = DEFAULTS.freeze_queue


class CrisisSettingsOut(CrisisSettingsIn):
    # False while the workspace runs on the defaults.
    customised: bool


class SlaTargets(BaseModel):
    """Minutes within which the team means to first answer a conversation, by priority
    (low, normal, high, urgent). A PUT may name only some; the others keep their value."""

    model_config = ConfigDict(extra="forbid")

    low: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    normal: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    high: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    urgent: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
