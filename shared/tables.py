"""What every service's tables share: a schema of their own and PostgreSQL's types for ids
and moments.

A service's declarative base is `class Base(ServiceTables, DeclarativeBase, schema="<service>")`:
its tables live in that schema next to the service's outbox and idempotency record (`Base.bus`),
a column annotated `uuid.UUID` is a native `uuid` and one annotated `datetime` a `timestamptz`
without saying so on each line.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Identity, MetaData, func
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import mapped_column

from shared.db import BusTables, bus_tables, service_metadata


class ServiceTables:
    """Mixed into each service's `DeclarativeBase` (before it)."""

    metadata: ClassVar[MetaData]
    bus: ClassVar[BusTables]

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        uuid.UUID: PG_UUID(as_uuid=True),
        # Every moment is kept with its time zone: the services compare them across zones.
        datetime: DateTime(timezone=True),
    }

    def __init_subclass__(cls, schema: str | None = None, **kw: Any) -> None:
        # Only the service's base names a schema; its tables pass through to SQLAlchemy, which
        # reads `metadata` when it sets the base up.
        if schema is not None:
            cls.metadata = service_metadata(schema)
            cls.bus = bus_tables(cls.metadata)
        super().__init_subclass__(**kw)


# A row's id chosen by the service (a UUID it hands out).
UuidKey = Annotated[uuid.UUID, mapped_column(primary_key=True)]
# A row's id counted by PostgreSQL, for append-only logs whose order is their identity.
SerialKey = Annotated[int, mapped_column(BigInteger, Identity(always=False), primary_key=True)]
# When the row was written, stamped by the database.
CreatedAt = Annotated[datetime, mapped_column(server_default=func.now())]
