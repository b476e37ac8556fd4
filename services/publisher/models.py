"""Tables of the `publisher` schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import BigInteger, Boolean, Integer, LargeBinary, String, Text

from shared.tables import CreatedAt, ServiceTables, UuidKey


class Base(ServiceTables, DeclarativeBase, schema="publisher"):
    pass


BUS = Base.bus


class Channel(Base):
    """A connected network account and its (encrypted) credentials."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("workspace_id", "network", "external_id"),)

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(index=True)
    network: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # active | needs_reauth
    status: Mapped[str] = mapped_column(String(20), server_default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(64))
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    token_expires_at: Mapped[datetime | None]
    # The moment `channel.expiring` was last sent for (the end it warned about), so one end
    # is announced once.
    expiry_warned_for: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[CreatedAt]


class PublishJob(Base):
    """One write to a network, and where its attempts stand: a post target (`kind` "post"), a
    reply the inbox asked for ("reply", `target_id` = the reply id, `post_id` = the
    conversation), or the first comment under a published post ("first_comment"). All three
    need the same care (a lease, reconciliation of unknown outcomes, retries), so they share it.

    status: pending (waiting for `next_attempt_at`), sending (a replica holds the lease and may
    be talking to the network), waiting (the channel needs reauthorisation), published, failed.
    """

    __tablename__ = "publish_jobs"
    __table_args__ = (
        Index(
            "ix_publisher_publish_jobs_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )

    id: Mapped[UuidKey]
    target_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(String(20), server_default="post")
    post_id: Mapped[uuid.UUID] = mapped_column(index=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(index=True)
    workspace_id: Mapped[uuid.UUID]
    network: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    due_at: Mapped[datetime]
    due_attempt: Mapped[int] = mapped_column(Integer, server_default="1")
    # Transient failures are retried until then (the post's missed-post deadline); None: up
    # to the publisher's `max_attempts`.
    retry_until: Mapped[datetime | None]
    correlation_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime]
    lease_token: Mapped[uuid.UUID | None]
    lease_until: Mapped[datetime | None]
    # When the last send began: the window a lookup searches after an unknown outcome.
    sent_at: Mapped[datetime | None]
    # The last send may have reached the network: look before sending again.
    reconcile: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # A thread's parts already on the network, in order ({"external_id", "url"}; the first is
    # the post itself): a later attempt resumes after the last one instead of reposting.
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    external_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    error_class: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[CreatedAt]


class RateSpend(Base):
    """What a token (or an app) spent against one of its network's budgets: a sliding log, so a
    rolling cap such as Instagram's 50 posts in 24 hours is kept exactly by every replica."""

    __tablename__ = "rate_spends"
    __table_args__ = (Index("ix_publisher_rate_spends_key_at", "budget_key", "spent_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    budget_key: Mapped[str] = mapped_column(String(300))
    spent_at: Mapped[datetime]
    cost: Mapped[int] = mapped_column(Integer)


class InboxCursor(Base):
    """Where polling a channel's notifications stopped last time."""

    __tablename__ = "inbox_cursors"

    channel_id: Mapped[UuidKey]
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[CreatedAt]


class OAuthState(Base):
    """An authorization started by `connect`, waiting for its callback."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(100), primary_key=True)
    workspace_id: Mapped[uuid.UUID]
    network: Mapped[str] = mapped_column(String(20))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_verifier: Mapped[str | None] = mapped_column(String(200))
    # Mastodon: the instance the account is on, and the app Herald registered there for this
    # connection (sealed with the keyring, bound to the state).
    instance_url: Mapped[str | None] = mapped_column(Text)
    app_key_id: Mapped[str | None] = mapped_column(String(64))
    app_credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime]


class WebhookSubscription(Base):
    """Where a channel stands with its network's webhooks: subscribed (and until when), being
    retried after a refusal, or heard by polling because the network cannot push.

    state: pending (to subscribe), active, failed (retried at `next_attempt_at`), polling
    (the network has no push for this account), app (pushed to the app as a whole, set up
    once in the network's developer portal).
    """

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        Index(
            "ix_publisher_webhook_subscriptions_due",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
        ),
    )

    channel_id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID]
    network: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), server_default="pending")
    topics: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    callback: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    subscribed_at: Mapped[datetime | None]
    updated_at: Mapped[CreatedAt]


class TargetChange(Base):
    """An edit or delete the scheduler asked for on a published target, once per `request_id`
    (a redelivered request finds its row and is not done again).

    status: pending (waiting for `next_attempt_at`), working (a replica holds the lease and
    may be talking to the network), done (the answer, `ok` or not, is in the outbox).
    """

    __tablename__ = "target_changes"
    __table_args__ = (
        Index(
            "ix_publisher_target_changes_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'working')"),
        ),
    )

    request_id: Mapped[UuidKey]
    action: Mapped[str] = mapped_column(String(10))
    workspace_id: Mapped[uuid.UUID]
    post_id: Mapped[uuid.UUID]
    target_id: Mapped[uuid.UUID] = mapped_column(index=True)
    channel_id: Mapped[uuid.UUID]
    network: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(Text)
    # The fields to set (text, title, description); empty for a delete.
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    correlation_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    ok: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
