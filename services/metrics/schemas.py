"""Request and response models of the metrics API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel


class TrackedTarget(BaseModel):
    target_id: UUID
    channel_id: UUID
    network: str
    external_id: str
    url: str | None
    published_at: datetime


class PostAnalytics(BaseModel):
    post_id: UUID
    targets: list[TrackedTarget]
