"""Every event Herald's services exchange. Data models only; see DESIGN.md §2 for the flows.

Facts are past tense (`post.published`); commands name the wish (`reply.requested`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.events.envelope import EventData, event


class MediaItem(BaseModel):
    url: str
    kind: Literal["image", "video", "gif"] = "image"
    alt: str | None = None


# --- workspaces (gateway) -------------------------------------------------------------------


@event("workspace.created")
class WorkspaceCreated(EventData):
    """A workspace was created."""

    workspace_id: UUID
    name: str
    timezone: str


# --- posts (scheduler ↔ publisher) ----------------------------------------------------------


@event("post.due")
class PostDue(EventData):
    """A post's target is due: the publisher should publish it now."""

    post_id: UUID
    target_id: UUID
    channel_id: UUID
    network: str
    text: str
    media: list[MediaItem] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    due_at: datetime
    attempt: int = 1


@event("post.published")
class PostPublished(EventData):
    """A post's target is live on its network."""

    post_id: UUID
    target_id: UUID
    channel_id: UUID
    network: str
    external_id: str
    url: str | None = None
    published_at: datetime
    due_at: datetime | None = None
    text: str | None = None
    tags: list[str] = Field(default_factory=list)
    campaign: str | None = None
    # "text" (no media), "image", "video" or "gif" (the first media item's kind); None when
    # the publisher did not say.
    media_kind: str | None = None


@event("post.publish_failed")
class PostPublishFailed(EventData):
    """Publishing a post's target failed for good."""

    post_id: UUID
    target_id: UUID
    channel_id: UUID
    network: str
    error_class: str
    error: str
    failed_at: datetime


class TargetRef(BaseModel):
    target_id: UUID
    channel_id: UUID
    network: str
    due_at: datetime | None = None


@event("post.scheduled")
class PostScheduled(EventData):
    """A post was scheduled."""

    post_id: UUID
    targets: list[TargetRef]


@event("post.rescheduled")
class PostRescheduled(EventData):
    """A scheduled post got a new time."""

    post_id: UUID
    targets: list[TargetRef]


@event("post.canceled")
class PostCanceled(EventData):
    """A post was canceled before it went out."""

    post_id: UUID
    target_ids: list[UUID] = Field(default_factory=list)


@event("post.approved")
class PostApproved(EventData):
    """A post was approved by a reviewer (at one stage, when the workspace has stages)."""

    post_id: UUID
    by: str
    comment: str | None = None
    # The stage approved, in a workspace with approval stages.
    stage: str | None = None
    # False while later stages still have to approve.
    final: bool = True


@event("post.rejected")
class PostRejected(EventData):
    """A reviewer asked for changes."""

    post_id: UUID
    by: str
    comment: str | None = None


@event("post.edited")
class PostEdited(EventData):
    """A post's copy, variants, channels, tags, campaign or time was changed."""

    post_id: UUID
    # The post's version after the edit (its ETag).
    post_version: int
    by: str
    # The fields the edit gave: "text", "media", "targets", "schedule", "tags", "campaign".
    changed: list[str] = Field(default_factory=list)
    # Set when one occurrence of a recurring post was edited (the instant it was due).
    occurrence_at: datetime | None = None


@event("post.deleted")
class PostDeleted(EventData):
    """A post was deleted: whatever of it had not gone out will not."""

    post_id: UUID
    by: str
    target_ids: list[UUID] = Field(default_factory=list)


class TargetOutcome(BaseModel):
    target_id: UUID
    channel_id: UUID
    network: str
    status: str
    error: str | None = None
    url: str | None = None


@event("post.failed")
class PostFailed(EventData):
    """Every target of a post (of one occurrence, for a recurring post) failed to go out."""

    post_id: UUID
    due_at: datetime | None = None
    targets: list[TargetOutcome]


@event("post.partially_failed")
class PostPartiallyFailed(EventData):
    """A post went out on some of its channels and failed on others."""

    post_id: UUID
    due_at: datetime | None = None
    targets: list[TargetOutcome]


@event("post.missed")
class PostMissed(EventData):
    """A target was due too long ago to go out (for example after downtime)."""

    post_id: UUID
    target_id: UUID
    channel_id: UUID
    due_at: datetime
    late_by_seconds: float


@event("post.campaign_set")
class PostCampaignSet(EventData):
    """A post joined a campaign, moved to another, or left it (`campaign_id` null)."""

    post_id: UUID
    campaign_id: UUID | None = None
    # When the post's campaign was set: a consumer keeps the latest.
    set_at: datetime


# --- campaigns (scheduler) ------------------------------------------------------------------


class CampaignGoal(BaseModel):
    metric: Literal["conversions", "clicks", "reach", "engagements"] = "conversions"
    target: float


class CampaignFacts(EventData):
    campaign_id: UUID
    name: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    goal: CampaignGoal | None = None
    utm: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    # The campaign's version: a consumer keeps the highest.
    campaign_version: int = 1


@event("campaign.created")
class CampaignCreated(CampaignFacts):
    """A campaign was created."""


