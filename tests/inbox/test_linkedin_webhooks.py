"""LinkedIn, TikTok and YouTube receivers over real HTTP, signed as those networks sign."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

from sandbox.app import create_app as create_sandbox
from sandbox.settings import SandboxSettings
from tests.inbox.conftest import Inbox
from tests.support.servers import serve

LI_SECRET = "linkedin-client-secret-for-tests"
TT_SECRET = "tiktok-client-secret-for-tests"
YT_SECRET = "youtube-hub-secret-for-tests"
APPS = {
    "linkedin": {"client_secret": LI_SECRET},
    "tiktok": {"client_secret": TT_SECRET},
    "youtube": {"client_secret": YT_SECRET, "verify_token": "yt-verify"},
}
ORG = "urn:li:organization:90001"
LI_POST = "urn:li:share:7100000000000000001"
TT_USER = "tt-open-id-brand"
YT_CHANNEL = "UCbrandchannel0000000001"


def hexmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def li_comment(comment_no: int, text: str) -> bytes:
    urn = f"urn:li:comment:(urn:li:activity:7100000000000000009,{comment_no})"
    return orjson.dumps({
        "type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
        "notifications": [{
            "action": "COMMENT", "organizationalEntity": ORG, "sourcePost": LI_POST,
            "generatedActivity": urn, "actor": "urn:li:person:abc123",
            "decoratedGeneratedActivity": {"comment": {
                "entity": LI_POST, "text": text, "fullName": "Jo Reader",
                "owner": "urn:li:person:abc123"}},
            "lastModifiedAt": int(time.time() * 1000),
        }],
    })


def tt_published(publish_id: str) -> bytes:
    """TikTok's `video.publish.completed` (its webhooks carry no comments)."""
    content = {"publish_id": publish_id, "publish_type": "DIRECT_PUBLISH"}
    return orjson.dumps({"client_key": "ck", "event": "video.publish.completed",
                         "create_time": int(time.time()), "user_openid": TT_USER,
                         "content": orjson.dumps(content).decode()})


def tt_sign(body: bytes, ts: int | None = None, secret: str = TT_SECRET) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    mac = hexmac(secret, f"{ts}.".encode() + body)
    return {"TikTok-Signature": f"t={ts},s={mac}", "content-type": "application/json"}


ATOM = b"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">
 <link rel="hub" href="https://pubsubhubbub.appspot.com"/>
 <link rel="self" href="https://www.youtube.com/xml/feeds/videos.xml?channel_id=UCbrandchannel0000000001"/>
 <title>YouTube video feed</title>
 <updated>2026-11-23T12:00:01.552394234+00:00</updated>
 <entry>
  <id>yt:video:dQw4w9WgXcQ</id>
  <yt:videoId>dQw4w9WgXcQ</yt:videoId>
  <yt:channelId>UCbrandchannel0000000001</yt:channelId>
  <title>Launch day</title>
  <link rel="alternate" href="http://www.youtube.com/watch?v=dQw4w9WgXcQ"/>
  <author><name>Brand</name><uri>http://www.youtube.com/channel/UCbrandchannel0000000001</uri></author>
  <published>2026-11-23T11:59:00+00:00</published>
  <updated>2026-11-23T12:00:01.552394234+00:00</updated>
 </entry>
