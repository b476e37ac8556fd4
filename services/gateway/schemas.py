"""Request and response models of the gateway's own API."""

from __future__ import annotations

from datetime import datetime
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
        default=None, ge=1, description="Requests per window for the whole workspace; null "
        "returns to the platform default."
    )


class WorkspaceOut(BaseModel):
    id: UUID
    name: str
    timezone: str
    rate_limit: int | None
    created_at: datetime