@event("campaign.updated")
class CampaignUpdated(CampaignFacts):
    """A campaign's name, dates, goal, UTM parameters or tags changed."""


# --- channels (publisher) -------------------------------------------------------------------


class ChannelFacts(EventData):
    channel_id: UUID
    network: str
    external_id: str
    name: str
    timezone: str
    status: str


@event("channel.connected")
class ChannelConnected(ChannelFacts):
    """A network account was connected."""


@event("channel.updated")
class ChannelUpdated(ChannelFacts):
    """A channel's name, timezone or status changed."""


@event("channel.needs_reauth")
class ChannelNeedsReauth(ChannelFacts):
    """A channel's token cannot be refreshed: someone must reconnect it."""

    reason: str = ""


@event("channel.disconnected")
class ChannelDisconnected(EventData):
    """A channel was removed."""

    channel_id: UUID


# --- inbox ↔ publisher ----------------------------------------------------------------------


@event("reply.requested")
class ReplyRequested(EventData):
    """Please send this reply on the network."""

    reply_id: UUID
    conversation_id: UUID
    channel_id: UUID
    network: str
    text: str
    in_reply_to: str | None = None
    kind: Literal["comment", "mention", "dm"] = "comment"
    recipient_id: str | None = None
    root_id: str | None = None


@event("reply.sent")
class ReplySent(EventData):
    """A reply is live on the network."""

    reply_id: UUID
    conversation_id: UUID
    channel_id: UUID
    external_id: str
    sent_at: datetime


@event("reply.failed")
class ReplyFailed(EventData):
    """A reply could not be sent."""

    reply_id: UUID
    conversation_id: UUID
    channel_id: UUID
    error_class: str
    error: str


@event("comment.moderation_requested")
class CommentModerationRequested(EventData):
    """Please hide, unhide or delete this audience comment on its network."""

    moderation_id: UUID
    message_id: UUID
    conversation_id: UUID
    channel_id: UUID
    network: str
    external_id: str
    action: Literal["hide", "unhide", "delete"]
    requested_by: str


@event("inbox.fetch")
class InboxFetch(EventData):
    """Please poll this channel's notifications."""

    channel_id: UUID
    network: str
    post_external_ids: list[str] = Field(default_factory=list)
    # Where the previous fetch of this channel stopped (the `cursor` of its `inbox.fetched`).
    cursor: str | None = None


class FetchedItem(BaseModel):
    external_id: str
    kind: Literal["comment", "mention", "dm"]
    text: str
    author_id: str
    author_name: str | None = None
    created_at: datetime
    parent_external_id: str | None = None
    post_external_id: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)


@event("inbox.fetched")
class InboxFetched(EventData):
    """What polling a channel found."""

    channel_id: UUID
    network: str
    items: list[FetchedItem]
    cursor: str | None = None


# --- inbox facts ----------------------------------------------------------------------------


@event("message.received")
class MessageReceived(EventData):
    """A comment, mention or DM arrived in the inbox."""

    message_id: UUID
    conversation_id: UUID
    channel_id: UUID | None = None
    post_id: UUID | None = None
    network: str
    kind: str
    sentiment: float | None = None
    received_at: datetime


@event("conversation.replied")
class ConversationReplied(EventData):
    """A conversation got an answer from the team."""

    conversation_id: UUID
    first_response_seconds: float | None = None
    replied_at: datetime


@event("conversation.resolved")
class ConversationResolved(EventData):
    """A conversation was resolved."""

    conversation_id: UUID
    resolution_seconds: float | None = None
    resolved_at: datetime


@event("conversation.assigned")
class ConversationAssigned(EventData):
    """A conversation was assigned to a team member."""

    conversation_id: UUID
    assignee: str | None


@event("crisis.detected")
class CrisisDetected(EventData):
    """Negative volume crossed its baseline: possible crisis."""

    alert_id: UUID
    channel_id: UUID | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    detected_at: datetime


@event("crisis.resolved")
class CrisisResolved(EventData):
    """A crisis alert calmed down."""

    alert_id: UUID
    resolved_at: datetime


# --- metrics ↔ publisher --------------------------------------------------------------------


class CollectItem(BaseModel):
    post_id: UUID
    target_id: UUID | None = None
    external_id: str


@event("metrics.collect")
class MetricsCollect(EventData):
    """Please fetch these posts' numbers."""

    channel_id: UUID
    network: str
    posts: list[CollectItem]
    account: bool = False


class Sample(BaseModel):
    post_id: UUID | None = None
    external_id: str | None = None
    metric: str
    network_metric: str
    value: float | None
    collected_at: datetime


@event("metrics.fetched")
class MetricsFetched(EventData):
    """Numbers fetched from a network."""

    channel_id: UUID
    network: str
    samples: list[Sample]


class BestSlot(BaseModel):
    weekday: int
    hour: int
    score: float


@event("best_times.updated")
class BestTimesUpdated(EventData):
    """A channel's best times to post were recomputed."""

    channel_id: UUID
    timezone: str
    slots: list[BestSlot]
