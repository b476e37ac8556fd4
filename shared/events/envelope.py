"""The envelope every event travels in, and the registry of versioned event models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.logs import correlation_id_var, traceparent_var


class EventData(BaseModel):
    """Base of every event's `data`. Subclasses set `event_type` and `version`."""

    model_config = ConfigDict(extra="allow")

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    summary: ClassVar[str] = ""


REGISTRY: dict[tuple[str, int], type[EventData]] = {}

E = TypeVar("E", bound=type[EventData])


def event(event_type: str, version: int = 1, summary: str = "") -> Any:
    """Registers a data model under its type and version (a breaking change is a new version)."""

    def register(cls: E) -> E:
        cls.event_type = event_type
        cls.version = version
        cls.summary = summary or (cls.__doc__ or "").strip().splitlines()[0]
        key = (event_type, version)
        if key in REGISTRY:
            raise ValueError(f"event {key} registered twice")
        REGISTRY[key] = cls
        return cls

    return register


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    workspace_id: uuid.UUID | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    @classmethod
    def of(
        cls,
        data: EventData,
        *,
        workspace_id: uuid.UUID | None,
        causation_id: str | uuid.UUID | None = None,
        correlation_id: str | None = None,
    ) -> Envelope:
        """Wraps `data`, carrying the correlation and trace of the work that caused it."""
        return cls(
            type=data.event_type,
            version=data.version,
            workspace_id=workspace_id,
            correlation_id=correlation_id or correlation_id_var.get() or str(uuid.uuid4()),
            causation_id=str(causation_id) if causation_id else None,
            traceparent=traceparent_var.get(),
            data=data.model_dump(mode="json"),
        )

    def parsed(self) -> EventData:
        model = REGISTRY.get((self.type, self.version))
        if model is None:
            raise LookupError(f"no model for event {self.type} v{self.version}")
        return model.model_validate(self.data)
