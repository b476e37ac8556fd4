"""Tables of the `metrics` schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import BigInteger, Float, Integer, LargeBinary, SmallInteger, String, Text

from shared.tables import CreatedAt, SerialKey, ServiceTables, UuidKey


class Base(ServiceTables, DeclarativeBase, schema="metrics"):
    pass


BUS = Base.bus


class TrackedPost(Base):
    """A published post whose numbers this service follows (one row per post target)."""

    __tablename__ = "tracked_posts"
    __table_args__ = (
        Index("ix_tracked_posts_channel_external", "channel_id", "external_id"),
        # Summaries count the posts published in their range.
        Index("ix_tracked_posts_workspace_published", "workspace_id", "published_at"),
    )

    target_id: Mapped[UuidKey]
    post_id: Mapped[uuid.UUID] = mapped_column(index=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(index=True)
    network: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    campaign: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    # What the post carried ("text", "image", "video", "gif"); NULL when the event did not say.
    content_type: Mapped[str | None] = mapped_column(String(20))
    # Hashtags of the published text, lower-cased, without the '#'.
    hashtags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    # The published text, which reports quote beside a post's numbers.
    text: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime]
    created_at: Mapped[CreatedAt]


class Channel(Base):
    """What this service knows of a channel (from `channel.*`): owner and timezone."""

    __tablename__ = "channels"

    channel_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    network: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), server_default="")
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    status: Mapped[str] = mapped_column(String(30), server_default="active")
    # Account numbers (followers) are collected daily; this is when the next one is due.
    account_due_at: Mapped[datetime | None]
    # Set when new samples arrive, cleared when the best-times grid is recomputed.
    best_times_dirty: Mapped[bool] = mapped_column(server_default="false")
    # When the fact this row shows happened (the event's occurred_at): an older one that
    # arrives late changes nothing.
    facts_at: Mapped[datetime | None]


class Collection(Base):
    """One planned fetch of one post target's numbers: a row of the collection work queue."""

    __tablename__ = "collections"
    __table_args__ = (
        Index("ix_collections_due", "due_at", postgresql_where="status = 'pending'"),
        Index("ix_collections_sent", "sent_at", postgresql_where="status = 'sent'"),
    )

    id: Mapped[SerialKey]
    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tracked_posts.target_id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime]
    # Seconds after publishing this step stands for; NULL for an on-demand refresh.
    offset_seconds: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    sent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    request_id: Mapped[uuid.UUID | None]


class Sample(Base):
    """One number as the network reported it at one moment (the raw time series).

    `subject_id` is the post target for post numbers and the channel for account numbers.
    `value` NULL means the network had no figure; `delta` is the growth since the subject's
    previous known value, which is what rollups add up.
    """

    __tablename__ = "samples"
    __table_args__ = (
        Index("ix_samples_subject_metric_time", "subject_id", "metric", "collected_at"),
        Index("ix_samples_workspace_time", "workspace_id", "collected_at"),
    )

    id: Mapped[SerialKey]
    workspace_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID]
    subject_id: Mapped[uuid.UUID]
    post_id: Mapped[uuid.UUID | None]
    network: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str] = mapped_column(String(60))
    network_metric: Mapped[str] = mapped_column(String(120))
    value: Mapped[float | None] = mapped_column(Float)
    delta: Mapped[float | None] = mapped_column(Float)
    collected_at: Mapped[datetime]


class LatestValue(Base):
    """The newest known value of each metric of each subject (what totals read)."""

    __tablename__ = "latest_values"
    __table_args__ = (Index("ix_latest_values_workspace_metric", "workspace_id", "metric"),)

    subject_id: Mapped[UuidKey]
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    workspace_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID] = mapped_column(index=True)
    post_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    network: Mapped[str] = mapped_column(String(20))
    network_metric: Mapped[str] = mapped_column(String(120))
    value: Mapped[float | None] = mapped_column(Float)
    collected_at: Mapped[datetime]


class _Rollup:
    subject_id: Mapped[UuidKey]
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    workspace_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID]
    post_id: Mapped[uuid.UUID | None]
    network: Mapped[str] = mapped_column(String(20))
    total: Mapped[float] = mapped_column(Float, server_default="0")
    samples: Mapped[int] = mapped_column(Integer, server_default="0")
    missing: Mapped[int] = mapped_column(Integer, server_default="0")


