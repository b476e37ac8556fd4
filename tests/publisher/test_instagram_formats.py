"""Instagram Stories and Reels through the real flow (post.due → container → publish →
post.published) against the sandbox, which keeps what each container asked for: the product
(STORY, REELS), whether a reel is shared to the feed, and its cover."""

import uuid
from typing import Any

import httpx

from services.publisher.app import create_app
from shared.events import Envelope, MediaItem
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


def sample(sandbox_url: str, name: str, kind: str) -> MediaItem:
    return MediaItem(url=f"{sandbox_url}/_sandbox/media/{name}", kind=kind)


async def publish_with_options(
    settings, sandbox_url: str, *, text: str, media: list[MediaItem], options: dict[str, Any]
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        due = post_due(channel=channel, text=text, media=media, options=options)
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [published] = await tap.wait("post.published", seconds=40)
        listing = await sandbox_posts(sandbox_url, "instagram", channel["external_id"])
    return channel, published, listing


async def graph_media(sandbox_url: str, channel: dict[str, Any], media_id: str) -> Any:
    token = channel["account"]["credentials"]["access_token"]
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        r = await client.get(
            f"/instagram/v21.0/{media_id}",
            params={"fields": "media_type,media_product_type,caption"},
            headers={"Authorization": f"Bearer {token}"},
        )
    return r.json()


async def test_an_image_story_is_a_stories_container_without_caption(
    publisher_settings, sandbox_url
):
    channel, published, listing = await publish_with_options(
        publisher_settings(),
        sandbox_url,
        text="",
        media=[sample(sandbox_url, "sample.jpg", "image")],
        options={"format": "story"},
    )
    [post] = listing["items"]
    assert published.data["external_id"] == post["id"]
    assert post["format"] == {"product": "STORY"}
    assert [m["kind"] for m in post["media"]] == ["image"]
    media = await graph_media(sandbox_url, channel, post["id"])
    assert media["media_product_type"] == "STORY" and media["media_type"] == "IMAGE"


async def test_a_video_story_waits_for_its_container(publisher_settings, sandbox_url):
    channel, published, listing = await publish_with_options(
        publisher_settings(),
        sandbox_url,
        text="",
        media=[sample(sandbox_url, "sample.mp4", "video")],
        options={"format": "story"},
    )
    [post] = listing["items"]
    assert published.data["external_id"] == post["id"]
    assert post["format"] == {"product": "STORY"}
    media = await graph_media(sandbox_url, channel, post["id"])
    assert media["media_product_type"] == "STORY" and media["media_type"] == "VIDEO"


async def test_a_reel_kept_off_the_feed_with_a_cover_image(publisher_settings, sandbox_url):
    cover = f"{sandbox_url}/_sandbox/media/sample.jpg"
    channel, published, listing = await publish_with_options(
        publisher_settings(),
        sandbox_url,
        text="Behind the scenes",
        media=[sample(sandbox_url, "sample.mp4", "video")],
        options={"format": "reel", "share_to_feed": False, "cover_url": cover},
    )
    [post] = listing["items"]
    assert published.data["external_id"] == post["id"]
    assert post["text"] == "Behind the scenes"
    assert post["format"] == {"product": "REELS", "share_to_feed": False, "cover_url": cover}
    media = await graph_media(sandbox_url, channel, post["id"])
    assert media["media_product_type"] == "REELS" and media["media_type"] == "VIDEO"


async def test_a_reel_with_its_cover_frame_shared_to_the_feed(publisher_settings, sandbox_url):
    _, published, listing = await publish_with_options(
        publisher_settings(),
        sandbox_url,
        text="The cover is 1.5 s in",
        media=[sample(sandbox_url, "sample.mp4", "video")],
        options={"format": "reel", "share_to_feed": True, "thumb_offset": 1500},
    )
    [post] = listing["items"]
    assert published.data["external_id"] == post["id"]
    assert post["format"] == {"product": "REELS", "share_to_feed": True, "thumb_offset": 1500}


async def test_the_sandbox_refuses_a_reel_without_a_video_as_instagram_does(
    publisher_settings, sandbox_url
):
    app = create_app(publisher_settings())
    async with lifespan(app):
        channel = await connect(app, sandbox_url, uuid.uuid4(), network="instagram")
    token = channel["account"]["credentials"]["access_token"]
    owner = channel["external_id"]
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        r = await client.post(
            f"/instagram/v21.0/{owner}/media",
            data={"media_type": "REELS", "image_url": f"{sandbox_url}/_sandbox/media/sample.jpg"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 400
    assert "video_url" in r.json()["error"]["message"]


async def test_a_reel_whose_cover_cannot_be_fetched_fails_as_a_media_error(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        due = post_due(
            channel=channel,
            text="A reel with a lost cover",
            media=[sample(sandbox_url, "sample.mp4", "video")],
            options={"format": "reel", "cover_url": f"{sandbox_url}/_sandbox/media/gone.jpg"},
        )
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [failed] = await tap.wait("post.publish_failed", seconds=30)
        listing = await sandbox_posts(sandbox_url, "instagram", channel["external_id"])
    assert failed.data["error_class"] == "media_error"
    assert "cover" in failed.data["error"]
    assert listing["items"] == []


async def test_a_story_whose_publish_answer_is_lost_is_found_among_stories_not_resent(
    publisher_settings, sandbox_url
):
    # media_publish stores the story, then answers 500: the retry looks in the account's
    # stories (the media listing does not hold them) and adopts it.
    fault = {
        "network": "instagram",
        "endpoint": "POST */media_publish",
        "error_rate": 1.0,
        "status": 500,
        "phase": "after",
        "count": 1,
    }
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        await put_faults(sandbox_url, fault)
        due = post_due(
            channel=channel,
            text="",
            media=[sample(sandbox_url, "sample.jpg", "image")],
            options={"format": "story"},
        )
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [published] = await tap.wait("post.published", seconds=40)
        listing = await sandbox_posts(sandbox_url, "instagram", channel["external_id"])
    assert [p["id"] for p in listing["items"]] == [published.data["external_id"]]
    assert listing["duplicates"] == 0
    assert tap.of("post.publish_failed") == []
