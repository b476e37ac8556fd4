"""TikTok through the real flow against the sandbox: the chunk plan, init / upload / status,
photo posts pulled from their URLs, privacy levels, a lost last chunk or a publisher killed
after the upload settled by the publish status (no idempotency key), Retry-After, server
errors and token refresh."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from services.publisher.adapters.tiktok import CHUNK, WHOLE_MAX, chunk_plan
from services.publisher.app import create_app
from services.publisher.models import PublishJob
from shared.events import MediaItem
from tests.publisher import network_flows
from tests.publisher.network_flows import (
    TIKTOK_PUBLIC,
    due,
    fired,
    image,
    job_where,
    running,
    video,
)
from tests.publisher.support import (
    Tap,
    put_faults,
    sandbox_posts,
)
from tests.support.servers import lifespan
from tests.support.waits import until

# The fixture: this test's publisher settings with the sandbox's apps for the networks.
settings = network_flows.settings


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
        async def upload_lost() -> bool:
            return await fired(sandbox_url) == [1]

        # The first publisher "crashes" once the fault fired (or after 5 s at most, as before:
        # what follows checks the outcome either way).
        with contextlib.suppress(AssertionError):
            await until(upload_lost, timeout=5, what="the fault fired")
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
