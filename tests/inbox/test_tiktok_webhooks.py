"""TikTok's webhook receiver over real HTTP: the signature's time tolerance, and retried
deliveries stored once (its webhooks carry no comments)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from tests.inbox.network_webhooks import (
    APPS,
    TT_SECRET,
    hexmac,
    items,
    receipts,
)

TT_USER = "tt-open-id-brand"


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


async def _stored(inbox: Any, n: int) -> Any:
    stored = await receipts(inbox, "tiktok")
    return stored if len(stored) >= n else None


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
