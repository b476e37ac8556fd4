"""Request and response models of the publisher API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field


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
    credentials: dict[str, CredentialValue]
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None


class ChannelPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None


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


class ChannelList(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None = None


class NetworkOut(BaseModel):
    model_config = {"extra": "allow"}

    network: str
    publishing: bool
