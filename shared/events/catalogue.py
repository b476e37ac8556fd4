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


@event("member.added")
class MemberAdded(EventData):
    """Someone joined the workspace (accepted an invitation): the inbox may assign them."""

    member_id: UUID
    email: str
    name: str | None = None
    role: str


@event("member.removed")
class MemberRemoved(EventData):
    """A member was removed from the workspace (their keys revoked)."""

    member_id: UUID


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
    # Transient failures are retried until this instant (the workspace's missed-post
    # deadline), then the target fails; None leaves it to the publisher's attempt limit.
    retry_until: datetime | None = None


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


@event("post.retrying")
class PostRetrying(EventData):
    """An attempt at a post's target failed in a way worth retrying; the next one is set."""

    post_id: UUID
    target_id: UUID
    channel_id: UUID
    network: str
    attempts: int
    error_class: str
    error: str
    next_attempt_at: datetime


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


class NetworkChange(BaseModel):
    """How a published target's network took a change asked of it (`target.changed`)."""

    target_id: UUID
    channel_id: UUID
    network: str
    request_id: UUID
    ok: bool
    # Why the network refused or failed it (when not ok).
    error: str | None = None


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
    # The post's status after the edit (an edit of a post sent back may leave it a draft).
    status: str | None = None
    # Set when the edit was of a post already out: what its network did with it.
    on_network: NetworkChange | None = None


@event("post.deleted")
class PostDeleted(EventData):
    """A post was deleted: whatever of it had not gone out will not."""

    post_id: UUID
    by: str
    target_ids: list[UUID] = Field(default_factory=list)
    # Set when a published target was removed from its network: how that went.
    on_network: NetworkChange | None = None


# --- a post that is already out: changed or removed on its network (scheduler ↔ publisher) ---


@event("target.edit_requested")
class TargetEditRequested(EventData):
    """Change a published target on its network (`PATCH` of a published post)."""

    post_id: UUID
    target_id: UUID
    channel_id: UUID
    network: str
    external_id: str
    # One id per request: the answer (`target.changed`) names it, and a redelivered request
    # is done once.
    request_id: UUID
    # Only what changes: the fields the network lets an author edit (`edit_after_publish`).
    text: str | None = None
    title: str | None = None
    description: str | None = None


@event("target.delete_requested")
class TargetDeleteRequested(EventData):
    """Remove a published target from its network (`DELETE` of a published post)."""

    post_id: UUID
    target_id: UUID
    channel_id: UUID
    network: str
    external_id: str
    request_id: UUID


@event("target.changed")
class TargetChanged(EventData):
    """What the network did with an edit or delete request (publisher → scheduler)."""

    post_id: UUID
    target_id: UUID
    request_id: UUID
    action: Literal["edit", "delete"]
    ok: bool
    at: datetime
    error: str | None = None


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
    reason: str = ""


@event("channel.expiring")
class ChannelExpiring(ChannelFacts):
    """A channel's access will end soon and Herald cannot renew it by itself: someone must
    reconnect it before `expires_at`."""

    expires_at: datetime
    days_left: int
    reason: str


@event("channel.subscription_changed")
class ChannelSubscriptionChanged(EventData):
    """Where a channel stands with its network's webhooks: `active` (the network pushes),
    `failed` (refused or lapsed; retried, and polled meanwhile where the network allows),
    `polling` (the network cannot push; polled), `app` (pushed to the app as a whole)."""

    channel_id: UUID
    network: str
    state: Literal["pending", "active", "failed", "polling", "app"]
    topics: list[str] = []
    expires_at: datetime | None = None
    error: str | None = None
    # Whether Herald polls the channel meanwhile.
    polled: bool = False


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
    """Please hide, unhide or delete this audience comment on its network, or block its
    author (`block`: `author_id` is the person's network id)."""

    moderation_id: UUID
    message_id: UUID
    conversation_id: UUID
    channel_id: UUID
    network: str
    external_id: str
    action: Literal["hide", "unhide", "delete", "block"]
    requested_by: str
    author_id: str | None = None


@event("comment.moderated")
class CommentModerated(EventData):
    """The network's answer to a moderation request: `done` (the comment is hidden, shown
    again or deleted there, or its author blocked), `refused` (the network will not, and says
    why) or `failed`."""

    moderation_id: UUID
    message_id: UUID
    conversation_id: UUID
    channel_id: UUID
    network: str
    external_id: str
    action: Literal["hide", "unhide", "delete", "block"]
    outcome: Literal["done", "refused", "failed"]
    error: str = ""
    requested_by: str = ""
    author_id: str | None = None


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
    # Compound score in [-1, 1]; null when no scorer covers the message's language.
    sentiment: float | None = None
    # ISO 639-1; null when the message is too short or too mixed to tell.
    language: str | None = None
    received_at: datetime


@event("conversation.opened")
class ConversationOpened(EventData):
    """A new conversation started in the inbox (its first message follows as
    `message.received`)."""

    conversation_id: UUID
    channel_id: UUID | None = None
    post_id: UUID | None = None
    network: str
    kind: str
    opened_at: datetime


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


