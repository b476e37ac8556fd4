"""`inbox.fetch` → the channel's notifications since the stored cursor → `inbox.fetched`."""

import uuid

import httpx

from services.publisher.app import create_app
from shared.events import Envelope, InboxFetch
from tests.publisher.support import Tap, post_due, send, wait_consuming
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan


async def poll_twice(publisher_settings, sandbox_url, network):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["post.published", "inbox.fetched"]) as tap,
        lifespan(app),
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("inbox"))
        channel = await connect(app, sandbox_url, workspace, network=network)
        due = post_due(channel=channel, text=f"Talk to us on {network}")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        post_id = (await tap.wait("post.published"))[0].data["external_id"]
        async with httpx.AsyncClient(base_url=sandbox_url) as client:
            for i in range(3):
                r = await client.post(f"/_sandbox/{network}/posts/{post_id}/comments",
                                      json={"text": f"comment {i}", "author": f"Fan {i}"})
                assert r.status_code == 201
        fetch = InboxFetch(channel_id=uuid.UUID(channel["id"]), network=network)
        await send(settings.exchange_name, Envelope.of(fetch, workspace_id=workspace))
        first = (await tap.wait("inbox.fetched"))[0].data
        # Mastodon puts the mention of the account in front of a reply's text.
        texts = [i["text"].split(" ", 1)[-1] if network == "mastodon" else i["text"]
                 for i in first["items"]]
        assert texts == ["comment 0", "comment 1", "comment 2"]
        assert {i["kind"] for i in first["items"]} == {"comment"}
        assert all(i["post_external_id"] == post_id for i in first["items"])
        async with httpx.AsyncClient(base_url=sandbox_url) as client:
            await client.post(f"/_sandbox/{network}/posts/{post_id}/comments",
                              json={"text": "a late one", "author": "Fan 9"})
        await send(settings.exchange_name, Envelope.of(fetch, workspace_id=workspace))
        second = (await tap.wait("inbox.fetched", count=2))[1].data
        # Only what arrived since the stored cursor.
        assert [i["text"].endswith("a late one") for i in second["items"]] == [True]
        assert second["items"][0]["author_name"]
        await send(settings.exchange_name, Envelope.of(fetch, workspace_id=workspace))
        third = (await tap.wait("inbox.fetched", count=3))[2].data
        assert third["items"] == []


async def test_mastodon_notifications_are_polled_from_the_stored_cursor(
    publisher_settings, sandbox_url
):
    await poll_twice(publisher_settings, sandbox_url, "mastodon")


async def test_bluesky_notifications_are_polled_from_the_stored_cursor(
    publisher_settings, sandbox_url
):
    await poll_twice(publisher_settings, sandbox_url, "bluesky")
