"""Request and response models of the publisher API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class ChannelIn(BaseModel):
    network: str = Field(min_length=1, max_length=40)
    credentials: dict[str, Any]
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
