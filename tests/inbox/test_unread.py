"""The unread filter, ETag / If-Match on conversations, and receipts that fail processing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import identity
from tests.inbox.conftest import Inbox, ManualClock, x_sign
from tests.inbox.test_x_webhooks import ACCOUNT, delivery, tweet


async def send(inbox: Inbox, tweet_id: str, text: str, **kw: Any) -> None:
    body = delivery(tweet(tweet_id, text, **kw))
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200, r.text


async def ids(inbox: Inbox, **params: Any) -> set[str]:
    return {c["id"] for c in (await inbox.conversations(**params))["items"]}


async def test_unread_filter_follows_new_messages_reading_and_replies(inbox: Inbox) -> None:
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    await send(inbox, "1800000000000000401", "first question", author="1700000000000000401")
    await send(inbox, "1800000000000000402", "second question", author="1700000000000000402")
    both = await inbox.wait_for(lambda: _size(ids(inbox), 2))
    assert await ids(inbox, unread="true") == both
    assert await ids(inbox, unread="false") == set()
    first, second = sorted(both)
    owner = identity(inbox.workspace_id)

    r = await inbox.client.patch(f"/v1/conversations/{first}", json={"read": True}, headers=owner)
    assert r.status_code == 200, r.text
    assert r.json()["unread"] is False
    assert await ids(inbox, unread="true") == {second}
    assert await ids(inbox, unread="false") == {first}

    # The person writes again in the thread that was read: unread again.
    [root] = await inbox.fetch(
        "SELECT external_id FROM inbox.messages WHERE conversation_id = $1::uuid", first
    )
    await send(
        inbox,
        "1800000000000000403",
        "still waiting",
        reply_to=root["external_id"],
        author="1700000000000000401",
    )
    await inbox.wait_for(lambda: _has(ids(inbox, unread="true"), first))

    # Answering a thread reads it; marking unread brings it back.
    r = await inbox.client.post(
        f"/v1/conversations/{second}/replies", json={"text": "On it"}, headers=owner
    )
    assert r.status_code == 202
    assert await ids(inbox, unread="true") == {first}
    r = await inbox.client.patch(f"/v1/conversations/{second}", json={"read": False}, headers=owner)
    assert r.json()["unread"] is True
    assert await ids(inbox, unread="true") == both
    # Combined with the other filters.
    assert await ids(inbox, unread="true", status="resolved") == set()
    assert await ids(inbox, unread="true", channel_id=str(channel_id)) == both
    assert await ids(inbox, channel_id=str(uuid.uuid4())) == set()


async def test_patch_with_a_stale_etag_is_refused(inbox: Inbox) -> None:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    await send(inbox, "1800000000000000501", "hello there")
    [cid] = await inbox.wait_for(lambda: _size(ids(inbox), 1))
    owner = identity(inbox.workspace_id)
    url = f"/v1/conversations/{cid}"

    r = await inbox.client.get(url, headers=owner)
    etag = r.headers["etag"]
    assert etag == f'"{r.json()["version"]}"'

    # A teammate assigns it meanwhile.
    r = await inbox.client.patch(
        url, json={"assignee": "dana"}, headers={**owner, "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    newer = r.headers["etag"]
    assert newer != etag

    # Our edit based on the old read is refused, and changes nothing.
    r = await inbox.client.patch(
        url, json={"status": "resolved"}, headers={**owner, "If-Match": etag}
    )
    assert r.status_code == 412
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "If-Match"
    assert (await inbox.client.get(url, headers=owner)).json()["status"] == "open"

    # A new message from the audience changes the ETag too.
    [root] = await inbox.fetch("SELECT external_id FROM inbox.messages")
    await send(inbox, "1800000000000000502", "anyone?", reply_to=root["external_id"])

    async def moved() -> bool:
        return (await inbox.client.get(url, headers=owner)).headers["etag"] != newer

    await inbox.wait_for(moved)
    r = await inbox.client.patch(
        url, json={"status": "resolved"}, headers={**owner, "If-Match": newer}
    )
    assert r.status_code == 412

    current = (await inbox.client.get(url, headers=owner)).headers["etag"]
    r = await inbox.client.patch(
        url, json={"status": "resolved"}, headers={**owner, "If-Match": f"W/{current}"}
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    # `*` and no If-Match at all stay unconditional.
    r = await inbox.client.patch(url, json={"tags": ["vip"]}, headers={**owner, "If-Match": "*"})
    assert r.status_code == 200
    r = await inbox.client.patch(url, json={"priority": "high"}, headers=owner)
    assert r.status_code == 200


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
        await inbox.wait_for(lambda: _size(ids(inbox), 1))
        await send(inbox, "1800000000000000602", "another one", author="1700000000000000602")
        await inbox.wait_for(lambda: _size(ids(inbox), 2))
        assert (await attempts())["attempts"] == 1

        # Due: tried again, and the wait doubles.
        second_try = clock.advance(seconds=60)
        second = await inbox.wait_for(lambda: _attempted(attempts(), 2))
        assert second["status"] == "pending"
        assert second["next_attempt_at"] == second_try + timedelta(seconds=120)
        clock.advance(seconds=119)
        await send(inbox, "1800000000000000603", "third", author="1700000000000000603")
        await inbox.wait_for(lambda: _size(ids(inbox), 3))
        assert (await attempts())["attempts"] == 2

        # The last attempt gives it up: kept, with its error, for someone to look at.
        clock.advance(seconds=1)
        last = await inbox.wait_for(lambda: _attempted(attempts(), 3))
        assert last["status"] == "failed" and last["error"]


async def _size(coro: Any, n: int) -> Any:
    got = await coro
    return got if len(got) == n else None


async def _has(coro: Any, item: str) -> bool:
    return item in await coro


async def _attempted(coro: Any, n: int) -> Any:
    row = await coro
    return row if row["attempts"] >= n else None
