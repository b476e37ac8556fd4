"""X Account Activity webhooks through the real HTTP receiver, signed as X signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any

import orjson

from tests.conftest import identity
from tests.inbox.conftest import X_SECRET, Inbox, x_sign

ACCOUNT = "1500000000000000001"
POST = "1500000000000000100"


def tweet(tweet_id: str, text: str, *, reply_to: str | None = POST,
          author: str = "1700000000000000001") -> dict[str, Any]:
    return {
        "id_str": tweet_id,
        "text": text,
        "created_at": "Mon Nov 23 14:00:00 +0000 2026",
        "user": {"id_str": author, "screen_name": "fan_1", "name": "A Fan"},
        "in_reply_to_status_id_str": reply_to,
        "in_reply_to_user_id_str": ACCOUNT if reply_to else None,
    }


def delivery(*tweets: dict[str, Any]) -> bytes:
    return orjson.dumps({"for_user_id": ACCOUNT, "tweet_create_events": list(tweets)})


async def receipts(inbox: Inbox) -> list[Any]:
    return await inbox.fetch("SELECT * FROM inbox.receipts ORDER BY id")


def counted(inbox: Inbox, outcome: str) -> float:
    counters = inbox.app.state.counters
    return float(counters.receipts.labels("x", outcome)._value.get())


async def test_crc_answers_with_the_hmac_of_the_token(inbox: Inbox) -> None:
    r = await inbox.client.get("/hooks/x", params={"crc_token": "challenge-123"})
    assert r.status_code == 200
    expected = base64.b64encode(
        hmac.new(X_SECRET.encode(), b"challenge-123", hashlib.sha256).digest()
    ).decode()
    assert r.json() == {"response_token": "sha256=" + expected}


async def test_signed_reply_becomes_a_conversation_linked_to_the_post(inbox: Inbox) -> None:
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    post_id = await inbox.publish_post(channel_id=channel_id, network="x", external_id=POST)
    await inbox.wait_for(
        lambda: inbox.fetch("SELECT 1 FROM inbox.published_posts WHERE external_id=$1", POST)
    )
    seen = await inbox.spy()
    body = delivery(tweet("1800000000000000001", "@brand I love this, great work!"))
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200, r.text

    page = await inbox.wait_for(lambda: _items(inbox))
    [conversation] = page
    assert conversation["network"] == "x"
    assert conversation["kind"] == "comment"
    assert conversation["status"] == "open"
    assert conversation["channel_id"] == str(channel_id)
    assert conversation["post_id"] == str(post_id)
    assert conversation["author"]["handle"] == "fan_1"
    assert conversation["sentiment"] == "positive"

    detail = await inbox.client.get(
        f"/v1/conversations/{conversation['id']}", headers=identity(inbox.workspace_id)
    )
    assert detail.status_code == 200
    [message] = detail.json()["messages"]
    assert message["external_id"] == "1800000000000000001"
    assert message["text"] == "@brand I love this, great work!"
    assert message["parent_external_id"] == POST

    other = await inbox.client.get(
        f"/v1/conversations/{conversation['id']}", headers=identity(uuid.uuid4())
    )
    assert other.status_code == 404
    assert (await inbox.conversations())["items"]
    elsewhere = await inbox.client.get("/v1/conversations", headers=identity(uuid.uuid4()))
    assert elsewhere.json()["items"] == []
    events = await inbox.fetch("SELECT routing_key FROM inbox.outbox")
    # The relay may already have published them; either way they went through the outbox.
    assert {e["routing_key"] for e in events} <= {"conversation.opened", "message.received"}

    # A new thread is announced once, before its first message.
    def told() -> list[Any] | None:
        found = [e for e in seen if e.type in ("conversation.opened", "message.received")]
        return found if len(found) == 2 else None

    announced = await inbox.wait_for(told)
    assert [e.type for e in announced] == ["conversation.opened", "message.received"]
    assert announced[0].data["conversation_id"] == conversation["id"]
    assert announced[0].data["post_id"] == str(post_id)
    assert announced[0].data["kind"] == "comment"


async def _items(inbox: Inbox, **params: Any) -> list[dict[str, Any]]:
    return (await inbox.conversations(**params))["items"]


async def test_bad_or_missing_signature_is_refused_and_leaves_no_trace(inbox: Inbox) -> None:
    body = delivery(tweet("1800000000000000002", "hello"))
    wrong = x_sign(body, secret="not-the-secret")
    r = await inbox.client.post("/hooks/x", content=body, headers=wrong)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    r = await inbox.client.post("/hooks/x", content=body,
                                headers={"content-type": "application/json"})
    assert r.status_code == 401
    # A body altered after signing fails too: the HMAC covers the raw bytes.
    tampered = body.replace(b"hello", b"HELLO")
    r = await inbox.client.post("/hooks/x", content=tampered, headers=x_sign(body))
    assert r.status_code == 401
    assert await receipts(inbox) == []
    assert counted(inbox, "rejected") == 3


async def test_duplicate_delivery_makes_one_message(inbox: Inbox) -> None:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    body = delivery(tweet("1800000000000000003", "first!"))
    for _ in range(3):
        r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
        assert r.status_code == 200
    # The same event re-serialised differently (key order) is still the same event.
    again = orjson.dumps({"tweet_create_events": [tweet("1800000000000000003", "first!")],
                          "for_user_id": ACCOUNT})
    r = await inbox.client.post("/hooks/x", content=again, headers=x_sign(again))
    assert r.status_code == 200
    await inbox.wait_for(lambda: _items(inbox))
    messages = await inbox.wait_for(lambda: inbox.fetch("SELECT * FROM inbox.messages"))
    assert len(messages) == 1
    assert len(await receipts(inbox)) == 1
    assert counted(inbox, "duplicate") == 3


async def test_unknown_but_signed_shape_is_kept_and_counted(inbox: Inbox) -> None:
    body = orjson.dumps({"for_user_id": ACCOUNT, "favorite_events": [{"id": "abc"}]})
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200
    [receipt] = await receipts(inbox)
    assert receipt["status"] == "unknown"
    assert bytes(receipt["body"]) == body
    assert counted(inbox, "unknown") == 1
    metrics = await inbox.client.get("/metrics")
    assert 'herald_inbox_receipts_total{network="x",outcome="unknown"} 1.0' in metrics.text


async def test_malformed_json_is_a_400_and_stores_nothing(inbox: Inbox) -> None:
    for body in (b'{"for_user_id": "1", "tweet_create_events": [', b"not json at all"):
        r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
    assert await receipts(inbox) == []


async def test_huge_body_is_refused_before_it_is_read(start_inbox) -> None:
    async with start_inbox(max_body_bytes=1000) as inbox:
        body = delivery(tweet("1800000000000000009", "x" * 5000))
        r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
        assert r.status_code == 413
        assert await receipts(inbox) == []


async def test_network_without_secret_has_no_receiver(inbox: Inbox) -> None:
    r = await inbox.client.get("/hooks/x", params={"crc_token": "t"})
    assert r.status_code == 200
    r = await inbox.client.post("/hooks/linkedin", content=b"{}")
    assert r.status_code in (404, 405)


async def test_comment_before_its_post_is_linked_when_the_post_arrives(inbox: Inbox) -> None:
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    body = delivery(tweet("1800000000000000004", "what is this?"))
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200
    [conversation] = await inbox.wait_for(lambda: _items(inbox))
    assert conversation["post_id"] is None
    post_id = await inbox.publish_post(channel_id=channel_id, network="x", external_id=POST)

    async def linked() -> bool:
        return bool(await _items(inbox, post_id=str(post_id)))

    await inbox.wait_for(linked)


async def test_comment_before_its_channel_is_parked_then_routed(inbox: Inbox) -> None:
    body = delivery(tweet("1800000000000000005", "anyone there?"))
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200

    async def parked() -> bool:
        rows = await receipts(inbox)
        return bool(rows) and rows[0]["status"] == "unrouted"

    await inbox.wait_for(parked)
    assert await _items(inbox) == []
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    [conversation] = await inbox.wait_for(lambda: _items(inbox))
    assert conversation["channel_id"] == str(channel_id)
    [receipt] = await receipts(inbox)
    assert receipt["status"] == "processed"


async def test_reply_to_a_comment_joins_its_conversation_and_own_tweets_are_skipped(
    inbox: Inbox,
) -> None:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    first = delivery(tweet("1800000000000000006", "this is broken"))
    await inbox.client.post("/hooks/x", content=first, headers=x_sign(first))
    await inbox.wait_for(lambda: _items(inbox))
    follow_up = tweet("1800000000000000007", "still broken", reply_to="1800000000000000006")
    own = tweet("1800000000000000008", "sorry!", reply_to="1800000000000000006", author=ACCOUNT)
    body = delivery(follow_up, own)
    await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))

    async def two_messages() -> list[Any]:
        rows = await inbox.fetch("SELECT * FROM inbox.messages")
        return rows if len(rows) == 2 else []

    rows = await inbox.wait_for(two_messages)
    assert len({r["conversation_id"] for r in rows}) == 1
    [conversation] = await _items(inbox)
    assert conversation["sentiment"] == "negative"
    assert (await _items(inbox, sentiment="negative")) == [conversation]
    assert (await _items(inbox, sentiment="positive")) == []
    assert (await _items(inbox, q="broken"))
    assert (await _items(inbox, q="banana")) == []


async def test_direct_message_is_a_dm_conversation(inbox: Inbox) -> None:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    body = orjson.dumps({
        "for_user_id": ACCOUNT,
        "direct_message_events": [{
            "type": "message_create", "id": "1900000000000000001",
            "created_timestamp": "1795000000000",
            "message_create": {"target": {"recipient_id": ACCOUNT}, "sender_id": "42",
                               "message_data": {"text": "Where is my order?"}},
        }],
        "users": {"42": {"id_str": "42", "name": "Buyer", "screen_name": "buyer42"}},
    })
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200
    [conversation] = await inbox.wait_for(lambda: _items(inbox, kind="dm"))
    assert conversation["author"]["handle"] == "buyer42"
    assert conversation["post_id"] is None


async def test_pagination_walks_every_conversation_once(inbox: Inbox) -> None:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    ids = [f"18000000000000001{i:02d}" for i in range(7)]
    for tweet_id in ids:
        body = delivery(tweet(tweet_id, f"comment {tweet_id}"))
        await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))

    async def all_in() -> bool:
        return len(await _items(inbox, limit=50)) == 7

    await inbox.wait_for(all_in)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = await inbox.conversations(**params)
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 == len(set(seen))
    bad = await inbox.client.get("/v1/conversations", params={"cursor": "???"},
                                 headers=identity(inbox.workspace_id))
    assert bad.status_code == 422


async def test_concurrent_deliveries_are_each_stored_once(inbox: Inbox) -> None:
    """Concurrent webhooks share commits; each still learns whether it was the new copy."""
    import asyncio

    same = delivery(tweet("1800000000000000701", "sent twenty times at once"))
    distinct = [delivery(tweet(str(1800000000000000800 + n), f"comment {n}")) for n in range(40)]

    async def post(body: bytes) -> dict[str, Any]:
        r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
        assert r.status_code == 200, r.text
        return r.json()

    answers = await asyncio.gather(*(post(b) for b in [same] * 20 + distinct))
    assert [a["duplicate"] for a in answers[:20]].count(False) == 1
    assert not any(a["duplicate"] for a in answers[20:])
    rows = await receipts(inbox)
    assert len(rows) == 41
    assert sorted(bytes(r["body"]) for r in rows) == sorted([same, *distinct])
    assert counted(inbox, "duplicate") == 19 and counted(inbox, "stored") == 41


async def test_a_reply_delivered_before_its_parent_ends_in_the_same_conversation(
    inbox: Inbox,
) -> None:
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    post_id = await inbox.publish_post(channel_id=channel_id, network="x", external_id=POST)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.published_posts"))

    def at(minute: int, t: dict[str, Any]) -> dict[str, Any]:
        return {**t, "timestamp_ms": str(1_795_000_000_000 + minute * 60_000)}

    comment = at(0, tweet("1800000000000000901", "Is this available in blue?",
                          author="1700000000000000901"))
    reply = at(5, tweet("1800000000000000902", "Same question, this is awful",
                        reply_to="1800000000000000901", author="1700000000000000902"))
    later = at(9, tweet("1800000000000000903", "Thanks, lovely!",
                        reply_to="1800000000000000902", author="1700000000000000901"))
    # The reply first: it opens a thread of its own while its parent is unknown.
    for t in (reply, comment, later):
        body = delivery(t)
        r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
        assert r.status_code == 200
        await inbox.wait_for(
            lambda t=t: inbox.fetch("SELECT 1 FROM inbox.messages WHERE external_id=$1",
                                    t["id_str"]))

    [conversation] = (await inbox.conversations())["items"]
    assert conversation["author"]["id"] == "1700000000000000901"
    assert conversation["post_id"] == str(post_id)
    assert conversation["sentiment"] == "positive"  # the latest message's, by time written
    r = await inbox.client.get(f"/v1/conversations/{conversation['id']}",
                               headers=identity(inbox.workspace_id))
    got = r.json()
    assert [m["external_id"] for m in got["messages"]] == [
        comment["id_str"], reply["id_str"], later["id_str"]]
    assert got["first_message_at"].startswith("2026-11-18")
    assert len(await inbox.fetch("SELECT 1 FROM inbox.conversations")) == 1


async def test_nul_characters_do_not_block_a_message(inbox: Inbox) -> None:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    t = tweet("1800000000000000951", "broken\u0000 text")
    t["user"]["name"] = "Null\u0000Name"
    body = delivery(t)
    assert b"\\u0000" in body
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200
    [message] = await inbox.wait_for(
        lambda: inbox.fetch("SELECT text, author_name FROM inbox.messages"))
    assert message["text"] == "broken text" and message["author_name"] == "NullName"
    [receipt] = await receipts(inbox)
    assert receipt["status"] == "processed" and bytes(receipt["body"]) == body
