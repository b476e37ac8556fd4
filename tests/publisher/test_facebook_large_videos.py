"""Facebook videos above the publisher's size setting go up by resumable upload (`start` with
the size, `transfer` per chunk at the offsets Facebook names, `finish`); smaller ones are
still fetched by Facebook from their URL."""

import uuid

from sandbox.media import sample_mp4
from services.publisher.app import create_app
from shared.events import Envelope, MediaItem
from tests.publisher.support import (
    Tap,
    post_due,
    running_sandbox,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan

CHUNK = 32


async def publish_video(settings, sandbox_url: str, text: str):
    app = create_app(settings)
    workspace = uuid.uuid4()
    url = f"{sandbox_url}/_sandbox/media/sample.mp4"
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="facebook")
        due = post_due(channel=channel, text=text, media=[MediaItem(url=url, kind="video")])
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [published] = await tap.wait("post.published", seconds=30)
        listing = await sandbox_posts(sandbox_url, "facebook", channel["external_id"])
    return published, listing


async def test_a_video_above_the_setting_is_uploaded_in_chunks(publisher_settings):
    size = len(sample_mp4())
    async with running_sandbox(facebook_chunk_bytes=CHUNK) as url:
        settings = publisher_settings(sandbox_url=url, facebook_resumable_above_bytes=size - 1)
        published, listing = await publish_video(settings, url, "The whole keynote")
    [post] = listing["items"]
    assert published.data["external_id"] == post["id"]
    assert post["text"] == "The whole keynote"
    [video] = post["media"]
    # Every byte arrived, in as many chunks as the sandbox asked for: nothing went by URL.
    assert video["kind"] == "video" and video["url"] == ""
    assert video["size"] == size
    assert video["chunks"] == -(-size // CHUNK) > 1


async def test_a_video_at_the_setting_is_still_fetched_by_url(publisher_settings):
    size = len(sample_mp4())
    async with running_sandbox(facebook_chunk_bytes=CHUNK) as url:
        settings = publisher_settings(sandbox_url=url, facebook_resumable_above_bytes=size)
        published, listing = await publish_video(settings, url, "A short clip")
    [post] = listing["items"]
    assert published.data["external_id"] == post["id"]
    assert [m["url"] for m in post["media"]] == [f"{url}/_sandbox/media/sample.mp4"]
