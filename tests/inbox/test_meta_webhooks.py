"""Meta webhooks (Facebook Page, Instagram, Threads) through the real receiver, signed."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import pytest

from tests.inbox.conftest import Inbox

SECRET = "meta-app-secret"
VERIFY = "meta-verify-token"
APPS = {n: {"client_secret": SECRET, "verify_token": VERIFY}
        for n in ("facebook", "instagram", "threads")}
PAGE = "104000000000001"


def meta_sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": "sha256=" + mac, "content-type": "application/json"}


@pytest.fixture
async def meta(start_inbox):
    async with start_inbox(network_apps=APPS) as inbox:
        yield inbox


async def items(inbox: Inbox, **params: Any) -> list[dict[str, Any]]:
    return (await inbox.conversations(**params))["items"]


async def send(inbox: Inbox, network: str, payload: dict[str, Any]) -> None:
    body = orjson.dumps(payload)
    r = await inbox.client.post(f"/hooks/{network}", content=body, headers=meta_sign(body))
    assert r.status_code == 200, r.text


async def test_verification_echoes_the_challenge_only_for_the_right_token(meta: Inbox) -> None:
    for network in ("facebook", "instagram", "threads"):
        ok = await meta.client.get(f"/hooks/{network}", params={
            "hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"})
        assert ok.status_code == 200 and ok.text == "1158201444"
        wrong = await meta.client.get(f"/hooks/{network}", params={
            "hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"})
        assert wrong.status_code == 403
        assert wrong.headers["content-type"] == "application/problem+json"
    r = await meta.client.get("/hooks/myspace", params={"hub.challenge": "1"})
    assert r.status_code == 404


async def test_page_comment_and_reply_thread_and_link_to_the_post(meta: Inbox) -> None:
    channel_id = await meta.connect_channel(network="facebook", external_id=PAGE)
    post_id = await meta.publish_post(channel_id=channel_id, network="facebook",
                                      external_id=f"{PAGE}_555")
    await meta.wait_for(lambda: meta.fetch("SELECT 1 FROM inbox.published_posts"))

    def comment(comment_id: str, parent: str, text: str, who: str = "9001") -> dict[str, Any]:
        return {"object": "page", "entry": [{"id": PAGE, "time": 1795000000, "changes": [{
            "field": "feed", "value": {
                "item": "comment", "verb": "add", "comment_id": comment_id,
                "post_id": f"{PAGE}_555", "parent_id": parent,
                "from": {"id": who, "name": "Noa"}, "message": text,
                "created_time": 1795000000}}]}]}

    await send(meta, "facebook", comment(f"{PAGE}_555_1", f"{PAGE}_555", "Terrible service!"))
    [conversation] = await meta.wait_for(lambda: items(meta))
    assert conversation["post_id"] == str(post_id)
    assert conversation["sentiment"] == "negative"
    await send(meta, "facebook", comment(f"{PAGE}_555_2", f"{PAGE}_555_1", "Hello??"))
    # The page's own comment echoes back and is not an audience message.
    await send(meta, "facebook", comment(f"{PAGE}_555_3", f"{PAGE}_555_1", "Sorry!", who=PAGE))

    async def settled() -> bool:
        rows = await meta.fetch("SELECT status FROM inbox.receipts")
        return len(rows) == 3 and all(r["status"] == "processed" for r in rows)

    await meta.wait_for(settled)
    messages = await meta.fetch("SELECT conversation_id FROM inbox.messages")
    assert len(messages) == 2 and len({m["conversation_id"] for m in messages}) == 1


async def test_messenger_dm_instagram_comment_and_threads_reply(meta: Inbox) -> None:
    await meta.connect_channel(network="facebook", external_id=PAGE)
    await meta.connect_channel(network="instagram", external_id="17841400000000001")
    await meta.connect_channel(network="threads", external_id="2600000000001")
    await meta.wait_for(lambda: meta.fetch("SELECT 1 FROM inbox.channels HAVING count(*) = 3"))
    await send(meta, "facebook", {"object": "page", "entry": [{"id": PAGE, "time": 1,
                                                                "messaging": [{
        "sender": {"id": "7001"}, "recipient": {"id": PAGE}, "timestamp": 1795000000123,
        "message": {"mid": "m_abc", "text": "Do you ship to Iceland?"}}]}]})
    # Instagram: field/value on the entry itself.
    await send(meta, "instagram", {"object": "instagram", "entry": [{
        "id": "17841400000000001", "time": 1, "field": "comments", "value": {
            "id": "17900000000000001", "from": {"id": "555", "username": "insta_fan"},
            "text": "Love it 😍", "media": {"id": "17800000000000009",
                                         "media_product_type": "FEED"}}}]})
    # Instagram: the same shape inside `changes`.
    await send(meta, "instagram", {"object": "instagram", "entry": [{
        "id": "17841400000000001", "time": 1, "changes": [{"field": "comments", "value": {
            "id": "17900000000000002", "from": {"id": "556", "username": "other_fan"},
            "text": "where to buy", "media": {"id": "17800000000000009"}}}]}]})
    await send(meta, "threads", {"app_id": "1", "topic": "moderate", "target_id": "2600000000001",
                                 "time": 1795000000, "values": {"field": "replies", "value": {
                                     "id": "1810000000001", "username": "threader",
                                     "text": "nice thread", "media_type": "TEXT_POST",
                                     "replied_to": {"id": "1800000000009"},
                                     "root_post": {"id": "1800000000009",
                                                   "owner_id": "2600000000001"},
                                     "timestamp": "2026-11-23T14:00:00+0000"}}})

    async def four() -> list[dict[str, Any]]:
        got = await items(meta)
        return got if len(got) == 4 else []

    got = await meta.wait_for(four)
    by_network = {(c["network"], c["kind"]) for c in got}
    assert by_network == {("facebook", "dm"), ("instagram", "comment"), ("threads", "comment")}
    [dm] = await items(meta, kind="dm")
    assert dm["author"]["id"] == "7001"
    [loved] = await items(meta, q="love")
    assert loved["author"]["handle"] == "insta_fan" and loved["sentiment"] == "positive"


async def test_meta_signature_is_checked_over_the_raw_body(meta: Inbox) -> None:
    body = orjson.dumps({"object": "page", "entry": []})
    for headers in (meta_sign(body, "wrong"), {"X-Hub-Signature-256": "sha1=abc"}, {}):
        r = await meta.client.post("/hooks/facebook", content=body, headers=headers)
        assert r.status_code == 401
    assert await meta.fetch("SELECT 1 FROM inbox.receipts") == []
    r = await meta.client.post("/hooks/facebook", content=b"{oops", headers=meta_sign(b"{oops"))
    assert r.status_code == 400
    # Signed, but nothing we handle (a like): kept, counted, not turned into a message.
    like = orjson.dumps({"object": "page", "entry": [{"id": PAGE, "changes": [
        {"field": "feed", "value": {"item": "reaction", "verb": "add"}}]}]})
    r = await meta.client.post("/hooks/facebook", content=like, headers=meta_sign(like))
    assert r.status_code == 200
    [row] = await meta.fetch("SELECT status FROM inbox.receipts")
    assert row["status"] == "unknown"
