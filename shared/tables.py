"""What every service's tables share: PostgreSQL's own types for ids and moments.

A service's declarative base mixes in `ServiceTables`, so a column annotated `uuid.UUID` is a
native `uuid` and one annotated `datetime` is a `timestamptz` without saying so on each line.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Identity, func
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import mapped_column


class ServiceTables:
    """Mixed into each service's `DeclarativeBase` (before it) for the shared column types."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        uuid.UUID: PG_UUID(as_uuid=True),
        # Every moment is kept with its time zone: the services compare them across zones.
        datetime: DateTime(timezone=True),
    }


# A row's id chosen by the service (a UUID it hands out).
UuidKey = Annotated[uuid.UUID, mapped_column(primary_key=True)]
# A row's id counted by PostgreSQL, for append-only logs whose order is their identity.
SerialKey = Annotated[int, mapped_column(BigInteger, Identity(always=False), primary_key=True)]
# When the row was written, stamped by the database.
CreatedAt = Annotated[datetime, mapped_column(server_default=func.now())]
