"""YouTube's WebSub receiver over real HTTP: the hub's verification and a signed upload notice."""

from __future__ import annotations

import hmac
from typing import Any

from tests.inbox.network_webhooks import (
    APPS,
    YT_SECRET,
    items,
    receipts,
)

YT_CHANNEL = "UCbrandchannel0000000001"


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
