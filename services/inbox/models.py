"""Tables of the `inbox` schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import BigInteger, Boolean, Float, Integer, LargeBinary, String, Text

from shared.tables import CreatedAt, SerialKey, ServiceTables, UuidKey


class Base(ServiceTables, DeclarativeBase, schema="inbox"):
    pass


BUS = Base.bus

# Woken by the webhook receiver (and by read-model updates that make parked receipts routable).
RECEIPTS_CHANNEL = "inbox_receipts"


class Receipt(Base):
    """A webhook exactly as the network sent it, kept before anything is made of it.

    `event_key` is the network's own identity of the event(s) in it, so a redelivery of the
    same event is recognised and stored once.
    """

    __tablename__ = "receipts"
    __table_args__ = (UniqueConstraint("network", "event_key"),)

    id: Mapped[SerialKey]
    network: Mapped[str] = mapped_column(String(20))
    event_key: Mapped[str] = mapped_column(String(300))
    # The account the event is for (X for_user_id, Meta page id …): routes it to a channel.
    account_id: Mapped[str | None] = mapped_column(String(200))
    # pending → processed | unrouted (no channel known yet) | unknown (shape not understood)
    # | failed (gave up after retries)
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    # After a failed attempt the receipt waits until then (growing backoff) before the next.
    next_attempt_at: Mapped[datetime | None]


Index(
    "ix_inbox_receipts_pending",
    Receipt.id,
    postgresql_where=Receipt.status == "pending",
)
Index(
    "ix_inbox_receipts_unrouted",
    Receipt.network,
    Receipt.account_id,
    postgresql_where=Receipt.status == "unrouted",
)


class Channel(Base):
    """Read model of the publisher's channels: which workspaces a network account belongs to.

    One account may be several channels: connected again after a disconnect (a new channel),
    or connected in more than one workspace; each receives the account's webhooks.
    """

    __tablename__ = "channels"
    __table_args__ = (Index("ix_inbox_channels_account", "network", "external_id"),)

    channel_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    network: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), server_default="")
    status: Mapped[str] = mapped_column(String(30), server_default="active")
    # When the fact this row shows happened (the event's occurred_at): an older one that
    # arrives late changes nothing.
    facts_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class PublishedPost(Base):
    """Read model of `post.published`: a network post id → the Herald post it came from."""

    __tablename__ = "published_posts"
    __table_args__ = (UniqueConstraint("network", "external_id"),)

    target_id: Mapped[UuidKey]
    post_id: Mapped[uuid.UUID] = mapped_column(index=True)
    workspace_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID]
    network: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime]


class Conversation(Base):
    """A thread with one person: a comment and its replies, a mention, or a DM exchange."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel_id", "thread_key"),
        Index("ix_inbox_conversations_list", "workspace_id", "last_message_at", "id"),
        Index("ix_inbox_conversations_language", "workspace_id", "language", "last_message_at"),
        Index("ix_inbox_conversations_post", "network", "post_external_id"),
        # The response-time loop looks only at open threads nobody has answered yet.
        Index(
            "ix_inbox_conversations_awaiting",
            "workspace_id",
            "created_at",
            postgresql_where=text(
                "status = 'open' AND first_response_at IS NULL AND sla_breached_at IS NULL"
            ),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID]
    network: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    # What makes messages belong together on the network (root comment id, DM partner …).
    thread_key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), server_default="open")
    post_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # The network post the thread hangs under, kept so a later `post.published` can link it.
    post_external_id: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # The latest message's, like its sentiment (null: not made out, or not scored).
    sentiment: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10), server_default="normal")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    assignee: Mapped[str | None] = mapped_column(String(200))
    last_message_at: Mapped[datetime]
    first_message_at: Mapped[datetime]
    # Response-time tracking: when the team first answered, and when it was last resolved.
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    # The latest message from the audience, and when the team last marked the thread read:
    # unread while the first is later than the second.
    last_inbound_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    # When the thread went past its response-time target unanswered (services/inbox/sla.py);
    # null while it is within it, or once it was answered in time.
    sla_breached_at: Mapped[datetime | None]
    # Bumped by every change (the team's or a new message): the ETag of the conversation.
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[CreatedAt]


