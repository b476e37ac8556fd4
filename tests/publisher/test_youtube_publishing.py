"""YouTube through the real flow against the sandbox: resumable uploads with title and
privacy, refusals classified, interrupted uploads resumed from the session, unknown outcomes
found in the uploads playlist, token refresh, first comments, replies, comment polling and
statistics."""

from __future__ import annotations

import uuid

import httpx

from services.publisher.models import PublishJob
from shared.events import CollectItem, Envelope, InboxFetch, MediaItem, MetricsCollect
from tests.publisher import network_flows
from tests.publisher.network_flows import (
    due,
    fired,
    job_where,
    running,
    video,
)
from tests.publisher.support import (
    put_faults,
    sandbox_posts,
    send,
)
from tests.publisher.test_replies import fan_comment, reply_request
from tests.support.waits import until

# The fixture: this test's publisher settings with the sandbox's apps for the networks.
settings = network_flows.settings


async def test_youtube_resumable_upload_with_title_and_privacy(settings, sandbox_url):
    async with running(settings, sandbox_url, "youtube") as (_, tap, channel, workspace):
        await due(
            settings,
            workspace,
            channel,
            "What we built this week",
            media=[video(sandbox_url)],
            options={"title": "Weekly update", "privacy_status": "unlisted"},
        )
        published = (await tap.wait("post.published", seconds=30))[0].data
        listing = await sandbox_posts(sandbox_url, "youtube", channel["external_id"])
    [post] = listing["items"]
    assert published["external_id"] == post["id"]
    assert published["url"] == f"https://www.youtube.com/watch?v={post['id']}"
    assert post["title"] == "Weekly update"
    assert post["text"] == "What we built this week"
    assert post["visibility"] == "unlisted"


async def test_youtube_refusals_are_classified(settings, sandbox_url):
    async with running(settings, sandbox_url, "youtube") as (_, tap, channel, workspace):
        bad_title = await due(
            settings,
            workspace,
            channel,
            "d",
            media=[video(sandbox_url)],
            options={"title": "a <b> title"},
        )
        not_video = await due(
            settings,
            workspace,
            channel,
            "e",
            media=[MediaItem(url=f"{sandbox_url}/_sandbox/media/sample.png", kind="video")],
            options={"title": "A picture"},
        )
        failed = {
            e.data["target_id"]: e.data for e in await tap.wait("post.publish_failed", count=2)
        }
    assert failed[str(bad_title.target_id)]["error_class"] == "content_rejected"
    assert "invalidTitle" in failed[str(bad_title.target_id)]["error"]
    assert failed[str(not_video.target_id)]["error_class"] == "media_error"
    assert "invalidVideo" in failed[str(not_video.target_id)]["error"]


async def test_youtube_interrupted_upload_is_resumed_from_the_session(settings, sandbox_url):
    async with running(settings, sandbox_url, "youtube") as (app, tap, channel, workspace):
        # The last byte lands, then the answer is lost: the session says the video exists.
        await put_faults(
            sandbox_url,
            {
                "network": "youtube",
                "endpoint": "PUT /upload/youtube/v3/videos",
                "error_rate": 1.0,
                "status": 503,
                "phase": "after",
                "count": 1,
            },
        )
        await due(
            settings,
            workspace,
            channel,
            "Once",
            media=[video(sandbox_url)],
            options={"title": "Resumed"},
        )
        published = (await tap.wait("post.published", seconds=30))[0].data
        listing = await sandbox_posts(sandbox_url, "youtube", channel["external_id"])
        assert await fired(sandbox_url) == [1]
        # Settled inside the first attempt by asking the session: no retry, no lookup.
        job = await job_where(app, PublishJob.status == "published")
        assert job is not None and job.attempts == 1
    assert [p["id"] for p in listing["items"]] == [published["external_id"]]
    assert listing["duplicates"] == 0


