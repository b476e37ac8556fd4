"""LinkedIn through the real flow (post.due → the network's multi-step API → post.published)
against the sandbox: text, images and videos, unknown outcomes settled by a lookup by author
(no idempotency key), refusals, Retry-After, token refresh, first comments, replies and
statistics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from services.publisher.adapters.linkedin import little_text
from services.publisher.app import create_app
from services.publisher.models import PublishJob
from shared.events import CollectItem, Envelope, MediaItem, MetricsCollect
from tests.conftest import identity
from tests.publisher import network_flows
from tests.publisher.network_flows import (
    due,
    fired,
    image,
    job_where,
    running,
    video,
)
from tests.publisher.support import (
    new_account,
    put_faults,
    sandbox_posts,
    send,
)
from tests.publisher.test_replies import fan_comment, reply_request
from tests.support.servers import lifespan
from tests.support.waits import until

# The fixture: this test's publisher settings with the sandbox's apps for the networks.
settings = network_flows.settings


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
        async def commented() -> dict | None:
            listing = await sandbox_posts(sandbox_url, "linkedin", channel["external_id"])
            found = any(p["text"] == "Details in here" for p in listing["items"])
            return listing if found else None

        listing = await until(commented, timeout=10, what="the first comment")
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