class Message(Base):
    """One comment, mention or DM, inbound from the audience or outbound from the team."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id"),
        Index("ix_inbox_messages_search", "search", postgresql_using="gin"),
        # Crisis detection counts a workspace's recent messages by time.
        Index("ix_inbox_messages_workspace_sent", "workspace_id", "sent_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID]
    network: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10), server_default="inbound")
    # Null for an outbound reply until the network gives it an id (`reply.sent`).
    external_id: Mapped[str | None] = mapped_column(String(200))
    parent_external_id: Mapped[str | None] = mapped_column(String(200))
    author_id: Mapped[str | None] = mapped_column(String(200))
    author_name: Mapped[str | None] = mapped_column(String(300))
    author_handle: Mapped[str | None] = mapped_column(String(300))
    # When the author's account was created, where the network says (X sends it with every
    # tweet); contests with a minimum account age read it.
    author_created_at: Mapped[datetime | None]
    text: Mapped[str] = mapped_column(Text, server_default="")
    # Where the author's own words begin in `text`: X puts the handles a reply answers in
    # front of them (its `display_text_range`); they are not mentions the author typed.
    text_start: Mapped[int] = mapped_column(Integer, server_default="0")
    language: Mapped[str | None] = mapped_column(String(20))
    sentiment: Mapped[float | None] = mapped_column(Float)
    # Audience comments only: hide_requested | hidden … as far as the inbox knows; the
    # publisher acts on `comment.moderation_requested`.
    moderation: Mapped[str | None] = mapped_column(String(20))
    # Outbound only: sending → sent | failed.
    delivery_status: Mapped[str | None] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(Text)
    sent_by: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime]
    receipt_id: Mapped[int | None] = mapped_column(BigInteger)
    # 'simple' config: messages come in every language; stemming one would mangle the rest.
    search: Mapped[Any] = mapped_column(TSVECTOR, nullable=True)
    created_at: Mapped[CreatedAt]


class Note(Base):
    """An internal note on a conversation: seen by the team, never sent to the network."""

    __tablename__ = "notes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[uuid.UUID]
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]


class _Trail:
    """What an audit trail row says besides whose trail it is: who did what, when."""

    id: Mapped[SerialKey]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    at: Mapped[CreatedAt]


class Activity(_Trail, Base):
    """Who did what to a conversation (status, assignment, tags, replies, notes)."""

    __tablename__ = "activity"

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )


class PollState(Base):
    """Per channel of a network without push: when to ask the publisher to poll it next."""

    __tablename__ = "poll_states"

    channel_id: Mapped[UuidKey]
    network: Mapped[str] = mapped_column(String(20))
    # Where the last fetch stopped, handed back to the publisher with the next request.
    cursor: Mapped[str | None] = mapped_column(Text)
    # While a post of the channel is young, its comments come fast: poll more often.
    fresh_until: Mapped[datetime | None]
    next_poll_at: Mapped[datetime] = mapped_column(index=True)
    last_requested_at: Mapped[datetime | None]
    last_fetched_at: Mapped[datetime | None]


class PolledPost(Base):
    """A post of a polled channel whose comments are fetched (YouTube comments are per video)."""

    __tablename__ = "polled_posts"

    channel_id: Mapped[UuidKey]
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    published_at: Mapped[datetime]


class SavedReply(Base):
    """A canned answer with variables ({author}, {channel} …) filled in when it is used."""

    __tablename__ = "saved_replies"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Moderation(Base):
    """A request to hide, unhide or delete an audience comment on its network."""

    __tablename__ = "moderations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[uuid.UUID]
    action: Mapped[str] = mapped_column(String(10))
    # Who asked: a principal, or `rule:<id>` for an automatic spam hide.
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WorkspaceKeywords(Base):
    """A workspace's own sentiment words, in any language: term → weight (VADER's −4…4)."""

    __tablename__ = "keywords"

    workspace_id: Mapped[UuidKey]
    terms: Mapped[dict[str, float]] = mapped_column(JSONB, server_default="{}")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Rule(Base):
    """Keyword or regex pattern → tag, priority, assignee, auto-hide; applied on ingest."""

    __tablename__ = "rules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(200))
    match: Mapped[str] = mapped_column(String(10))  # keyword | regex
    pattern: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    priority: Mapped[str | None] = mapped_column(String(10))
    assignee: Mapped[str | None] = mapped_column(String(200))
    hide: Mapped[bool] = mapped_column(Boolean, server_default="false")
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]


class Member(Base):
    """Read model of the gateway's members: who a conversation may be assigned to."""

    __tablename__ = "members"

    member_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    email: Mapped[str] = mapped_column(String(320), server_default="")
    name: Mapped[str | None] = mapped_column(String(200))
    # Set once removed, for good: a member id is never reused, so a `member.added` arriving
    # after its `member.removed` does not bring the member back.
    removed: Mapped[bool] = mapped_column(Boolean, server_default="false")