# Reports read a workspace's rollup rows of a range and nothing else of them. Carrying those
# columns in the index lets PostgreSQL answer from the index alone (an index-only scan of
# adjacent entries) instead of visiting one heap page per row: rollup rows are stored in the
# order they were written, post by post, so a range's rows are scattered over the table.
_REPORT_COLUMNS = ("channel_id", "network", "subject_id", "post_id", "metric", "total")


class HourlyRollup(_Rollup, Base):
    """Sum of sample deltas per subject, metric and UTC hour."""

    __tablename__ = "rollups_hourly"
    __table_args__ = (
        Index(
            "ix_rollups_hourly_report",
            "workspace_id",
            "bucket",
            postgresql_include=list(_REPORT_COLUMNS),
        ),
    )


class DailyRollup(_Rollup, Base):
    """Sum of sample deltas per subject, metric and UTC day (reports over months read this)."""

    __tablename__ = "rollups_daily"
    __table_args__ = (
        Index(
            "ix_rollups_daily_report",
            "workspace_id",
            "bucket",
            postgresql_include=list(_REPORT_COLUMNS),
        ),
    )


class _ChannelRollup:
    channel_id: Mapped[UuidKey]
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    workspace_id: Mapped[uuid.UUID]
    network: Mapped[str] = mapped_column(String(20))
    total: Mapped[float] = mapped_column(Float, server_default="0")
    samples: Mapped[int] = mapped_column(Integer, server_default="0")
    missing: Mapped[int] = mapped_column(Integer, server_default="0")


# The summary of a workspace adds up every channel: per-channel sums let it read a few rows
# per channel and hour or day instead of one per post.
_CHANNEL_REPORT_COLUMNS = ("channel_id", "network", "metric", "total")


class ChannelHourlyRollup(_ChannelRollup, Base):
    """Sum of sample deltas per channel (its posts and its account), metric and UTC hour."""

    __tablename__ = "rollups_channel_hourly"
    __table_args__ = (
        Index(
            "ix_rollups_channel_hourly_report",
            "workspace_id",
            "bucket",
            postgresql_include=list(_CHANNEL_REPORT_COLUMNS),
        ),
    )


class ChannelDailyRollup(_ChannelRollup, Base):
    """Sum of sample deltas per channel, metric and UTC day."""

    __tablename__ = "rollups_channel_daily"
    __table_args__ = (
        Index(
            "ix_rollups_channel_daily_report",
            "workspace_id",
            "bucket",
            postgresql_include=list(_CHANNEL_REPORT_COLUMNS),
        ),
    )


class BestTimes(Base):
    """A channel's last computed best-times grid."""

    __tablename__ = "best_times"

    channel_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    grid: Mapped[dict[str, Any]] = mapped_column(JSONB)
    slots: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    computed_at: Mapped[datetime]


class InboxMessage(Base):
    """A message the inbox received (from `message.received`), for inbox reports."""

    __tablename__ = "inbox_messages"
    __table_args__ = (Index("ix_inbox_messages_workspace_time", "workspace_id", "received_at"),)

    message_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID]
    conversation_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID | None]
    network: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    # Null: no scorer covers the message's language.
    sentiment: Mapped[float | None] = mapped_column(Float)
    # ISO 639-1, null when the inbox could not tell.
    language: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[datetime]


class InboxResponse(Base):
    """A conversation's first answer from the team (from `conversation.replied`)."""

    __tablename__ = "inbox_responses"
    __table_args__ = (Index("ix_inbox_responses_workspace_time", "workspace_id", "replied_at"),)

    conversation_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID]
    first_response_seconds: Mapped[float | None] = mapped_column(Float)
    replied_at: Mapped[datetime]


class InboxResolution(Base):
    """A conversation marked resolved (from `conversation.resolved`); one row per resolution."""

    __tablename__ = "inbox_resolutions"
    __table_args__ = (Index("ix_inbox_resolutions_workspace_time", "workspace_id", "resolved_at"),)

    conversation_id: Mapped[UuidKey]
    resolved_at: Mapped[datetime] = mapped_column(primary_key=True)
    workspace_id: Mapped[uuid.UUID]
    resolution_seconds: Mapped[float | None] = mapped_column(Float)


