"""Tables of the `scheduler` schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import BigInteger, Boolean, Float, Integer, String, Text

from shared.tables import CreatedAt, SerialKey, ServiceTables, UuidKey


class Base(ServiceTables, DeclarativeBase, schema="scheduler"):
    pass


BUS = Base.bus


class Channel(Base):
    """What the scheduler knows of a connected channel (a read model fed by `channel.*`)."""

    __tablename__ = "channels"

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    network: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(300), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(30), default="active")
    # A disconnected channel is kept (its posts still name it) but may no longer be targeted.
    disconnected: Mapped[bool] = mapped_column(Boolean, default=False)
    # Posts per 24 hours the scheduler places here; None: the network's limit (pacing.py).
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    # When the fact this row shows happened (the event's occurred_at): an older one that
    # arrives late changes nothing.
    facts_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class WorkspaceSettings(Base):
    """A workspace's scheduler settings; a missing row means the service defaults."""

    __tablename__ = "workspace_settings"

    workspace_id: Mapped[UuidKey]
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_after_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    # The approval stages in order: [{"name", "roles"?: [...], "principals"?: [...]}].
    approval_stages: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    forbid_self_approval: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# Every status a post or a target can be in. The settled ones are outcomes: nothing changes
# them any more but a person; the others still wait for something to happen.
STATUSES = frozenset(
    {
        "draft",
        "in_review",
        "changes_requested",
        "approved",
        "scheduled",
        "publishing",
        "retrying",
        "published",
        "failed",
        "canceled",
        "missed",
    }
)
SETTLED = frozenset({"published", "failed", "missed", "canceled"})
WAITING = STATUSES - SETTLED


class Post(Base):
    """A piece of content planned for one or more channels."""

    __tablename__ = "posts"

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    campaign: Mapped[str | None] = mapped_column(String(200))
    # The campaign the post belongs to (`campaign` is its name, kept for filters and exports).
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # The schedule as asked for (`{"at", "timezone"}`, `{"now": true}` …), kept so an edit of
    # the text does not lose how the time was chosen.
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Evergreen: once published, the post goes back into its channels' queues, no sooner than
    # this many days after it last went out. None: published once.
    evergreen_gap_days: Mapped[int | None] = mapped_column(Integer)
    # In review: how many of the workspace's approval stages have approved this round.
    approval_stage: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    # What `GET /v1/posts?q=` searches: the copy and every variant, lower-cased (see `finding`).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A post made by editing one occurrence of a recurring post: the series and the instant
    # of the occurrence it replaces (skipped in the series).
    series_id: Mapped[uuid.UUID | None]
    occurrence_at: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# The list's keyset order, and the search: trigram GIN on the lower-cased text (LIKE '%…%').
Index("ix_scheduler_posts_workspace_created", Post.workspace_id, Post.created_at, Post.id)
Index(
    "ix_scheduler_posts_search_trgm",
    Post.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)


class Campaign(Base):
    """A campaign: a name, dates, a goal, the UTM parameters its posts' links get, tags."""

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # {"metric": "conversions", "target": 500}
    goal: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # {"source": …, "medium": …, "campaign": …, "term": …, "content": …}
    utm: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list, server_default="{}")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ReviewLink(Base):
    """A link for someone without an account to read one post and comment on it, until it
    expires. Only the token's SHA-256 is kept; the link is shown once."""

    __tablename__ = "review_links"

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reviewer: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The link's own rate limit: requests in the current fixed window.
    window_start: Mapped[datetime | None]
    window_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReviewComment(Base):
    """A comment left through a review link."""

    __tablename__ = "review_comments"

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID]
    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    link_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("review_links.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]


class Template(Base):
    """A post saved for reuse: its copy, media, variants, tags and campaign, never a time."""

    __tablename__ = "templates"

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(200))
    # A `POST /v1/posts` body without `schedule`.
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[CreatedAt]


