"""A page out of the `limit + 1` rows a list fetched, and the cursor after it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.pagination import decode_cursor, page_of


@dataclass
class Row:
    created_at: datetime
    id: uuid.UUID


T0 = datetime(2030, 1, 1, tzinfo=UTC)
ROWS = [Row(T0 - timedelta(minutes=i), uuid.uuid4()) for i in range(3)]


def test_a_full_page_with_one_more_row_points_after_its_last():
    page, cursor = page_of(ROWS, 2)
    assert page == ROWS[:2]
    assert decode_cursor(cursor) == (ROWS[1].created_at, ROWS[1].id)


def test_the_last_page_has_no_cursor():
    assert page_of(ROWS, 3) == (ROWS, None)
    assert page_of([], 3) == ([], None)


def test_the_key_says_where_a_row_keeps_its_time_and_id():
    wrapped = [(row, "extra") for row in ROWS]
    page, cursor = page_of(wrapped, 1, key=lambda pair: (pair[0].created_at, pair[0].id))
    assert page == wrapped[:1]
    assert decode_cursor(cursor) == (ROWS[0].created_at, ROWS[0].id)