async def test_youtube_unknown_outcome_is_found_in_the_uploads_playlist(settings, sandbox_url):
    async with running(settings, sandbox_url, "youtube") as (app, tap, channel, workspace):
        # The upload completes and its answer is lost, and so is the answer to asking the
        # session: only the uploads playlist can tell on the next attempt.
        await put_faults(
            sandbox_url,
            {
                "network": "youtube",
                "endpoint": "PUT /upload/youtube/v3/videos",
                "error_rate": 1.0,
                "status": 503,
                "phase": "after",
                "count": 2,
            },
        )
        await due(
            settings,
            workspace,
            channel,
            "Looked up",
            media=[video(sandbox_url)],
            options={"title": "Found again"},
        )
        published = (await tap.wait("post.published", seconds=30))[0].data
        listing = await sandbox_posts(sandbox_url, "youtube", channel["external_id"])
        assert await fired(sandbox_url) == [2]
        assert tap.of("post.publish_failed") == []
        job = await job_where(app, PublishJob.status == "published")
        assert job is not None and job.attempts == 2
    assert [p["id"] for p in listing["items"]] == [published["external_id"]]
    assert listing["duplicates"] == 0


async def test_youtube_token_refresh_first_comment_reply_polling_and_statistics(
    settings, sandbox_url
):
    async with running(
        settings,
        sandbox_url,
        "youtube",
        queues=("posts", "replies", "metrics", "inbox"),
        events=("post.*", "reply.*", "metrics.*", "inbox.*", "channel.*"),
    ) as (_, tap, channel, workspace):
        await put_faults(sandbox_url, {"network": "youtube", "expire_tokens": True})
        post = await due(
            settings,
            workspace,
            channel,
            "Talk to us",
            media=[video(sandbox_url)],
            options={"title": "Questions welcome", "first_comment": "Ask away"},
        )
        video_id = (await tap.wait("post.published", seconds=30))[0].data["external_id"]
        assert tap.of("channel.needs_reauth") == []
        async def commented() -> dict | None:
            listing = await sandbox_posts(sandbox_url, "youtube", channel["external_id"])
            return listing if any(p["text"] == "Ask away" for p in listing["items"]) else None

        listing = await until(commented, timeout=10, what="the first comment")
        [first] = [p for p in listing["items"] if p["text"] == "Ask away"]
        assert first["reply_to"] == video_id

        for i in range(3):
            await fan_comment(sandbox_url, "youtube", video_id, f"comment {i}")
        fetch = InboxFetch(channel_id=uuid.UUID(channel["id"]), network="youtube")
        await send(settings.exchange_name, Envelope.of(fetch, workspace_id=workspace))
        polled = (await tap.wait("inbox.fetched"))[0].data["items"]
        # The channel's own first comment is not something to answer.
        assert [i["text"] for i in polled] == ["comment 0", "comment 1", "comment 2"]
        assert all(i["post_external_id"] == video_id for i in polled)

        request = reply_request(
            channel, text="Thanks!", in_reply_to=polled[1]["external_id"], root_id=video_id
        )
        await send(settings.exchange_name, Envelope.of(request, workspace_id=workspace))
        sent = (await tap.wait("reply.sent", seconds=30))[0].data
        await fan_comment(sandbox_url, "youtube", video_id, "a late one")
        await send(settings.exchange_name, Envelope.of(fetch, workspace_id=workspace))
        again = (await tap.wait("inbox.fetched", count=2))[1].data["items"]
        # Only what arrived since the stored cursor, and never our own reply.
        assert [i["text"] for i in again] == ["a late one"]
        listing = await sandbox_posts(sandbox_url, "youtube", channel["external_id"])
        [reply] = [p for p in listing["items"] if p["text"] == "Thanks!"]
        assert reply["reply_to"] == polled[1]["external_id"]
        assert sent["external_id"] == reply["id"]

        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            await sandbox.post("/_sandbox/engagement/tick", json={"hours": 6})
        [shown] = [
            p
            for p in (await sandbox_posts(sandbox_url, "youtube", channel["external_id"]))["items"]
            if p["id"] == video_id
        ]
        collect = MetricsCollect(
            channel_id=uuid.UUID(channel["id"]),
            network="youtube",
            posts=[CollectItem(post_id=post.post_id, external_id=video_id)],
        )
        await send(settings.exchange_name, Envelope.of(collect, workspace_id=workspace))
        samples = (await tap.wait("metrics.fetched"))[0].data["samples"]
    values = {s["metric"]: s["value"] for s in samples}
    assert values["views"] == shown["metrics"]["views"] > 0
    assert values["comments"] == shown["metrics"]["replies"]
    assert {s["network_metric"] for s in samples} >= {"viewCount", "commentCount"}
