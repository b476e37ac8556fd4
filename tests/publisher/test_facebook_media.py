"""Facebook Page posts with several photos: each uploaded unpublished, then attached to one
feed post (`attached_media`), as a Page shows them together."""

from __future__ import annotations

import uuid

from services.publisher.app import create_app
from shared.events import Envelope, MediaItem
from tests.publisher.support import Tap, post_due, sandbox_posts, send, wait_consuming
from tests.publisher.test_oauth import authorize_and_call_back
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan


def photo(sandbox_url: str, name: str) -> MediaItem:
    return MediaItem(url=f"{sandbox_url}/_sandbox/media/{name}", kind="image")


async def test_several_photos_are_one_post_with_every_photo(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="facebook")
        names = ["sample.jpg", "sample.png", "sample.jpg"]
        due = post_due(channel=channel, text="Three views of the launch",
                       media=[photo(sandbox_url, n) for n in names])
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [published] = await tap.wait("post.published", seconds=30)
        listing = await sandbox_posts(sandbox_url, "facebook", channel["external_id"])
    # One post on the Page: the unpublished photos are not posts of their own.
    [post] = listing["items"]
    assert published.data["external_id"] == post["id"]
    assert post["text"] == "Three views of the launch"
    assert [m["url"] for m in post["media"]] == [
        f"{sandbox_url}/_sandbox/media/{n}" for n in names
    ]
    assert len({m["id"] for m in post["media"]}) == 3


async def test_a_video_is_posted_from_its_url_and_known_by_its_page_post(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    url = f"{sandbox_url}/_sandbox/media/sample.mp4"
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="facebook")
        due = post_due(channel=channel, text="The launch, filmed",
                       media=[MediaItem(url=url, kind="video")])
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [published] = await tap.wait("post.published", seconds=30)
        listing = await sandbox_posts(sandbox_url, "facebook", channel["external_id"])
    [post] = listing["items"]
    # The Page post, not the video node: edits and deletes act on the post.
    assert published.data["external_id"] == post["id"]
    assert published.data["media_kind"] == "video"
    assert post["text"] == "The launch, filmed"
    assert [(m["kind"], m["url"]) for m in post["media"]] == [("video", url)]


async def test_a_video_with_photos_is_refused_with_the_reason(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="facebook")
        video = MediaItem(url=f"{sandbox_url}/_sandbox/media/sample.mp4", kind="video")
        due = post_due(channel=channel, text="A video and a photo",
                       media=[video, photo(sandbox_url, "sample.jpg")])
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [failed] = await tap.wait("post.publish_failed", seconds=30)
        listing = await sandbox_posts(sandbox_url, "facebook", channel["external_id"])
    assert failed.data["error_class"] == "media_error"
    assert failed.data["error"] == "a Facebook video post carries the video alone"
    assert listing["items"] == []


async def test_facebook_login_connects_the_page_with_its_own_token(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        _, r, _ = await authorize_and_call_back(app, sandbox_url, "facebook", workspace)
        assert r.status_code == 201, r.text
        channel = r.json()
        # The sandbox refuses a person's token on a Page's feed: this goes out only with the
        # Page token taken from /me/accounts.
        due = post_due(channel=channel, text="Posted as the Page")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [published] = await tap.wait("post.published", seconds=30)
        listing = await sandbox_posts(sandbox_url, "facebook", channel["external_id"])
    [post] = listing["items"]
    assert published.data["external_id"] == post["id"]
    assert post["id"].startswith(f"{channel['external_id']}_")
