"""Opaque cursors for keyset pagination over (created_at, id)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from uuid import UUID

from shared.errors import ValidationFailed


def encode_cursor(created_at: datetime, row_id: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed, UUID(row_id)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("The cursor is not valid.", field="cursor") from exc