class Target(Base):
    """One post on one channel: its variant, its due time and how publishing went."""

    __tablename__ = "targets"
    __table_args__ = (
        # The dispatcher's work queue: only scheduled rows, in due order.
        Index(
            "ix_scheduler_targets_due",
            "due_at",
            postgresql_where=text("status = 'scheduled'"),
        ),
    )

    id: Mapped[UuidKey]
    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(index=True)
    network: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The variant: None means "the post's base copy / media".
    text: Mapped[str | None] = mapped_column(Text)
    media: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(30))
    due_at: Mapped[datetime | None]
    # The IANA zone the due time was planned in; with due_at it gives the local time.
    timezone: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # While `retrying`: the publisher's attempts so far and when it tries next (`error` is the
    # last attempt's).
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    # Once published: the last change asked of the network ("edit" with the fields it sets,
    # or "delete"), when, and how the network answered (services/scheduler/published.py).
    change_request_id: Mapped[uuid.UUID | None]
    change_action: Mapped[str | None] = mapped_column(String(10))
    change_fields: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    change_by: Mapped[str | None] = mapped_column(String(200))
    change_requested_at: Mapped[datetime | None]
    change_answered_at: Mapped[datetime | None]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    remote_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Transition(Base):
    """Every change of a post's status: who, when, why. Never updated, only added."""

    __tablename__ = "transitions"

    id: Mapped[SerialKey]
    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    target_id: Mapped[uuid.UUID | None]
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[CreatedAt]


class Slot(Base):
    """A posting slot of a channel: a weekday and a wall-clock time in the channel's zone."""

    __tablename__ = "slots"

    channel_id: Mapped[UuidKey]
    # Monday is 0, as in Python's `date.weekday()`.
    weekday: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "HH:MM", local to the channel's zone.
    time: Mapped[str] = mapped_column(String(5), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # How many posts of this channel may share one slot.
    cap: Mapped[int] = mapped_column(Integer, default=1)


class BestTimes(Base):
    """A channel's best hours to post, as metrics last computed them (`best_times.updated`)."""

    __tablename__ = "best_times"

    channel_id: Mapped[UuidKey]
    timezone: Mapped[str] = mapped_column(String(64))
    # [{"weekday": 0-6, "hour": 0-23, "score": float}]
    slots: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # When metrics computed them (the event's occurred_at): an older result arriving late
    # does not replace a newer one.
    facts_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class CalendarFeed(Base):
    """A workspace's secret iCalendar feed token (the URL is the credential; rotatable)."""

    __tablename__ = "calendar_feeds"

    workspace_id: Mapped[UuidKey]
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[CreatedAt]


class QueueFreeze(Base):
    """A stop on a workspace's outgoing queue, or on one channel's: nothing scheduled goes
    out while it holds. Kept after it is lifted, with who froze it, why, and who resumed."""

    __tablename__ = "queue_freezes"
    __table_args__ = (
        # One active freeze per scope ("workspace" or the channel id) at a time.
        Index(
            "ux_scheduler_queue_freezes_active",
            "workspace_id",
            "scope",
            unique=True,
            postgresql_where=text("resumed_at IS NULL"),
        ),
    )

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    scope: Mapped[str] = mapped_column(String(40))
    # Null: the whole workspace.
    channel_id: Mapped[uuid.UUID | None]
    reason: Mapped[str] = mapped_column(Text)
    # A principal, or `alert:<id>` when a raised alert asked for it.
    frozen_by: Mapped[str] = mapped_column(String(200))
    alert_id: Mapped[uuid.UUID | None]
    frozen_at: Mapped[datetime]
    resumed_by: Mapped[str | None] = mapped_column(String(200))
    resumed_at: Mapped[datetime | None]


class MediaItem(Base):
    """A file of the workspace's media library. The bytes are in the media store under
    `content_key` (their SHA-256), shared by every item with the same bytes."""

    __tablename__ = "media"
    __table_args__ = (Index("ix_media_workspace_created", "workspace_id", "created_at", "id"),)

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID]
    content_key: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    mime: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    # Everything preflight measured (services/scheduler/preflight.py Facts).
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    name: Mapped[str] = mapped_column(String(300), default="")
    alt: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    source_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[CreatedAt]