class InboxBreach(Base):
    """A conversation that went past its response-time target (`conversation.sla_breached`)."""

    __tablename__ = "inbox_breaches"
    __table_args__ = (Index("ix_inbox_breaches_workspace_time", "workspace_id", "breached_at"),)

    conversation_id: Mapped[UuidKey]
    breached_at: Mapped[datetime] = mapped_column(primary_key=True)
    workspace_id: Mapped[uuid.UUID]
    priority: Mapped[str] = mapped_column(String(10))


class Link(Base):
    """A short link: `/l/{code}` redirects to `url` (the destination with its UTM parameters)."""

    __tablename__ = "links"

    id: Mapped[UuidKey]
    code: Mapped[str] = mapped_column(String(20), unique=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    url: Mapped[str] = mapped_column(Text)
    destination: Mapped[str] = mapped_column(Text)
    post_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    utm: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[CreatedAt]


class Click(Base):
    __tablename__ = "clicks"

    id: Mapped[SerialKey]
    link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("links.id", ondelete="CASCADE"), index=True
    )
    clicked_at: Mapped[CreatedAt]
    referrer: Mapped[str | None] = mapped_column(Text)
    agent: Mapped[str] = mapped_column(String(10))


class Conversion(Base):
    __tablename__ = "conversions"

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("links.id", ondelete="SET NULL"), index=True
    )
    post_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(100), server_default="conversion")
    value: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    occurred_at: Mapped[datetime]


class CrisisAlert(Base):
    """A crisis alert the inbox raised (`crisis.detected`), and when it calmed down."""

    __tablename__ = "crisis_alerts"
    __table_args__ = (Index("ix_crisis_alerts_workspace_time", "workspace_id", "detected_at"),)

    alert_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID | None]
    detected_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]


class Report(Base):
    """A report asked for (or due on a schedule): a row of the report work queue, and then the
    documents it produced."""

    __tablename__ = "reports"
    __table_args__ = (
        Index(
            "ix_reports_queued", "created_at", postgresql_where="status IN ('queued', 'running')"
        ),
    )

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # queued → running → ready | failed
    status: Mapped[str] = mapped_column(String(10), server_default="queued")
    range_start: Mapped[datetime]
    range_end: Mapped[datetime]
    campaign: Mapped[str | None] = mapped_column(String(200))
    channel_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(PG_UUID(as_uuid=True)))
    language: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    schedule_id: Mapped[uuid.UUID | None]
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    claimed_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # The figures the documents show, as they were when it was generated.
    figures: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    html: Mapped[str | None] = mapped_column(Text)
    csv: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]


class ReportSchedule(Base):
    """A report produced every month on a day and at a time of the schedule's time zone,
    covering the calendar month before."""

    __tablename__ = "report_schedules"
    __table_args__ = (Index("ix_report_schedules_next", "next_run_at"),)

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    day_of_month: Mapped[int] = mapped_column(SmallInteger)
    at: Mapped[str] = mapped_column(String(5))  # "09:00"
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(5))
    campaign: Mapped[str | None] = mapped_column(String(200))
    channel_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(PG_UUID(as_uuid=True)))
    next_run_at: Mapped[datetime]
    created_at: Mapped[CreatedAt]


class Ga4Property(Base):
    """A workspace's Google Analytics 4 property: its measurement id and the Measurement
    Protocol API secret, sealed (AES-GCM, bound to the workspace id)."""

    __tablename__ = "ga4_properties"

    workspace_id: Mapped[UuidKey]
    measurement_id: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(40))
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[CreatedAt]


class Ga4Hit(Base):
    """A click on a Herald link still to be sent to the workspace's GA4 property (a row of the
    GA4 work queue; one per click, so a click is sent once)."""

    __tablename__ = "ga4_hits"
    __table_args__ = (Index("ix_ga4_hits_due", "due_at", postgresql_where="status = 'pending'"),)

    click_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("clicks.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[uuid.UUID]
    # pending → sent | expired (older than GA4 accepts) | dropped (property removed)
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    due_at: Mapped[CreatedAt]
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Campaign(Base):
    """What this service knows of a campaign (`campaign.created` / `campaign.updated`)."""

    __tablename__ = "campaigns"

    campaign_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    goal: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    utm: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    # The scheduler's version of it: an older event never overwrites a newer one.
    version: Mapped[int] = mapped_column(Integer)


class CampaignPost(Base):
    """Which campaign a post is in (`post.campaign_set`); NULL when it left every campaign."""

    __tablename__ = "campaign_posts"

    post_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID]
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # When the scheduler set it: the latest wins, whatever order the events arrive in.
    set_at: Mapped[datetime]
