"""LinkedIn, TikTok and YouTube through the real flow (post.due → the network's multi-step API
→ post.published) against the sandbox: each flow end to end, the error classes, Retry-After,
unknown outcomes settled by a lookup (none of the three has an idempotency key), token
refresh, first comments, replies, insights and comment polling."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.publisher.adapters.linkedin import little_text
from services.publisher.adapters.tiktok import CHUNK, WHOLE_MAX, chunk_plan
from services.publisher.app import create_app
from services.publisher.models import PublishJob
from shared.events import CollectItem, Envelope, InboxFetch, MediaItem, MetricsCollect
from tests.conftest import identity
from tests.publisher.support import (
    Tap,
    network_apps,
    new_account,
    post_due,
    put_faults,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.publisher.test_publishing import connect
from tests.publisher.test_replies import fan_comment, reply_request
from tests.support.servers import lifespan

TIKTOK_PUBLIC = {"privacy_level": "PUBLIC_TO_EVERYONE"}


@pytest.fixture
async def settings(publisher_settings, sandbox_url):
    apps = await network_apps(sandbox_url, "linkedin", "tiktok", "youtube")
    return publisher_settings(network_apps=apps)


def video(sandbox_url: str) -> MediaItem:
    return MediaItem(url=f"{sandbox_url}/_sandbox/media/sample.mp4", kind="video")


def image(sandbox_url: str, name: str = "sample.jpg", alt: str | None = None) -> MediaItem:
    return MediaItem(url=f"{sandbox_url}/_sandbox/media/{name}", kind="image", alt=alt)


@contextlib.asynccontextmanager
async def running(
    settings, sandbox_url: str, network: str, *, queues=("posts",), events=("post.*",)
) -> AsyncIterator[tuple[Any, Tap, dict[str, Any], uuid.UUID]]:
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, list(events)) as tap, lifespan(app):
        for queue in queues:
            await wait_consuming(app, settings.queue_name(queue))
        channel = await connect(app, sandbox_url, workspace, network=network)
        yield app, tap, channel, workspace


async def due(settings, workspace: uuid.UUID, channel: dict[str, Any], text: str, **extra: Any):
    item = post_due(channel=channel, text=text, **extra)
    await send(settings.exchange_name, Envelope.of(item, workspace_id=workspace))
    return item


async def fired(sandbox_url: str) -> list[int]:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        rules = (await client.get("/_sandbox/faults")).json()["rules"]
        return [rule["fired"] for rule in rules]


async def job_where(app, *conditions) -> PublishJob | None:
    for _ in range(200):
        async with app.state.runtime.sessions() as session:
            job = (
                (await session.execute(sa.select(PublishJob).where(*conditions))).scalars().first()
            )
        if job is not None:
            return job
        await asyncio.sleep(0.1)
    return None


# --- LinkedIn -------------------------------------------------------------------------------


def test_linkedin_commentary_escapes_little_text_and_keeps_hashtags():
    assert little_text("Hi (all) @team #launch_day *now*") == (
        "Hi \\(all\\) \\@team {hashtag|\\#|launch\\_day} \\*now\\*"
    )


async def test_linkedin_publishes_text_one_image_and_several(settings, sandbox_url):
    async with running(settings, sandbox_url, "linkedin") as (_, tap, channel, workspace):
        await due(settings, workspace, channel, "Hello (world) #launch")
        await due(
            settings, workspace, channel, "One picture", media=[image(sandbox_url, alt="grey")]
        )
        await due(
            settings,
            workspace,
            channel,
            "Two pictures",
            media=[image(sandbox_url), image(sandbox_url, "sample.png")],
        )
        published = await tap.wait("post.published", count=3, seconds=40)
        listing = await sandbox_posts(sandbox_url, "linkedin", channel["external_id"])
    by_id = {p["id"]: p for p in listing["items"]}
    assert sorted(by_id) == sorted(e.data["external_id"] for e in published)
    for event in published:
        urn = event.data["external_id"]
        assert urn.startswith("urn:li:share:")
        assert event.data["url"] == f"https://www.linkedin.com/feed/update/{urn}/"
    texts = {p["text"]: p for p in listing["items"]}
    assert set(texts) == {"Hello \\(world\\) {hashtag|\\#|launch}", "One picture", "Two pictures"}
    assert [m["alt"] for m in texts["One picture"]["media"]] == ["grey"]
    assert [m["kind"] for m in texts["Two pictures"]["media"]] == ["image", "image"]
    assert listing["duplicates"] == 0


async def test_linkedin_uploads_a_video_in_parts_and_waits_for_processing(settings, sandbox_url):
    async with running(settings, sandbox_url, "linkedin") as (_, tap, channel, workspace):
        film = await due(settings, workspace, channel, "A film", media=[video(sandbox_url)])
        broken = await due(
            settings,
            workspace,
            channel,
            "Not a film",
            media=[MediaItem(url=f"{sandbox_url}/_sandbox/media/sample.jpg", kind="video")],
        )
        published = (await tap.wait("post.published"))[0].data
        failed = (await tap.wait("post.publish_failed"))[0].data
        listing = await sandbox_posts(sandbox_url, "linkedin", channel["external_id"])
    assert published["target_id"] == str(film.target_id)
    [post] = listing["items"]
    assert post["id"] == published["external_id"]
    assert [m["kind"] for m in post["media"]] == ["video"]
    assert failed["target_id"] == str(broken.target_id)
    assert failed["error_class"] == "media_error"


async def test_linkedin_unknown_outcome_is_found_by_author_not_resent(settings, sandbox_url):
    async with running(settings, sandbox_url, "linkedin") as (app, tap, channel, workspace):
        # LinkedIn stores the post, then answers 503: the outcome is unknown to us.
        await put_faults(
            sandbox_url,
            {
                "network": "linkedin",
                "endpoint": "POST /rest/posts",
                "error_rate": 1.0,
                "status": 503,
                "phase": "after",
                "count": 1,
            },
        )
        await due(settings, workspace, channel, "Stored, then a 503")
        published = await tap.wait("post.published", seconds=30)
        listing = await sandbox_posts(sandbox_url, "linkedin", channel["external_id"])
        assert await fired(sandbox_url) == [1]
        assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
        assert listing["duplicates"] == 0
        assert tap.of("post.publish_failed") == []
        # The second attempt adopted what the lookup found.
        job = await job_where(app, PublishJob.status == "published")
        assert job is not None and job.attempts == 2


async def test_linkedin_duplicate_fails_at_once_with_the_network_message(settings, sandbox_url):
    async with running(settings, sandbox_url, "linkedin") as (_, tap, channel, workspace):
        await due(settings, workspace, channel, "Same words")
        await tap.wait("post.published")
        second = await due(settings, workspace, channel, "Same words")
        failed = await tap.wait("post.publish_failed")
    assert failed[0].data["target_id"] == str(second.target_id)
    assert failed[0].data["error_class"] == "duplicate"
    assert "duplicate" in failed[0].data["error"].lower()


async def test_linkedin_429_waits_as_long_as_retry_after_says(settings, sandbox_url):
    async with running(settings, sandbox_url, "linkedin") as (app, tap, channel, workspace):
        await put_faults(
            sandbox_url,
            {
                "network": "linkedin",
                "endpoint": "POST /rest/posts",
                "rate_limit": {"limit": 1, "window_seconds": 120},
            },
        )
        await due(settings, workspace, channel, "First through")
        await due(settings, workspace, channel, "Second waits")
        await tap.wait("post.published")
        job = await job_where(app, PublishJob.error_class == "rate_limited")
        assert job is not None and job.status == "pending"
        # The sandbox says Retry-After ≈ 120 s; without it the wait would run to midnight UTC.
        wait = job.next_attempt_at - datetime.now(UTC)
        assert timedelta(seconds=90) < wait < timedelta(seconds=200)
        assert tap.of("post.publish_failed") == []


async def test_linkedin_expired_token_is_refreshed_and_a_dead_one_parks_the_post(
    settings, sandbox_url
):
    async with running(settings, sandbox_url, "linkedin", events=("post.*", "channel.*")) as (
        app,
        tap,
        channel,
        workspace,
    ):
        await put_faults(sandbox_url, {"network": "linkedin", "expire_tokens": True})
        await due(settings, workspace, channel, "After a refresh")
        published = await tap.wait("post.published")
        listing = await sandbox_posts(sandbox_url, "linkedin", channel["external_id"])
        assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
        assert tap.of("channel.needs_reauth") == []

        # A second organization connected without a refresh token cannot recover.
        account = await new_account(sandbox_url, "linkedin", name="No refresh")
        creds = {k: v for k, v in account["credentials"].items() if k != "refresh_token"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p"
        ) as client:
            r = await client.post(
                "/v1/channels",
                json={"network": "linkedin", "credentials": creds},
                headers=identity(workspace),
            )
            assert r.status_code == 201, r.text
            stranded = r.json()
        await put_faults(sandbox_url, {"network": "linkedin", "expire_tokens": True})
        await due(settings, workspace, stranded, "Waits for a person")
        reauth = await tap.wait("channel.needs_reauth")
        assert reauth[0].data["channel_id"] == stranded["id"]
        assert tap.of("post.publish_failed") == []


async def test_linkedin_first_comment_reply_and_share_statistics(settings, sandbox_url):
    async with running(
        settings,
        sandbox_url,
        "linkedin",
        queues=("posts", "replies", "metrics"),
        events=("post.*", "reply.*", "metrics.*"),
    ) as (_, tap, channel, workspace):
        post = await due(
            settings,
            workspace,
            channel,
            "Comment below",
            options={"first_comment": "Details in here"},
        )
        urn = (await tap.wait("post.published"))[0].data["external_id"]
        for _ in range(100):
            listing = await sandbox_posts(sandbox_url, "linkedin", channel["external_id"])
            if any(p["text"] == "Details in here" for p in listing["items"]):
                break
            await asyncio.sleep(0.1)
        [first] = [p for p in listing["items"] if p["text"] == "Details in here"]
        assert first["reply_to"] == urn

        comment = await fan_comment(sandbox_url, "linkedin", urn, "Where do I sign up?")
        request = reply_request(
            channel, text="Link in the post", in_reply_to=comment["id"], root_id=urn
        )
        await send(settings.exchange_name, Envelope.of(request, workspace_id=workspace))
        sent = (await tap.wait("reply.sent", seconds=30))[0].data
        listing = await sandbox_posts(sandbox_url, "linkedin", channel["external_id"])
        [reply] = [p for p in listing["items"] if p["text"] == "Link in the post"]
        assert reply["reply_to"] == comment["id"] and sent["external_id"] == reply["id"]

        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            await sandbox.post("/_sandbox/engagement/tick", json={"hours": 6})
        [shown] = [
            p
            for p in (await sandbox_posts(sandbox_url, "linkedin", channel["external_id"]))["items"]
            if p["id"] == urn
        ]
        collect = MetricsCollect(
            channel_id=uuid.UUID(channel["id"]),
            network="linkedin",
            posts=[CollectItem(post_id=post.post_id, external_id=urn)],
        )
        await send(settings.exchange_name, Envelope.of(collect, workspace_id=workspace))
        samples = (await tap.wait("metrics.fetched"))[0].data["samples"]
    values = {s["network_metric"]: s["value"] for s in samples}
    assert values["impressionCount"] == shown["metrics"]["views"] > 0
    assert values["commentCount"] == shown["metrics"]["replies"] >= 2
    assert {s["metric"] for s in samples} >= {"views", "comments", "likes", "clicks"}


# --- TikTok ---------------------------------------------------------------------------------


def test_tiktok_chunk_plan_follows_the_media_transfer_rules():
    assert chunk_plan(1000) == [(0, 999)]
    assert chunk_plan(WHOLE_MAX) == [(0, WHOLE_MAX - 1)]
    size = WHOLE_MAX + 12345
    plan = chunk_plan(size)
    assert len(plan) == size // CHUNK == 6
    # The remainder rides on the last chunk, which stays under TikTok's 128 MB ceiling.
    assert plan[0] == (0, CHUNK - 1) and plan[-1] == (5 * CHUNK, size - 1)
    assert plan[-1][1] - plan[-1][0] + 1 < 128 * 1024 * 1024
    assert all(b[0] == a[1] + 1 for a, b in zip(plan, plan[1:], strict=False))


async def test_tiktok_init_upload_and_status_end_to_end(settings, sandbox_url):
    async with running(settings, sandbox_url, "tiktok") as (_, tap, channel, workspace):
        await due(
            settings,
            workspace,
            channel,
            "Dance #fyp",
            media=[video(sandbox_url)],
            options=TIKTOK_PUBLIC,
        )
        published = (await tap.wait("post.published", seconds=30))[0].data
        listing = await sandbox_posts(sandbox_url, "tiktok", channel["external_id"])
    [post] = listing["items"]
    assert published["external_id"] == post["id"]
    assert published["url"] == post["url"]
    assert post["text"] == "Dance #fyp"
    assert post["privacy"] == "PUBLIC_TO_EVERYONE"
    assert [m["kind"] for m in post["media"]] == ["video"]


async def test_tiktok_photo_post_is_pulled_from_its_urls(settings, sandbox_url):
    async with running(settings, sandbox_url, "tiktok") as (_, tap, channel, workspace):
        await due(
            settings,
            workspace,
            channel,
            "Two stills",
            media=[image(sandbox_url), image(sandbox_url, "sample.png")],
            options={**TIKTOK_PUBLIC, "post_type": "photo", "title": "Stills"},
        )
        published = (await tap.wait("post.published", seconds=30))[0].data
        listing = await sandbox_posts(sandbox_url, "tiktok", channel["external_id"])
    [post] = listing["items"]
    assert published["external_id"] == post["id"]
    assert post["text"] == "Two stills"
    assert [m["kind"] for m in post["media"]] == ["image", "image"]
    assert post["media"][1]["url"].endswith("/sample.png")


async def test_tiktok_refuses_a_privacy_level_the_creator_is_not_offered(settings, sandbox_url):
    async with running(settings, sandbox_url, "tiktok") as (_, tap, channel, workspace):
        await due(settings, workspace, channel, "No privacy chosen", media=[video(sandbox_url)])
        failed = (await tap.wait("post.publish_failed"))[0].data
        listing = await sandbox_posts(sandbox_url, "tiktok", channel["external_id"])
    assert failed["error_class"] == "content_rejected"
    assert "privacy_level" in failed["error"] and "SELF_ONLY" in failed["error"]
    assert listing["items"] == []


async def test_tiktok_a_file_that_is_not_a_video_is_a_media_error(settings, sandbox_url):
    async with running(settings, sandbox_url, "tiktok") as (_, tap, channel, workspace):
        await due(
            settings,
            workspace,
            channel,
            "Not a video",
            media=[MediaItem(url=f"{sandbox_url}/_sandbox/media/sample.jpg", kind="video")],
            options=TIKTOK_PUBLIC,
        )
        failed = (await tap.wait("post.publish_failed"))[0].data
    assert failed["error_class"] == "media_error"
    assert "file_format_check_failed" in failed["error"]


async def test_tiktok_last_chunk_lost_in_flight_is_settled_by_the_publish_status(
    settings, sandbox_url
):
    async with running(settings, sandbox_url, "tiktok") as (app, tap, channel, workspace):
        # The upload lands, then the answer is a 503; and the first status read fails too.
        await put_faults(
            sandbox_url,
            {
                "network": "tiktok",
                "endpoint": "PUT /upload/",
                "error_rate": 1.0,
                "status": 503,
                "phase": "after",
                "count": 1,
            },
            {
                "network": "tiktok",
                "endpoint": "POST */status/fetch/",
                "error_rate": 1.0,
                "status": 500,
                "count": 1,
            },
        )
        await due(
            settings,
            workspace,
            channel,
            "Exactly one upload",
            media=[video(sandbox_url)],
            options=TIKTOK_PUBLIC,
        )
        published = (await tap.wait("post.published", seconds=30))[0].data
        listing = await sandbox_posts(sandbox_url, "tiktok", channel["external_id"])
        assert await fired(sandbox_url) == [1, 1]
        # Settled inside the first attempt: no retry, no lookup.
        job = await job_where(app, PublishJob.status == "published")
        assert job is not None and job.attempts == 1
    assert [p["id"] for p in listing["items"]] == [published["external_id"]]
    assert listing["duplicates"] == 0


async def test_tiktok_publisher_killed_after_the_upload_looks_the_video_up(settings, sandbox_url):
    overrides = {"lease_seconds": 3.0, "http_timeout_seconds": 2.5}
    first_settings = settings.model_copy(update=overrides)
    async with running(first_settings, sandbox_url, "tiktok") as (_, tap, channel, workspace):
        # The last chunk is stored, then the answer hangs and the process dies waiting.
        await put_faults(
            sandbox_url,
            {
                "network": "tiktok",
                "endpoint": "PUT /upload/",
                "timeout_rate": 1.0,
                "phase": "after",
                "count": 1,
            },
        )
        await due(
            first_settings,
            workspace,
            channel,
            "Uploaded before the crash",
            media=[video(sandbox_url)],
            options=TIKTOK_PUBLIC,
        )
        for _ in range(100):
            if await fired(sandbox_url) == [1]:
                break
            await asyncio.sleep(0.05)
    assert tap.of("post.published") == []
    second = create_app(settings.model_copy(update=overrides))
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(second):
        published = (await tap.wait("post.published", seconds=30))[0].data
    listing = await sandbox_posts(sandbox_url, "tiktok", channel["external_id"])
    assert [p["id"] for p in listing["items"]] == [published["external_id"]]
    assert listing["duplicates"] == 0


async def test_tiktok_429_waits_for_retry_after(settings, sandbox_url):
    async with running(settings, sandbox_url, "tiktok") as (app, tap, channel, workspace):
        await put_faults(
            sandbox_url,
            {
                "network": "tiktok",
                "endpoint": "POST */video/init/",
                "rate_limit": {"limit": 1, "window_seconds": 120},
            },
        )
        await due(
            settings, workspace, channel, "First", media=[video(sandbox_url)], options=TIKTOK_PUBLIC
        )
        await due(
            settings,
            workspace,
            channel,
            "Second",
            media=[video(sandbox_url)],
            options=TIKTOK_PUBLIC,
        )
        await tap.wait("post.published", seconds=30)
        job = await job_where(app, PublishJob.error_class == "rate_limited")
        assert job is not None and job.status == "pending"
        wait = job.next_attempt_at - datetime.now(UTC)
        assert timedelta(seconds=90) < wait < timedelta(seconds=200)


async def test_tiktok_server_errors_before_anything_is_sent_are_retried_and_tokens_refreshed(
    settings, sandbox_url
):
    async with running(settings, sandbox_url, "tiktok", events=("post.*", "channel.*")) as (
        app,
        tap,
        channel,
        workspace,
    ):
        await put_faults(
            sandbox_url,
            {"network": "tiktok", "expire_tokens": True},
            {
                "network": "tiktok",
                "endpoint": "POST */creator_info/query/",
                "error_rate": 1.0,
                "status": 503,
                "count": 2,
            },
        )
        await due(
            settings,
            workspace,
            channel,
            "Third time lucky",
            media=[video(sandbox_url)],
            options=TIKTOK_PUBLIC,
        )
        published = (await tap.wait("post.published", seconds=30))[0].data
        listing = await sandbox_posts(sandbox_url, "tiktok", channel["external_id"])
        assert [p["id"] for p in listing["items"]] == [published["external_id"]]
        assert tap.of("channel.needs_reauth") == []
        # Token expiry is applied at once; only the 503 rule stays and counts.
        assert await fired(sandbox_url) == [2]


# --- YouTube --------------------------------------------------------------------------------


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
        for _ in range(100):
            listing = await sandbox_posts(sandbox_url, "youtube", channel["external_id"])
            if any(p["text"] == "Ask away" for p in listing["items"]):
                break
            await asyncio.sleep(0.1)
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


async def test_networks_lists_the_three_as_publishing(settings):
    app = create_app(settings)
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        r = await client.get("/v1/networks", headers=identity(uuid.uuid4()))
    assert r.status_code == 200, r.text
    shown = {n["network"]: n for n in r.json()["items"]}
    for network in ("linkedin", "tiktok", "youtube"):
        assert shown[network]["publishing"] is True
    assert shown["youtube"]["title"]["limit"] == 100
    assert shown["tiktok"]["options"][0]["name"] == "privacy_level"
    assert shown["linkedin"]["text"]["limit"] == 3000
