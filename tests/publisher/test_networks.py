"""Every adapter publishing through the real flow (post.due → network → post.published),
media included, against the sandbox."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from services.publisher.app import create_app
from services.publisher.models import PublishJob
from shared.events import Envelope, MediaItem
from tests.publisher.network_flows import job_where
from tests.publisher.support import (
    Tap,
    post_due,
    put_faults,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan


def sample(sandbox_url: str, name: str, kind: str = "image", alt: str | None = None
           ) -> MediaItem:
    return MediaItem(url=f"{sandbox_url}/_sandbox/media/{name}", kind=kind, alt=alt)


async def publish_one(settings, sandbox_url, network, *, text, media=(), faults=(),
                      count=1):
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network=network)
        if faults:
            await put_faults(sandbox_url, *faults)
        dues = [post_due(channel=channel, text=f"{text} {i}" if count > 1 else text,
                         media=list(media)) for i in range(count)]
        await send(settings.exchange_name,
                   *(Envelope.of(d, workspace_id=workspace) for d in dues))
        published = await tap.wait("post.published", count=count, seconds=40)
        listing = await sandbox_posts(sandbox_url, network, channel["external_id"])
        return channel, published, listing, tap


async def test_bluesky_publishes_with_images_under_a_record_key_of_its_own(
    publisher_settings, sandbox_url
):
    media = [sample(sandbox_url, "sample.png", alt="A blue square"),
             sample(sandbox_url, "sample.jpg", alt="A grey square")]
    channel, published, listing, _ = await publish_one(
        publisher_settings(), sandbox_url, "bluesky", text="Sky high", media=media
    )
    data = published[0].data
    assert data["external_id"].startswith(f"at://{channel['external_id']}/app.bsky.feed.post/")
    assert data["url"].startswith("https://bsky.app/profile/")
    [post] = listing["items"]
    assert post["id"] == data["external_id"]
    assert [m["alt"] for m in post["media"]] == ["A blue square", "A grey square"]


async def test_bluesky_resends_after_an_unknown_outcome_and_the_record_key_stops_a_second_post(
    publisher_settings, sandbox_url
):
    fault = {"network": "bluesky", "endpoint": "POST *createRecord", "error_rate": 1.0,
             "status": 502, "phase": "after", "count": 1}
    _, published, listing, tap = await publish_one(
        publisher_settings(), sandbox_url, "bluesky", text="Exactly once", faults=[fault]
    )
    assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
    assert listing["duplicates"] == 0
    assert tap.of("post.publish_failed") == []


async def test_bluesky_session_is_refreshed_when_the_access_token_expires(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="bluesky")
        await put_faults(sandbox_url, {"network": "bluesky", "expire_tokens": True})
        async with httpx.AsyncClient(base_url=sandbox_url) as client:
            await client.delete("/_sandbox/faults")
        due = post_due(channel=channel, text="After the session expired")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        published = await tap.wait("post.published", seconds=30)
        assert published[0].data["external_id"].startswith("at://")


async def test_facebook_publishes_text_and_a_photo(publisher_settings, sandbox_url):
    settings = publisher_settings()
    _, published, listing, _ = await publish_one(
        settings, sandbox_url, "facebook", text="Page news"
    )
    assert published[0].data["external_id"].startswith(listing["items"][0]["id"].split("_")[0])
    _, published, listing, _ = await publish_one(
        settings, sandbox_url, "facebook", text="With a picture",
        media=[sample(sandbox_url, "sample.jpg")],
    )
    [post] = listing["items"]
    assert post["id"] == published[0].data["external_id"]
    assert post["media"]


async def test_facebook_unknown_outcome_is_found_on_the_page_not_resent(
    publisher_settings, sandbox_url
):
    fault = {"network": "facebook", "endpoint": "POST */feed", "error_rate": 1.0,
             "status": 500, "phase": "after", "count": 1}
    _, published, listing, _ = await publish_one(
        publisher_settings(), sandbox_url, "facebook", text="Graph once", faults=[fault]
    )
    assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
    assert listing["duplicates"] == 0


async def test_facebook_throttling_code_4_waits_as_long_as_the_usage_header_says(
    publisher_settings, sandbox_url
):
    # Meta answers throttling as HTTP 400 with error code 4; its usage header estimates the
    # minutes until access returns, and the retry waits that long instead of failing.
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="facebook")
        await put_faults(sandbox_url, {"network": "facebook", "endpoint": "POST */feed",
                                       "rate_limit": {"limit": 1, "window_seconds": 120,
                                                      "status": 400}})
        dues = [post_due(channel=channel, text=f"Throttled {i}") for i in range(2)]
        await send(settings.exchange_name,
                   *(Envelope.of(d, workspace_id=workspace) for d in dues))
        await tap.wait("post.published")
        job = await job_where(app, PublishJob.error_class == "rate_limited")
        assert job is not None and job.status == "pending"
        assert job.next_attempt_at - datetime.now(UTC) > timedelta(seconds=90)
        assert tap.of("post.publish_failed") == []


async def test_x_uploads_images_and_video_in_chunks(publisher_settings, sandbox_url):
    settings = publisher_settings()
    _, published, listing, _ = await publish_one(
        settings, sandbox_url, "x", text="Two pictures",
        media=[sample(sandbox_url, "sample.jpg", alt="grey"), sample(sandbox_url, "sample.png")],
    )
    [post] = listing["items"]
    assert [m["kind"] for m in post["media"]] == ["image", "image"]
    _, published, listing, _ = await publish_one(
        settings, sandbox_url, "x", text="A film", media=[sample(sandbox_url, "sample.mp4",
                                                                  kind="video")],
    )
    [post] = listing["items"]
    assert [m["kind"] for m in post["media"]] == ["video"]


async def test_mastodon_attaches_media(publisher_settings, sandbox_url):
    _, published, listing, _ = await publish_one(
        publisher_settings(), sandbox_url, "mastodon", text="Toot with a picture",
        media=[sample(sandbox_url, "sample.png", alt="blue")],
    )
    [post] = listing["items"]
    assert post["media"][0]["alt"] == "blue"


async def test_media_the_network_cannot_take_fails_at_once(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="bluesky")
        due = post_due(channel=channel, text="Missing picture",
                       media=[sample(sandbox_url, "nothing.jpg")])
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        failed = await tap.wait("post.publish_failed")
        assert failed[0].data["error_class"] == "media_error"
