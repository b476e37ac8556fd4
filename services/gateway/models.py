"""Tables of the `gateway` schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import Boolean, Integer, LargeBinary, String, Text

from shared.tables import CreatedAt, ServiceTables, UuidKey


class Base(ServiceTables, DeclarativeBase, schema="gateway"):
    pass


BUS = Base.bus


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[UuidKey]
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # Requests per rate-limit window for the whole workspace; NULL means the platform default.
    rate_limit: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[CreatedAt]


class ApiKey(Base):
    """A workspace's API key. Only the SHA-256 of the secret is kept; the key is shown once."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_workspace", "workspace_id", "created_at"),)

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # The first characters of the key, shown in lists so people can tell keys apart.
    display_prefix: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    # The person the key belongs to (keys of a removed member are revoked with them).
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    created_at: Mapped[CreatedAt]
    revoked_at: Mapped[datetime | None]


class IdempotencyRecord(Base):
    """A POST made with an `Idempotency-Key`: its fingerprint and, once done, its response.

    Kept in PostgreSQL so every gateway replica sees the same keys.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (Index("ix_idempotency_records_expires", "expires_at"),)

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # in_flight | done
    # An in-flight record older than this was left by a process that died mid-request.
    locked_until: Mapped[datetime]
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[list[Any] | None] = mapped_column(JSONB)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[datetime]


class RateLimitCounter(Base):
    """Requests counted per bucket (a key or a workspace) and fixed window, for all replicas."""

    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index("ix_rate_limit_counters_window", "window_start"),)

    bucket: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class Member(Base):
    """A person who accepted an invitation. Their API keys carry `member_id`."""

    __tablename__ = "members"
    __table_args__ = (Index("ix_members_workspace", "workspace_id", "created_at"),)

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    invited_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[CreatedAt]
    removed_at: Mapped[datetime | None]


class Invitation(Base):
    """An invitation to join a workspace. Only the SHA-256 of its token is kept."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_workspace", "workspace_id", "created_at"),)

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )


class WebhookSubscription(Base):
    """A client endpoint that receives a workspace's events, signed with its secret."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_workspace", "workspace_id", "created_at"),)

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    # The signing secrets (`whsec_<base64>`) are sealed with the gateway's keyring (signing
    # needs the secret itself, not a hash of it): the current one, and after a rotation the
    # previous one, which also signs until `previous_secret_expires_at`. Both are sealed with
    # `key_id`, always together.
    key_id: Mapped[str | None] = mapped_column(String(64))
    sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Rows written before secrets were sealed hold them here in clear until
    # `python -m shared.reseal gateway` seals them; NULL once sealed.
    secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None]
    # Start of the current run of failed attempts (no success since); NULL when healthy.
    failing_since: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[CreatedAt]


class WebhookDelivery(Base):
    """One event (or test ping, or replay) to send to one subscription, until it succeeds."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"
        ),
        Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at"),
    )

    id: Mapped[UuidKey]
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    workspace_id: Mapped[uuid.UUID]
    # The `webhook-id`: the event's id, the same on every attempt and on a replay.
    message_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    # The exact body sent (and signed) on every attempt.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))  # pending | succeeded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    replay_of: Mapped[uuid.UUID | None]
    created_at: Mapped[CreatedAt]


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: what the endpoint answered and how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "attempt"),)

    id: Mapped[UuidKey]
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime]
    succeeded: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    response_snippet: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class AuditEntry(Base):
    """Who did what in a workspace, from every service's `audit.recorded` events.

    The id is the event's id, so a redelivered event inserts nothing (docs/audit.md).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_workspace", "workspace_id", "occurred_at", "id"),
        Index("ix_audit_entries_resource", "workspace_id", "resource_type", "resource_id"),
        Index("ix_audit_entries_occurred", "occurred_at"),
    )

    id: Mapped[UuidKey]
    workspace_id: Mapped[uuid.UUID]
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100))
    resource_type: Mapped[str] = mapped_column(String(50))
    resource_id: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(30))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
