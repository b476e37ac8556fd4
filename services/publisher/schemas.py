"""Request and response models of the publisher API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, field_validator

# Credentials as a network hands them out (tokens, ids, an instance URL): a few fields, each
# at most a few kilobytes (a JWT); the whole bounded too.
MAX_CREDENTIALS = 20
MAX_CREDENTIALS_BYTES = 32 * 1024


def _printable(value: Any) -> Any:
    """Credentials travel in HTTP headers and forms: printable ASCII only. A line break or a
    non-ASCII character could not be sent, and would look like the network being down."""
    if isinstance(value, str):
        if not all(" " <= c <= "~" for c in value):
            raise ValueError("credentials are printable ASCII text")
    elif isinstance(value, dict):
        for key, item in value.items():
            _printable(key)
            _printable(item)
    elif isinstance(value, list):
        for item in value:
            _printable(item)
    return value


CredentialValue = Annotated[Any, AfterValidator(_printable)]


class ChannelIn(BaseModel):
    network: str = Field(min_length=1, max_length=40)
    credentials: dict[Annotated[str, Field(max_length=100)], CredentialValue] = Field(
        max_length=MAX_CREDENTIALS
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    # An IANA zone name (the column is VARCHAR(64)).
    timezone: str | None = Field(default=None, max_length=64)

    @field_validator("credentials")
    @classmethod
    def _credentials_size(cls, credentials: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(credentials, default=str)) > MAX_CREDENTIALS_BYTES:
            raise ValueError(f"credentials may take at most {MAX_CREDENTIALS_BYTES} bytes")
        return credentials


class ChannelPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)


class SubscriptionOut(BaseModel):
    """A channel's webhook subscription with its network."""

    # pending, active, failed (retried at next_attempt_at), polling (the network cannot push
    # to an account), app (pushed to the app as a whole, set up in the network's portal)
    state: str
    topics: list[str]
    expires_at: datetime | None = None
    error: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    # How comments and messages reach the inbox right now: webhook, polling or none.
    delivery: str


class ChannelOut(BaseModel):
    id: UUID
    network: str
    external_id: str
    name: str
    username: str | None = None
    timezone: str
    status: str
    status_reason: str | None = None
    token_expires_at: datetime | None = None
    created_at: datetime
    # Shown by GET /v1/channels/{id} and on connect.
    subscription: SubscriptionOut | None = None


class ChannelList(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None = None


class NetworkOut(BaseModel):
    model_config = {"extra": "allow"}

    network: str
    publishing: bool
