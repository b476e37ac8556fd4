"""Every receiver against bad input: the right 4xx, nothing stored, never a 500.

One inbox with an app configured for every network that pushes; each network gets the same
treatment: its handshake right and wrong, no or a wrong signature, a signed body that is cut
short or not in the network's format, a body over the limit (declared, and streamed without a
length), and a signed payload of a shape the inbox does not know, which is kept and counted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson

SECRETS = {
    "x": "x-secret",
    "facebook": "fb-secret",
    "instagram": "ig-secret",
    "threads": "th-secret",
    "linkedin": "li-secret",
    "tiktok": "tt-secret",
    "youtube": "yt-secret",
}
VERIFY = "the-verify-token"
APPS = {n: {"client_secret": s, "verify_token": VERIFY} for n, s in SECRETS.items()}
LIMIT = 4000
YT_TOPIC = "https://www.youtube.com/xml/feeds/videos.xml?channel_id=UCbrandchannel0000000001"


def hexmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    network: str, body: bytes, secret: str | None = None, ts: int | None = None
) -> dict[str, str]:
    secret = secret or SECRETS[network]
    if network == "x":
        mac = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        return {"x-twitter-webhooks-signature": "sha256=" + mac.decode()}
    if network in ("facebook", "instagram", "threads"):
        return {"X-Hub-Signature-256": "sha256=" + hexmac(secret, body)}
    if network == "linkedin":
        return {"X-LI-Signature": "hmacsha256=" + hexmac(secret, body)}
    if network == "tiktok":
        ts = int(time.time()) if ts is None else ts
        return {"TikTok-Signature": f"t={ts},s={hexmac(secret, f'{ts}.'.encode() + body)}"}
    return {"X-Hub-Signature": "sha256=" + hexmac(secret, body)}


# A payload each network might send that the inbox has no use for yet.
UNKNOWN: dict[str, bytes] = {
    "x": orjson.dumps({"for_user_id": "15000001", "follow_events": [{"type": "follow"}]}),
    "facebook": orjson.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": "104",
                    "time": 1,
                    "changes": [{"field": "ratings", "value": {"verb": "add"}}],
                }
            ],
        }
    ),
    "instagram": orjson.dumps(
        {
            "object": "instagram",
            "entry": [{"id": "178", "time": 1, "field": "story_insights", "value": {"reach": 3}}],
        }
    ),
    "threads": orjson.dumps(
        {
            "app_id": "1",
            "topic": "moderate",
            "target_id": "9",
            "time": 1,
            "values": {"field": "publish", "value": {}},
        }
    ),
    "linkedin": orjson.dumps(
        {
            "type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
            "notifications": [{"action": "SHARE_MENTION"}],
        }
    ),
    "tiktok": orjson.dumps(
        {
            "client_key": "ck",
            "event": "video.publish.completed",
            "create_time": 1,
            "user_openid": "o",
            "content": "{}",
        }
    ),
    "youtube": b"<?xml version='1.0' encoding='UTF-8'?>"
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>nothing new</title></feed>',
}
NOT_THE_FORMAT = {n: b"hello, this is not JSON" for n in SECRETS}
NOT_THE_FORMAT["youtube"] = b"<feed><unclosed>"


async def test_every_receiver_refuses_bad_input_and_keeps_unknown_shapes(start_inbox) -> None:
    async with start_inbox(network_apps=APPS, max_body_bytes=LIMIT) as inbox:
        statuses: list[int] = []

        async def post(
            network: str, body: bytes | Callable[[], AsyncIterator[bytes]], headers: dict[str, str]
        ) -> httpx.Response:
            content: Any = body() if callable(body) else body
            r = await inbox.client.post(f"/hooks/{network}", content=content, headers=headers)
            statuses.append(r.status_code)
            return r

        for network in SECRETS:
            good = UNKNOWN[network]
            # No signature, a wrong one, and a right one over different bytes.
            assert (await post(network, good, {})).status_code == 401, network
            r = await post(network, good, sign(network, good, secret="not-it"))
            assert r.status_code == 401, network
            assert r.headers["content-type"] == "application/problem+json"
            r = await post(network, good + b" ", sign(network, good))
            assert r.status_code == 401, network
            # Signed, but cut short or not in the network's format at all.
            for bad in (good[: len(good) // 2], NOT_THE_FORMAT[network]):
                r = await post(network, bad, sign(network, bad))
                assert r.status_code == 400, (network, r.text)
            # Too large: by its declared length, and streamed with no length at all.
            huge = good + b" " * (LIMIT + 10)
            r = await post(network, huge, sign(network, huge))
            assert r.status_code == 413, network

            async def stream(huge: bytes = huge) -> AsyncIterator[bytes]:
                for i in range(0, len(huge), 1000):
                    yield huge[i : i + 1000]

            r = await post(network, stream, sign(network, huge))
            assert r.status_code == 413, network
            assert (
                await inbox.fetch("SELECT 1 FROM inbox.receipts WHERE network=$1", network) == []
            ), network

        # A TikTok signature that is right but old is a replay.
        old = int(time.time()) - 3600
        r = await post("tiktok", UNKNOWN["tiktok"], sign("tiktok", UNKNOWN["tiktok"], ts=old))
        assert r.status_code == 401 and "too old" in r.json()["detail"]
        assert await inbox.fetch("SELECT 1 FROM inbox.receipts") == []

        # Signed shapes the inbox does not know: kept as receipts, counted, no message.
        counters = inbox.app.state.counters.receipts
        for network, body in UNKNOWN.items():
            r = await post(network, body, sign(network, body))
            assert r.status_code == 200, (network, r.text)
            assert r.json() == {"ok": True, "duplicate": False}
            [row] = await inbox.fetch(
                "SELECT status, body FROM inbox.receipts WHERE network=$1", network
            )
            assert row["status"] == "unknown" and bytes(row["body"]) == body, network
            assert counters.labels(network, "unknown")._value.get() == 1, network
            assert counters.labels(network, "rejected")._value.get() >= 3, network
        assert await inbox.fetch("SELECT 1 FROM inbox.messages") == []
        assert all(s < 500 for s in statuses)


async def test_every_handshake_answers_only_the_right_party(start_inbox) -> None:
    async with start_inbox(network_apps=APPS) as inbox:
        get = inbox.client.get
        # Meta (Facebook, Instagram, Threads): echo hub.challenge for the right verify token.
        for network in ("facebook", "instagram", "threads"):
            query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"}
            r = await get(f"/hooks/{network}", params=query)
            assert r.status_code == 200 and r.text == "42", network
            r = await get(f"/hooks/{network}", params={**query, "hub.verify_token": "nope"})
            assert r.status_code == 403, network
            r = await get(f"/hooks/{network}", params={**query, "hub.mode": "unsubscribe"})
            assert r.status_code == 403, network
        # X: the CRC response is the HMAC of the token with the consumer secret.
        r = await get("/hooks/x", params={"crc_token": "crc-1"})
        mac = base64.b64encode(hmac.new(b"x-secret", b"crc-1", hashlib.sha256).digest())
        assert r.json() == {"response_token": "sha256=" + mac.decode()}
        assert (await get("/hooks/x")).status_code == 422
        # LinkedIn: the challengeCode (a UUID) and its hex HMAC; nothing else is answered.
        code = "890e4bd5-7ac3-4412-94b3-c4aec5fcd9cc"
        r = await get("/hooks/linkedin", params={"challengeCode": code})
        assert r.json() == {
            "challengeCode": code,
            "challengeResponse": hexmac("li-secret", code.encode()),
        }
        r = await get("/hooks/linkedin", params={"challengeCode": "c-1"})
        assert r.status_code == 400 and r.json()["field"] == "challengeCode"
        # YouTube (WebSub): echo hub.challenge for our own topic and verify token only.
        query = {
            "hub.mode": "subscribe",
            "hub.topic": YT_TOPIC,
            "hub.challenge": "yt-1",
            "hub.verify_token": VERIFY,
            "hub.lease_seconds": "432000",
        }
        r = await get("/hooks/youtube", params=query)
        assert r.status_code == 200 and r.text == "yt-1"
        r = await get("/hooks/youtube", params={**query, "hub.verify_token": "nope"})
        assert r.status_code == 403
        r = await get("/hooks/youtube", params={**query, "hub.mode": "publish"})
        assert r.status_code == 400
        # TikTok has no handshake; a network we do not know has no receiver at all.
        assert (await get("/hooks/tiktok")).status_code in (404, 405)
        assert (await get("/hooks/friendster", params={"hub.challenge": "1"})).status_code == 404
        r = await inbox.client.post("/hooks/friendster", content=b"{}")
        assert r.status_code == 404
        assert await inbox.fetch("SELECT 1 FROM inbox.receipts") == []


async def test_without_the_fast_path_the_routes_store_the_same(start_inbox) -> None:
    async with start_inbox(network_apps=APPS, hooks_fast_path=False) as inbox:
        for network, body in UNKNOWN.items():
            r = await inbox.client.post(
                f"/hooks/{network}", content=body, headers=sign(network, body)
            )
            assert r.status_code == 200 and r.json() == {"ok": True, "duplicate": False}
            r = await inbox.client.post(
                f"/hooks/{network}", content=body, headers=sign(network, body)
            )
            assert r.json() == {"ok": True, "duplicate": True}
            r = await inbox.client.post(
                f"/hooks/{network}", content=body, headers=sign(network, body, secret="wrong")
            )
            assert r.status_code == 401
        rows = await inbox.fetch("SELECT network, status FROM inbox.receipts ORDER BY network")
        assert [(r["network"], r["status"]) for r in rows] == sorted(
            (n, "unknown") for n in UNKNOWN
        )
