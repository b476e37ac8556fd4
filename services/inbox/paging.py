"""Newest-first keyset pages of the inbox's lists, with shared.pagination's one cursor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.pagination import decode_cursor, encode_cursor

Row = TypeVar("Row")


async def newest_first(
    session: AsyncSession,
    query: Select[Row],
    *,
    at: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Row], str | None]:
    """One page of `query` ordered by (`at`, `id_`) descending, after `cursor`; and the cursor
    of the next page, None on the last."""
    if (after := decode_cursor(cursor)) is not None:
        when, last = after
        query = query.where(or_(at < when, and_(at == when, id_ < last)))
    rows = (await session.scalars(query.order_by(at.desc(), id_.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor(getattr(page[-1], at.key), getattr(page[-1], id_.key))