@event("conversation.sla_breached")
class ConversationSlaBreached(EventData):
    """A conversation went past its workspace's response-time target for its priority with
    no answer from the team. Emitted once per breach."""

    conversation_id: UUID
    channel_id: UUID
    network: str
    priority: str
    # The target it missed, and since when the audience has been waiting.
    target_minutes: int
    waiting_since: datetime
    breached_at: datetime
    assignee: str | None = None


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


class ContestWinner(BaseModel):
    """One drawn entry: its place in the draw and the comment that won it."""

    place: int
    network: str
    comment_id: str
    author_id: str
    author: str | None = None
    message_id: UUID


@event("contest.closed")
class ContestClosed(EventData):
    """A contest's entry window ended; comments written later do not enter."""

    contest_id: UUID
    name: str
    post_ids: list[UUID]
    ends_at: datetime
    draw_at: datetime


@event("contest.drawn")
class ContestDrawn(EventData):
    """A contest's winners and reserves were drawn; the secret seed is revealed."""

    contest_id: UUID
    name: str
    commitment: str
    seed: str
    entries_digest: str
    qualifying: int
    winners: list[ContestWinner]
    reserves: list[ContestWinner]
    drawn_at: datetime
    drawn_by: str


class AlertSample(BaseModel):
    """One of the messages a person should read first."""

    message_id: UUID
    text: str
    language: str | None = None
    sentiment: float | None = None
    sent_at: datetime


@event("alert.raised")
class AlertRaised(EventData):
    """A crisis alert was raised, with why: the figures, the languages, what people say."""

    alert_id: UUID
    # "workspace", or the channel id the counts were taken over.
    scope: str
    channel_id: UUID | None = None
    detected_at: datetime
    # One sentence with the figures that raised it.
    reason: str
    # The languages whose messages made the crisis, most messages first.
    languages: list[str] = Field(default_factory=list)
    top_phrases: list[str] = Field(default_factory=list)
    samples: list[AlertSample] = Field(default_factory=list)
    figures: dict[str, Any] = Field(default_factory=dict)
    # The workspace asked for its queue to be frozen when an alert is raised.
    freeze_requested: bool = False


@event("alert.resolved")
class AlertResolved(EventData):
    """A crisis alert was resolved: the condition has not held for the calm period."""

    alert_id: UUID
    scope: str
    channel_id: UUID | None = None
    detected_at: datetime
    resolved_at: datetime


# --- inbox → scheduler: crisis response ----------------------------------------------------


@event("queue.freeze_requested")
class QueueFreezeRequested(EventData):
    """A command: stop the outgoing queue of the workspace (or of one channel)."""

    channel_id: UUID | None = None
    reason: str
    # Who asked: `alert:<id>` for a freeze a raised alert asked for.
    requested_by: str
    alert_id: UUID | None = None
    requested_at: datetime


@event("queue.frozen")
class QueueFrozen(EventData):
    """The outgoing queue of a workspace (or of one channel) was frozen: nothing scheduled,
    recurring or evergreen goes out until it is resumed; replies still do."""

    channel_id: UUID | None = None
    reason: str
    frozen_by: str
    alert_id: UUID | None = None
    frozen_at: datetime


@event("queue.resumed")
class QueueResumed(EventData):
    """A frozen queue was resumed; what fell due meanwhile goes out now, or is marked missed
    if it is later than the workspace's missed-post threshold."""

    channel_id: UUID | None = None
    resumed_by: str
    resumed_at: datetime
    frozen_at: datetime
    # Targets due while it was frozen: released now, and those of them past the threshold.
    due: int = 0
    past_threshold: int = 0


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


class ReportFile(BaseModel):
    format: Literal["pdf", "html", "csv"]
    url: str


@event("report.ready")
class ReportReady(EventData):
    """A report was generated; its files download from signed links until `expires_at`."""

    report_id: UUID
    range_start: datetime
    range_end: datetime
    language: str
    campaign: str | None = None
    channel_ids: list[UUID] | None = None
    schedule_id: UUID | None = None
    download_url: str
    files: list[ReportFile]
    expires_at: datetime


@event("best_times.updated")
class BestTimesUpdated(EventData):
    """A channel's best times to post were recomputed."""

    channel_id: UUID
    timezone: str
    slots: list[BestSlot]


# --- audit (every service → gateway) --------------------------------------------------------


@event("audit.recorded")
class AuditRecorded(EventData):
    """Someone (or the platform itself) changed something in a workspace: an audit entry.

    Emitted with `shared.audit.record` in the transaction of the change; the gateway stores it
    for `GET /v1/audit`.
    """

    # Who: an API key id (or member id) for people, `system:<service>` for the platform.
    actor: str = Field(max_length=100)
    actor_role: str = Field(max_length=20)
    # What, as `<resource>.<verb>` in the past tense: `channel.connected`, `post.approved`.
    action: str = Field(max_length=100)
    resource_type: str = Field(max_length=50)
    resource_id: str = Field(max_length=200)
    service: str = Field(max_length=30)
    # A few facts that make the entry readable (never secrets, never message bodies).
    details: dict[str, Any] = Field(default_factory=dict)
