"""Webhook receipts that fail processing: retried with backoff on the inbox's clock, then given
up, while other receipts go on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.inbox.conftest import ManualClock
from tests.inbox.test_x_webhooks import ACCOUNT
from tests.inbox.x_comments import ids, of_size, send


async def test_a_receipt_that_fails_is_retried_with_backoff_then_given_up(start_inbox) -> None:
    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    clock = ManualClock(t0)
    async with start_inbox(
        clock=clock, receipt_retry_seconds=60, receipt_max_attempts=3, receipt_idle_poll=0.1
    ) as inbox:
        await inbox.connect_channel(network="x", external_id=ACCOUNT)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
        # A stored receipt whose body the worker cannot read (the receivers never store one;
        # a row damaged in storage, or a parser regression, looks like this to the worker).
        [bad] = await inbox.fetch(
            "INSERT INTO inbox.receipts (network, event_key, account_id, status, body) "
            "VALUES ('x', 'tweet:damaged', $1, 'pending', $2) RETURNING id",
            ACCOUNT,
            b'{"for_user_id": "' + ACCOUNT.encode() + b'", "tweet_create_',
        )

        async def attempts() -> Any:
            [row] = await inbox.fetch(
                "SELECT attempts, status, error, next_attempt_at FROM inbox.receipts WHERE id = $1",
                bad["id"],
            )
            return row

        first = await inbox.wait_for(lambda: _attempted(attempts(), 1))
        assert first["status"] == "pending" and "JSON" in first["error"]
        assert first["next_attempt_at"] == t0 + timedelta(seconds=60)

        # The worker goes on with other receipts; the failed one is not tried again early.
        await send(inbox, "1800000000000000601", "a normal comment")
        await inbox.wait_for(lambda: of_size(ids(inbox), 1))
        await send(inbox, "1800000000000000602", "another one", author="1700000000000000602")
        await inbox.wait_for(lambda: of_size(ids(inbox), 2))
        assert (await attempts())["attempts"] == 1

        # Due: tried again, and the wait doubles.
        second_try = clock.advance(seconds=60)
        second = await inbox.wait_for(lambda: _attempted(attempts(), 2))
        assert second["status"] == "pending"
        assert second["next_attempt_at"] == second_try + timedelta(seconds=120)
        clock.advance(seconds=119)
        await send(inbox, "1800000000000000603", "third", author="1700000000000000603")
        await inbox.wait_for(lambda: of_size(ids(inbox), 3))
        assert (await attempts())["attempts"] == 2

        # The last attempt gives it up: kept, with its error, for someone to look at.
        clock.advance(seconds=1)
        last = await inbox.wait_for(lambda: _attempted(attempts(), 3))
        assert last["status"] == "failed" and last["error"]


async def _attempted(coro: Any, n: int) -> Any:
    row = await coro
    return row if row["attempts"] >= n else None