class SlaTarget(Base):
    """How soon a workspace means to answer a conversation of one priority; a priority
    without a row uses the default (services/inbox/sla.py)."""

    __tablename__ = "sla_targets"

    workspace_id: Mapped[UuidKey]
    priority: Mapped[str] = mapped_column(String(10), primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class CrisisSettings(Base):
    """A workspace's crisis thresholds; a workspace without a row uses the defaults."""

    __tablename__ = "crisis_settings"

    workspace_id: Mapped[UuidKey]
    # The recent window that is compared with the baseline before it.
    window_minutes: Mapped[int] = mapped_column(Integer)
    baseline_hours: Mapped[float] = mapped_column(Float)
    # Raised when the window holds at least `min_messages` messages, at least `volume_factor`
    # times the baseline's rate, and a negative share of at least `negative_share` that is
    # also `negative_share_rise` above the baseline's own share.
    min_messages: Mapped[int] = mapped_column(Integer)
    volume_factor: Mapped[float] = mapped_column(Float)
    negative_share: Mapped[float] = mapped_column(Float)
    negative_share_rise: Mapped[float] = mapped_column(Float)
    # Resolved once the condition has not held for this long.
    calm_minutes: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Weeks of history the hour-of-week baseline looks back over.
    baseline_weeks: Mapped[int] = mapped_column(Integer, server_default="4")
    # A raised alert asks the scheduler to freeze the queue of its scope.
    freeze_queue: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Alert(Base):
    """A crisis: a channel's (or the whole workspace's) negative volume well above its baseline."""

    __tablename__ = "alerts"
    __table_args__ = (
        # One open alert per scope at a time; a resolved one may be followed by a new one.
        Index(
            "ux_inbox_alerts_open_scope",
            "workspace_id",
            "scope",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_inbox_alerts_list", "workspace_id", "detected_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID]
    # "workspace", or the channel id: what the counts were taken over.
    scope: Mapped[str] = mapped_column(String(40))
    channel_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(10), server_default="open")  # open | resolved
    detected_at: Mapped[datetime]
    # The last evaluation at which the condition still held.
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # The counts that raised it, and the worst ones seen while it was open.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    peak: Mapped[dict[str, Any]] = mapped_column(JSONB)
    latest: Mapped[dict[str, Any]] = mapped_column(JSONB)


# Woken when a contest is created, so the due loop learns its end time without waiting a tick.
CONTESTS_CHANNEL = "inbox_contests"


class Contest(Base):
    """A giveaway drawn from the comments on one or more published posts.

    `seed` stays secret until the draw; `commitment` (its SHA-256) is public from the start,
    so anyone can later check the seed was not chosen after the entries were known.
    """

    __tablename__ = "contests"
    __table_args__ = (
        Index("ix_inbox_contests_list", "workspace_id", "created_at", "id"),
        # The due loop's look-up: contests still to close or to draw, by time.
        Index("ix_inbox_contests_due", "due_at", postgresql_where=text("status <> 'drawn'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200), server_default="")
    post_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(PG_UUID(as_uuid=True)))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # The zone the window was given in (the workspace's), to show it back as written.
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    # The automatic draw waits this long after the end, for late webhook deliveries of
    # comments written in time.
    draw_at: Mapped[datetime]
    winners: Mapped[int] = mapped_column(Integer)
    reserves: Mapped[int] = mapped_column(Integer, server_default="0")
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # {"saved_reply_id", "via": "comment" | "dm"} or null: how winners are told.
    winner_reply: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    seed: Mapped[str] = mapped_column(String(64))
    commitment: Mapped[str] = mapped_column(String(64))
    # open → closed (window over, contest.closed said) → drawn
    status: Mapped[str] = mapped_column(String(10), server_default="open")
    # When the due loop next has something to do with it: ends_at while open, then draw_at.
    due_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    drawn_at: Mapped[datetime | None]
    drawn_by: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the canonical list of qualifying entries the draw was made from.
    entries_digest: Mapped[str | None] = mapped_column(String(64))
    qualifying: Mapped[int | None] = mapped_column(Integer)
    # [{"place", "network", "comment_id", "author_id", "author", "message_id"}] in draw order.
    winner_list: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    reserve_list: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]


class ContestEntry(Base):
    """Every comment a drawn contest considered, as it stood at the draw, and why it counted
    or not: the list the draw can be recomputed from."""

    __tablename__ = "contest_entries"

    contest_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[UuidKey]
    position: Mapped[int] = mapped_column(Integer)
    post_id: Mapped[uuid.UUID | None]
    network: Mapped[str] = mapped_column(String(20))
    comment_id: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[str] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]
    qualifies: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")


class ContestActivity(_Trail, Base):
    """The contest's audit trail: created, announced, closed, drawn, winners told."""

    __tablename__ = "contest_activity"

    contest_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contests.id", ondelete="CASCADE"), index=True
    )
