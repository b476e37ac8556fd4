"""Request and response models of the gateway's own API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from shared.auth import Role


class WorkspaceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Acme social team"])
    timezone: str = Field(
        min_length=1, max_length=64, description="IANA timezone", examples=["Europe/Paris"]
    )


class WorkspaceCreated(BaseModel):
    id: UUID
    name: str
    timezone: str
    created_at: datetime
    api_key: str = Field(description="The first owner key. Shown once: store it now.")
    api_key_id: UUID


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Publishing frontend"])
    role: Role


class ApiKeyOut(BaseModel):
    id: UUID
    name: str
    role: Role
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    api_key: str = Field(description="The key. Shown once: store it now.")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None


class WorkspaceChange(BaseModel):
    rate_limit: int | None = Field(
        default=None, ge=1, le=2**31 - 1,
        description="Requests per window for the whole workspace; null returns to the "
        "platform default.",
    )


class WorkspaceOut(BaseModel):
    id: UUID
    name: str
    timezone: str
    rate_limit: int | None
    created_at: datetime


# --- client webhooks ------------------------------------------------------------------------


# An event type of the catalogue (`post.published`) or `*`.
EventName = Annotated[str, Field(min_length=1, max_length=100)]


class WebhookCreate(BaseModel):
    url: str = Field(min_length=1, max_length=2000, examples=["https://example.com/herald"])
    events: list[EventName] = Field(
        min_length=1,
        max_length=50,
        examples=[["post.published", "post.publish_failed"]],
        description="Event types of the catalogue, or `*` for every one.",
    )
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="Your own signing secret (`whsec_` + base64 of 24 to 64 bytes); one is "
        "generated when absent.",
    )


class WebhookChange(BaseModel):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=50)
    enabled: bool | None = Field(
        default=None, description="`true` re-enables a subscription disabled after failures."
    )


class WebhookOut(BaseModel):
    id: UUID
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="Start of the current run of failed attempts; null when healthy."
    )
    secret_rotation_ends_at: datetime | None = Field(
        description="Until then, the previous secret signs too."
    )
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (`whsec_…`). Shown once: store it now.")


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class SecretRotation(BaseModel):
    secret: str | None = Field(
        default=None, max_length=200, description="Your own new secret; generated when absent."
    )
    overlap_seconds: int | None = Field(
        default=None,
        ge=0,
        le=7 * 24 * 3600,
        description="How long the old secret keeps signing too (default 24 h).",
    )


class WebhookAttemptOut(BaseModel):
    attempt: int
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    error: str | None
    response_snippet: str | None = Field(description="The first 1000 characters answered.")
    duration_ms: int


class WebhookDeliveryOut(BaseModel):
    id: UUID
    message_id: str = Field(description="The `webhook-id` header (the event id).")
    event_type: str
    status: str = Field(description="pending, succeeded or failed (retries exhausted).")
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    replay_of: UUID | None
    created_at: datetime
    payload: dict[str, Any]
    attempt_log: list[WebhookAttemptOut]


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None


# --- members --------------------------------------------------------------------------------


class InvitationCreate(BaseModel):
    email: str = Field(
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+$",
        examples=["dana@example.com"],
    )
    role: Role


class InvitationCreated(BaseModel):
    id: UUID
    email: str
    role: Role
    expires_at: datetime
    token: str = Field(description="Send it to the invitee. Shown once: it is stored hashed.")


class InvitationAccept(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class MemberOut(BaseModel):
    id: UUID
    email: str
    name: str | None
    role: Role
    invited_by: str | None
    created_at: datetime


class MemberJoined(BaseModel):
    member: MemberOut
    workspace_id: UUID
    api_key: str = Field(description="The member's first API key. Shown once: store it now.")
    api_key_id: UUID


class MemberChange(BaseModel):
    role: Role


class MemberPage(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None


class AuditEntryOut(BaseModel):
    id: UUID
    occurred_at: datetime
    actor: str = Field(description="The API key id that did it, or `system:<service>`.")
    actor_role: str
    action: str = Field(examples=["channel.connected", "post.approved"])
    resource_type: str = Field(examples=["channel", "post", "api_key"])
    resource_id: str
    service: str = Field(description="The service that recorded it.")
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
