"""Facebook Reels through the real flow: `video_reels` start → upload (the video's URL in the
`file_url` header) → finish with `video_state=PUBLISHED`; the sandbox holds the reel."""

import uuid

import httpx

from services.publisher.app import create_app
from shared.events import Envelope, MediaItem
from tests.publisher.support import Tap, post_due, sandbox_posts, send, wait_consuming
from tests.publisher.test_changes import answer, edit_of
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan


async def test_a_reel_is_started_uploaded_and_finished(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    url = f"{sandbox_url}/_sandbox/media/sample.mp4"
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="facebook")
        due = post_due(channel=channel, text="Thirty seconds of launch",
                       media=[MediaItem(url=url, kind="video")], options={"format": "reel"})
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [published] = await tap.wait("post.published", seconds=30)
        listing = await sandbox_posts(sandbox_url, "facebook", channel["external_id"])
    [post] = listing["items"]
    assert published.data["external_id"] == post["id"]
    assert published.data["url"] == f"https://www.facebook.com/reel/{post['id']}"
    assert post["text"] == "Thirty seconds of launch"
    assert post["format"] == {"product": "REELS"}
    assert [(m["kind"], m["url"]) for m in post["media"]] == [("video", url)]


async def test_finishing_a_reel_that_was_never_uploaded_is_refused(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    async with lifespan(app):
        channel = await connect(app, sandbox_url, uuid.uuid4(), network="facebook")
    page = channel["external_id"]
    headers = {"Authorization": f"Bearer {channel['account']['credentials']['access_token']}"}
    async with httpx.AsyncClient(base_url=sandbox_url, headers=headers) as client:
        started = (await client.post(f"/facebook/v21.0/{page}/video_reels",
                                     data={"upload_phase": "start"})).json()
        r = await client.post(
            f"/facebook/v21.0/{page}/video_reels",
            data={"upload_phase": "finish", "video_id": started["video_id"],
                  "video_state": "PUBLISHED", "description": "nothing uploaded"},
        )
        listing = await sandbox_posts(sandbox_url, "facebook", page)
    assert r.status_code == 400
    assert "not been uploaded" in r.json()["error"]["message"]
    assert listing["items"] == []


async def test_a_reels_words_are_edited_as_its_description(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    url = f"{sandbox_url}/_sandbox/media/sample.mp4"
    async with Tap(settings.exchange_name, ["post.*", "target.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("changes"))
        channel = await connect(app, sandbox_url, workspace, network="facebook")
        due = post_due(channel=channel, text="Thirty seconds of launch",
                       media=[MediaItem(url=url, kind="video")], options={"format": "reel"})
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [published] = await tap.wait("post.published", seconds=30)
        request = edit_of(published.data, channel, text="Thirty seconds of the launch")
        await send(settings.exchange_name, Envelope.of(request, workspace_id=workspace))
        changed = await answer(tap, request.request_id)
        [post] = (await sandbox_posts(sandbox_url, "facebook", channel["external_id"]))["items"]
    assert changed["ok"] is True, changed
    assert post["text"] == "Thirty seconds of the launch"
    assert post["edited_at"] is not None
