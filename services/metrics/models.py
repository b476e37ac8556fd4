"""Tables of the `metrics` schema."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Text, func
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import bus_tables, service_metadata


class Base(DeclarativeBase):
    metadata = service_metadata("metrics")


BUS = bus_tables(Base.metadata)


class TrackedPost(Base):
    """A published post whose numbers this service follows (one row per post target)."""

    __tablename__ = "tracked_posts"

    target_id: Mapped[uuid.UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    post_id: Mapped[uuid.UUID] = mapped_column(PG_UUID(as_uuid=True), index=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(PG_UUID(as_uuid=True), index=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(PG_UUID(as_uuid=True), index=True)
    network: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    campaign: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
