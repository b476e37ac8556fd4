"""The one list page of the scheduler: newest first, keyset-paginated on (created_at, id) with
the shared cursor (`shared.pagination`)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.pagination import decode_cursor, encode_cursor

Row = TypeVar("Row")


async def newest_first(
    session: AsyncSession,
    query: Select[tuple[Row]],
    *,
    model: Any,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row], str | None]:
    """One page of `query` (rows of `model`, which has `created_at` and `id`), and the cursor
    of the next page (None on the last)."""
    after = decode_cursor(cursor)
    if after is not None:
        at, last = after
        query = query.where(
            or_(model.created_at < at, and_(model.created_at == at, model.id < last))
        )
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    rows = list((await session.scalars(query)).all())
    page = rows[:limit]
    last_row: Any = page[-1] if page else None
    next_cursor = encode_cursor(last_row.created_at, last_row.id) if len(rows) > limit else None
    return page, next_cursor