</feed>"""


def yt_sign(body: bytes, secret: str = YT_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, "sha1").hexdigest(),
            "content-type": "application/atom+xml"}


async def receipts(inbox: Inbox, network: str) -> list[Any]:
    return await inbox.fetch("SELECT * FROM inbox.receipts WHERE network=$1 ORDER BY id", network)


async def items(inbox: Inbox, **params: Any) -> list[dict[str, Any]]:
    return (await inbox.conversations(**params))["items"]


async def test_linkedin_challenge_and_signatures_with_and_without_prefix(start_inbox) -> None:
    async with start_inbox(network_apps=APPS) as inbox:
        code = "f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b"  # LinkedIn's challengeCode is a UUID
        r = await inbox.client.get("/hooks/linkedin", params={"challengeCode": code})
        assert r.status_code == 200
        assert r.json() == {"challengeCode": code,
                            "challengeResponse": hexmac(LI_SECRET, code.encode())}

        channel_id = await inbox.connect_channel(network="linkedin", external_id=ORG)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
        first = li_comment(1, "Great news, congratulations!")
        r = await inbox.client.post("/hooks/linkedin", content=first, headers={
            "X-LI-Signature": "hmacsha256=" + hexmac(LI_SECRET, first)})
        assert r.status_code == 200, r.text
        second = li_comment(2, "This is terrible service")
        r = await inbox.client.post("/hooks/linkedin", content=second,
                                    headers={"X-LI-Signature": hexmac(LI_SECRET, second)})
        assert r.status_code == 200, r.text
        wrong = li_comment(3, "forged")
        r = await inbox.client.post("/hooks/linkedin", content=wrong, headers={
            "X-LI-Signature": "hmacsha256=" + hexmac("not-the-secret", wrong)})
        assert r.status_code == 401
        r = await inbox.client.post("/hooks/linkedin", content=wrong)
        assert r.status_code == 401

        found = await inbox.wait_for(
            lambda: _at_least(items(inbox, network="linkedin"), 2))
        assert {c["sentiment"] for c in found} == {"positive", "negative"}
        assert {c["channel_id"] for c in found} == {str(channel_id)}
        assert all(c["kind"] == "comment" for c in found)
        assert len(await receipts(inbox, "linkedin")) == 2


async def _stored(inbox: Any, n: int) -> Any:
    stored = await receipts(inbox, "tiktok")
    return stored if len(stored) >= n else None


async def _at_least(coro: Any, n: int) -> Any:
    got = await coro
    return got if len(got) >= n else None


async def test_tiktok_signature_tolerance_and_retries_stored_once(start_inbox) -> None:
    async with start_inbox(network_apps=APPS,
                           tiktok_signature_tolerance_seconds=60) as inbox:
        await inbox.connect_channel(network="tiktok", external_id=TT_USER)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
        body = tt_published("v_pub_file~v2-1.7400000000000000001")
        r = await inbox.client.post("/hooks/tiktok", content=body, headers=tt_sign(body))
        assert r.status_code == 200 and r.json()["duplicate"] is False
        # TikTok retries sign the same body again with a new timestamp.
        r = await inbox.client.post("/hooks/tiktok", content=body,
                                    headers=tt_sign(body, int(time.time()) + 2))
        assert r.status_code == 200 and r.json()["duplicate"] is True

        stale = tt_published("v_pub_file~v2-1.7400000000000000002")
        r = await inbox.client.post("/hooks/tiktok", content=stale,
                                    headers=tt_sign(stale, int(time.time()) - 120))
        assert r.status_code == 401
        assert "too old" in r.json()["detail"]
        r = await inbox.client.post("/hooks/tiktok", content=stale,
                                    headers=tt_sign(stale, secret="wrong"))
        assert r.status_code == 401
        r = await inbox.client.post("/hooks/tiktok", content=stale,
                                    headers={"TikTok-Signature": "garbage"})
        assert r.status_code == 401
        truncated = body[:-5]
        r = await inbox.client.post("/hooks/tiktok", content=truncated,
                                    headers=tt_sign(truncated))
        assert r.status_code == 400

        # TikTok's events are kept and counted, and none of them is a message.
        other = orjson.dumps({"client_key": "ck", "event": "authorization.removed",
                              "create_time": 1, "user_openid": TT_USER,
                              "content": '{"reason": 1}'})
        r = await inbox.client.post("/hooks/tiktok", content=other, headers=tt_sign(other))
        assert r.status_code == 200

        stored = await inbox.wait_for(lambda: _stored(inbox, 2))
        assert [r["status"] for r in stored] == ["unknown", "unknown"]
        assert stored[0]["event_key"].startswith(f"video.publish.completed:{TT_USER}:")
        assert await items(inbox, network="tiktok") == []


async def test_youtube_websub_verification_and_signed_upload_notice(start_inbox) -> None:
    async with start_inbox(network_apps=APPS) as inbox:
        topic = f"https://www.youtube.com/xml/feeds/videos.xml?channel_id={YT_CHANNEL}"
        query = {"hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "c-42",
                 "hub.lease_seconds": "432000", "hub.verify_token": "yt-verify"}
        r = await inbox.client.get("/hooks/youtube", params=query)
        assert r.status_code == 200 and r.text == "c-42"
        r = await inbox.client.get("/hooks/youtube",
                                   params={**query, "hub.verify_token": "nope"})
        assert r.status_code == 403
        r = await inbox.client.get("/hooks/youtube",
                                   params={**query, "hub.topic": "https://evil.example/feed"})
        assert r.status_code == 404

        await inbox.connect_channel(network="youtube", external_id=YT_CHANNEL)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
        r = await inbox.client.post("/hooks/youtube", content=ATOM, headers=yt_sign(ATOM))
        assert r.status_code == 200 and r.json()["duplicate"] is False
        r = await inbox.client.post("/hooks/youtube", content=ATOM, headers=yt_sign(ATOM))
        assert r.json()["duplicate"] is True
        r = await inbox.client.post("/hooks/youtube", content=ATOM,
                                    headers=yt_sign(ATOM, "wrong"))
        assert r.status_code == 401
        bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><feed>&a;</feed>'
        r = await inbox.client.post("/hooks/youtube", content=bomb, headers=yt_sign(bomb))
        assert r.status_code == 400
        broken = ATOM[:200]
        r = await inbox.client.post("/hooks/youtube", content=broken, headers=yt_sign(broken))
        assert r.status_code == 400

        async def processed() -> list[Any]:
            return [r for r in await receipts(inbox, "youtube") if r["status"] == "processed"]

        [receipt] = await inbox.wait_for(processed)
        assert receipt["event_key"] == "video:dQw4w9WgXcQ@2026-11-23T12:00:01.552394234+00:00"
        assert receipt["account_id"] == YT_CHANNEL
        # Uploads are not audience messages.
        assert await items(inbox) == []


async def test_sandbox_linkedin_comment_arrives_signed(start_inbox, inbox_port: int) -> None:
    sandbox = create_sandbox(
        SandboxSettings(
            webhook_base_url=f"http://127.0.0.1:{inbox_port}/hooks",
            # The receiver is under test here; subscriptions have tests of their own.
            require_subscriptions=False,
        )
    )
    async with serve(sandbox) as sandbox_url, httpx.AsyncClient(base_url=sandbox_url) as sb:
        app = (await sb.get("/_sandbox/linkedin/app")).json()
        account = (await sb.post("/_sandbox/linkedin/accounts", json={"name": "Brand"})).json()
        token = account["credentials"]["access_token"]
        created = await sb.post(
            "/linkedin/rest/posts",
            json={"author": account["external_id"], "commentary": "We launched!",
                  "visibility": "PUBLIC", "distribution": {"feedDistribution": "MAIN_FEED"},
                  "lifecycleState": "PUBLISHED"},
            headers={"Authorization": f"Bearer {token}", "Linkedin-Version": "202411",
                     "X-Restli-Protocol-Version": "2.0.0"},
        )
        assert created.status_code == 201, created.text
        post_urn = created.headers["x-restli-id"]
        async with start_inbox(network_apps={"linkedin": {
                "client_secret": app["client_secret"]}}) as inbox:
            # The sandbox validates the URL with a challengeCode, as LinkedIn does.
            registered = await sb.put("/_sandbox/linkedin/webhook",
                                      json={"url": f"{inbox.url}/hooks/linkedin"})
            assert registered.status_code == 200, registered.text
            channel_id = await inbox.connect_channel(network="linkedin",
                                                     external_id=account["external_id"])
            post_id = await inbox.publish_post(channel_id=channel_id, network="linkedin",
                                               external_id=post_urn)
            await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.published_posts"))
            comment = await sb.post(f"/_sandbox/linkedin/posts/{post_urn}/comments",
                                    json={"text": "Wonderful, well done!", "author": "Dana"})
            assert comment.status_code == 201, comment.text
            [conversation] = await inbox.wait_for(lambda: items(inbox, post_id=str(post_id)))
            assert conversation["sentiment"] == "positive"
            deliveries = (await sb.get("/_sandbox/deliveries",
                                       params={"network": "linkedin"})).json()
            assert [d["status_code"] for d in deliveries["items"]] == [200]
