"""Instagram and Threads through the real flow (post.due → containers → publish →
post.published) against the sandbox: every media shape, the error classes, Meta's throttling
headers, unknown outcomes settled by a lookup, the daily cap, replies, first comments and
insights."""

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from services.publisher.app import create_app
from services.publisher.models import Channel, PublishJob
from shared.events import CollectItem, Envelope, MetricsCollect
from tests.conftest import identity
from tests.publisher.network_flows import job_where
from tests.publisher.support import (
    Tap,
    new_account,
    post_due,
    put_faults,
    running_sandbox,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.publisher.test_networks import publish_one, sample
from tests.publisher.test_publishing import connect
from tests.publisher.test_replies import fan_comment, reply_request
from tests.support.servers import lifespan
from tests.support.waits import until

# --- Instagram ------------------------------------------------------------------------------


async def test_instagram_publishes_an_image_a_carousel_and_a_reel(publisher_settings, sandbox_url):
    settings = publisher_settings()
    _, published, listing, _ = await publish_one(
        settings,
        sandbox_url,
        "instagram",
        text="One picture #launch",
        media=[sample(sandbox_url, "sample.jpg")],
    )
    [post] = listing["items"]
    data = published[0].data
    assert data["external_id"] == post["id"]
    # The URL is the permalink Instagram gives, not one made up from the id.
    assert data["url"] == post["url"] and data["url"].startswith("https://www.instagram.com/p/")
    assert [m["kind"] for m in post["media"]] == ["image"]
    assert post["text"] == "One picture #launch"

    _, published, listing, _ = await publish_one(
        settings,
        sandbox_url,
        "instagram",
        text="A carousel",
        media=[
            sample(sandbox_url, "sample.jpg"),
            sample(sandbox_url, "sample.mp4", "video"),
            sample(sandbox_url, "sample.jpg"),
        ],
    )
    [post] = listing["items"]
    assert post["id"] == published[0].data["external_id"]
    assert [m["kind"] for m in post["media"]] == ["image", "video", "image"]
    assert listing["duplicates"] == 0

    # A video is a reel; its container reports IN_PROGRESS for several polls before it is
    # FINISHED, and publishing before that is refused, so a post only appears if the
    # adapter waited for the container.
    channel, published, listing, _ = await publish_one(
        settings,
        sandbox_url,
        "instagram",
        text="A reel",
        media=[sample(sandbox_url, "sample.mp4", "video")],
    )
    [post] = listing["items"]
    assert post["id"] == published[0].data["external_id"]
    assert [m["kind"] for m in post["media"]] == ["video"]
    token = channel["account"]["credentials"]["access_token"]
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        media = (
            await client.get(
                f"/instagram/v21.0/{post['id']}",
                params={"fields": "media_type,media_product_type"},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
    assert media["media_type"] == "VIDEO" and media["media_product_type"] == "REELS"


async def test_instagram_video_waits_out_slow_processing(publisher_settings):
    # A sandbox whose containers stay IN_PROGRESS for many polls: the adapter keeps polling
    # (with growing pauses) rather than failing or publishing early.
    async with running_sandbox(processing_polls=4) as slow_url:
        settings = publisher_settings(
            sandbox_url=slow_url, lease_seconds=60.0, http_timeout_seconds=10.0
        )
        _, published, listing, tap = await publish_one(
            settings,
            slow_url,
            "instagram",
            text="Slow reel",
            media=[sample(slow_url, "sample.mp4", "video")],
        )
    [post] = listing["items"]
    assert post["id"] == published[0].data["external_id"]
    assert tap.of("post.publish_failed") == []


async def test_instagram_refuses_what_it_cannot_take_at_once_with_its_message(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        png = post_due(
            channel=channel, text="Not a JPEG", media=[sample(sandbox_url, "sample.png")]
        )
        missing = post_due(
            channel=channel, text="Nowhere", media=[sample(sandbox_url, "nothing.jpg")]
        )
        tags = post_due(
            channel=channel,
            text=" ".join(f"#t{i}" for i in range(31)),
            media=[sample(sandbox_url, "sample.jpg")],
        )
        bare = post_due(channel=channel, text="No media at all")
        await send(
            settings.exchange_name,
            *(Envelope.of(d, workspace_id=workspace) for d in (png, missing, tags, bare)),
        )
        failed = await tap.wait("post.publish_failed", count=4, seconds=30)
        by_target = {e.data["target_id"]: e.data for e in failed}
        assert by_target[str(png.target_id)]["error_class"] == "media_error"
        assert "Only JPEG" in by_target[str(png.target_id)]["error"]
        assert by_target[str(missing.target_id)]["error_class"] == "media_error"
        assert by_target[str(tags.target_id)]["error_class"] == "content_rejected"
        assert "hashtags" in by_target[str(tags.target_id)]["error"]
        assert by_target[str(bare.target_id)]["error_class"] == "media_error"
        # Permanent refusals are one attempt each, never retried.
        async with app.state.runtime.sessions() as session:
            attempts = (await session.execute(sa.select(PublishJob.attempts))).scalars().all()
        assert sorted(attempts) == [1, 1, 1, 1]
        listing = await sandbox_posts(sandbox_url, "instagram", channel["external_id"])
        assert listing["items"] == []
        assert tap.of("post.published") == []


async def test_instagram_unknown_outcome_is_found_on_the_account_not_resent(
    publisher_settings, sandbox_url
):
    # media_publish stores the post, then answers 500: the retry looks first and adopts it.
    fault = {
        "network": "instagram",
        "endpoint": "POST */media_publish",
        "error_rate": 1.0,
        "status": 500,
        "phase": "after",
        "count": 1,
    }
    _, published, listing, tap = await publish_one(
        publisher_settings(),
        sandbox_url,
        "instagram",
        text="Exactly once on Instagram",
        media=[sample(sandbox_url, "sample.jpg")],
        faults=[fault],
    )
    assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
    assert listing["duplicates"] == 0
    assert published[0].data["url"] == listing["items"][0]["url"]
    assert tap.of("post.publish_failed") == []


async def test_instagram_server_errors_while_making_containers_are_retried(
    publisher_settings, sandbox_url
):
    # A container never shows, so failures there are plain transient errors: a new one is
    # made on the next attempt and the post still goes out once.
    fault = {
        "network": "instagram",
        "endpoint": "POST */media",
        "error_rate": 1.0,
        "status": 503,
        "count": 2,
    }
    _, published, listing, _ = await publish_one(
        publisher_settings(),
        sandbox_url,
        "instagram",
        text="Third container lucky",
        media=[sample(sandbox_url, "sample.jpg")],
        faults=[fault],
    )
    assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
    assert listing["duplicates"] == 0


async def test_instagram_throttling_waits_as_long_as_the_usage_header_says(
    publisher_settings, sandbox_url
):
    # Meta answers throttling as HTTP 400 with error code 4, and estimates in
    # X-Business-Use-Case-Usage when access returns; the retry waits that long.
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        await put_faults(
            sandbox_url,
            {
                "network": "instagram",
                "endpoint": "POST */media_publish",
                "rate_limit": {"limit": 1, "window_seconds": 180, "status": 400},
            },
        )
        dues = [
            post_due(
                channel=channel, text=f"Throttled {i}", media=[sample(sandbox_url, "sample.jpg")]
            )
            for i in range(2)
        ]
        await send(settings.exchange_name, *(Envelope.of(d, workspace_id=workspace) for d in dues))
        await tap.wait("post.published")
        job = await job_where(app, PublishJob.error_class == "rate_limited")
        assert job is not None and job.status == "pending"
        # The header said 3 minutes; without it the backoff would be about a second.
        assert job.next_attempt_at - datetime.now(UTC) > timedelta(seconds=150)
        assert "request limit" in (job.error or "")
        assert tap.of("post.publish_failed") == []
        listing = await sandbox_posts(sandbox_url, "instagram", channel["external_id"])
        assert len(listing["items"]) == 1


async def test_instagram_daily_cap_of_50_is_kept_by_the_publisher_itself(
    publisher_settings, sandbox_url
):
    settings = publisher_settings(publish_concurrency=10)
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        dues = [
            post_due(channel=channel, text=f"Daily {i}", media=[sample(sandbox_url, "sample.jpg")])
            for i in range(51)
        ]
        await send(settings.exchange_name, *(Envelope.of(d, workspace_id=workspace) for d in dues))
        # Every job ends published, or waiting for the oldest spend of the day to age out
        # (about 24 h from now) without having been sent.
        later = datetime.now(UTC) + timedelta(hours=23)
        jobs: list[PublishJob] = []

        async def all_settled() -> bool:
            nonlocal jobs
            async with app.state.runtime.sessions() as session:
                jobs = list((await session.execute(sa.select(PublishJob))).scalars())
            settled = [
                j
                for j in jobs
                if j.status == "published"
                or (
                    j.status == "pending"
                    and j.error_class == "rate_limited"
                    and j.next_attempt_at > later
                )
            ]
            return len(jobs) == 51 and len(settled) == 51

        with contextlib.suppress(AssertionError):  # the assertions below say what is wrong
            await until(all_settled, timeout=120, every=0.2, what="every job settled")
        published = [j for j in jobs if j.status == "published"]
        waiting = [j for j in jobs if j.status == "pending"]
        assert len(published) + len(waiting) == 51, [(j.status, j.error_class) for j in jobs]
        # Each attempt spends from the budget (a retried post spends twice), and the budget
        # never allows more than 50 a day: here 50 attempts, the rest deferred unsent.
        assert sum(j.attempts for j in jobs) == 50
        # (A loaded machine may time a call out and cost a retry or two; never more posts.)
        assert 45 <= len(published) <= 50 and waiting
        # A quiet moment is the check: an event for a job not published would arrive here.
        await asyncio.sleep(0.5)
        assert len(tap.of("post.published")) == len(published)
        assert tap.of("post.publish_failed") == []
        listing = await sandbox_posts(sandbox_url, "instagram", channel["external_id"])
        assert sorted(p["id"] for p in listing["items"]) == sorted(
            str(j.external_id) for j in published
        )
        assert listing["duplicates"] == 0
        token = channel["account"]["credentials"]["access_token"]
        async with httpx.AsyncClient(base_url=sandbox_url) as client:
            usage = (
                await client.get(
                    f"/instagram/v21.0/{channel['external_id']}/content_publishing_limit",
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()["data"][0]
        # Instagram never had to refuse one: it counts only what the publisher sent.
        assert usage["quota_usage"] == len(published)


async def test_instagram_cap_reached_elsewhere_makes_the_post_wait_not_fail(
    publisher_settings, sandbox_url
):
    # The account already spent its 50 posts through another app: Instagram refuses with
    # code 9 / 2207042, and the post waits instead of failing.
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        ig = channel["external_id"]
        headers = {"Authorization": f"Bearer {channel['account']['credentials']['access_token']}"}
        async with httpx.AsyncClient(
            base_url=f"{sandbox_url}/instagram/v21.0", headers=headers
        ) as other_app:
            for i in range(50):
                made = (
                    await other_app.post(
                        f"/{ig}/media",
                        data={
                            "image_url": f"{sandbox_url}/_sandbox/media/sample.jpg",
                            "caption": f"elsewhere {i}",
                        },
                    )
                ).json()["id"]
                for _ in range(5):
                    status = (
                        await other_app.get(f"/{made}", params={"fields": "status_code"})
                    ).json()["status_code"]
                    if status == "FINISHED":
                        break
                r = await other_app.post(f"/{ig}/media_publish", data={"creation_id": made})
                assert r.status_code == 200, r.text
        due = post_due(
            channel=channel, text="Over the cap", media=[sample(sandbox_url, "sample.jpg")]
        )
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        job = await job_where(
            app, PublishJob.target_id == due.target_id, PublishJob.error_class == "rate_limited"
        )
        assert job is not None and job.status == "pending"
        assert job.next_attempt_at - datetime.now(UTC) > timedelta(minutes=30)
        assert "maximum number of posts" in (job.error or "")
        assert tap.of("post.publish_failed") == []
        listing = await sandbox_posts(sandbox_url, "instagram", ig)
        assert len(listing["items"]) == 50


async def test_instagram_first_comment_and_a_reply_to_a_fan(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*", "reply.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("replies"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        # The first comment's first try hits a stored-then-500 answer: it is looked up
        # under the media, not written twice.
        await put_faults(
            sandbox_url,
            {
                "network": "instagram",
                "endpoint": "POST */comments",
                "error_rate": 1.0,
                "status": 500,
                "phase": "after",
                "count": 1,
            },
        )
        due = post_due(
            channel=channel,
            text="Launch",
            media=[sample(sandbox_url, "sample.jpg")],
            options={"first_comment": "Link in bio"},
        )
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        media_id = (await tap.wait("post.published"))[0].data["external_id"]
        mine: list = []
        job = None

        async def commented() -> bool:
            nonlocal mine, job
            listing = await sandbox_posts(sandbox_url, "instagram", channel["external_id"])
            mine = [p for p in listing["items"] if p["text"] == "Link in bio"]
            job = await job_where(app, PublishJob.kind == "first_comment")
            return bool(mine) and job.status == "published"

        await until(commented, timeout=10, every=0.1, what="the first comment published")
        assert len(mine) == 1 and mine[0]["reply_to"] == media_id
        assert job is not None and job.external_id == mine[0]["id"]

        comment = await fan_comment(sandbox_url, "instagram", media_id, "Where is the link?")
        request = reply_request(
            channel, text="In our bio!", in_reply_to=comment["id"], root_id=media_id
        )
        envelope = Envelope.of(request, workspace_id=workspace)
        await send(settings.exchange_name, envelope, envelope)
        sent = await tap.wait("reply.sent")
        listing = await sandbox_posts(sandbox_url, "instagram", channel["external_id"])
        replies = [p for p in listing["items"] if p["text"] == "In our bio!"]
        assert len(replies) == 1 and replies[0]["reply_to"] == comment["id"]
        assert sent[0].data["external_id"] == replies[0]["id"]
        # A quiet moment is the check: the duplicate request must not send a second reply.
        await asyncio.sleep(0.5)
        assert len(tap.of("reply.sent")) == 1


async def test_instagram_direct_message_reply_inside_the_window_only(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["reply.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("replies"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        async with httpx.AsyncClient(base_url=sandbox_url) as client:
            dm = (
                await client.post(
                    "/_sandbox/instagram/messages",
                    json={"account": channel["external_id"], "text": "Hi?", "author": "Sam"},
                )
            ).json()
        answer = reply_request(
            channel, text="Hello Sam", in_reply_to=dm["id"], kind="dm", recipient_id=dm["sender"]
        )
        await send(settings.exchange_name, Envelope.of(answer, workspace_id=workspace))
        sent = await tap.wait("reply.sent")
        assert sent[0].data["reply_id"] == str(answer.reply_id)
        assert sent[0].data["external_id"]
        # Nobody with this id wrote in the last 24 h: Instagram refuses, and it is final.
        stranger = reply_request(
            channel, text="Cold message", in_reply_to=dm["id"], kind="dm", recipient_id="91"
        )
        await send(settings.exchange_name, Envelope.of(stranger, workspace_id=workspace))
        failed = await tap.wait("reply.failed")
        assert failed[0].data["reply_id"] == str(stranger.reply_id)
        assert failed[0].data["error_class"] == "content_rejected"
        assert "allowed window" in failed[0].data["error"]


async def test_instagram_expired_token_puts_the_channel_in_needs_reauth(
    publisher_settings, sandbox_url
):
    # A long-lived Instagram token can only be refreshed while it is still valid: once
    # expired, the channel needs a person, and its post waits.
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*", "channel.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        await put_faults(sandbox_url, {"network": "instagram", "expire_tokens": True})
        due = post_due(channel=channel, text="Expired", media=[sample(sandbox_url, "sample.jpg")])
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        event = (await tap.wait("channel.needs_reauth"))[0].data
        assert event["channel_id"] == channel["id"]
        assert "instagram" in event["reason"]
        job = await job_where(
            app, PublishJob.target_id == due.target_id, PublishJob.status == "waiting"
        )
        assert job is not None and job.error_class == "auth_expired"
        assert tap.of("post.publish_failed") == []


async def test_instagram_token_near_expiry_is_refreshed_before_publishing(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        account = await new_account(sandbox_url, "instagram")
        # Still valid at the sandbox, but inside the refresh margin by our records.
        soon = dict(account["credentials"], expires_at=int(time.time()) + 60)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p"
        ) as client:
            r = await client.post(
                "/v1/channels",
                json={"network": "instagram", "credentials": soon},
                headers=identity(workspace),
            )
        assert r.status_code == 201, r.text
        channel = {**r.json(), "account": account}
        due = post_due(
            channel=channel, text="Fresh token", media=[sample(sandbox_url, "sample.jpg")]
        )
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        await tap.wait("post.published")
        async with app.state.runtime.sessions() as session:
            stored = await session.get(Channel, uuid.UUID(channel["id"]))
        assert stored is not None and stored.status == "active"
        assert stored.token_expires_at - datetime.now(UTC) > timedelta(days=50)


async def test_instagram_insights_report_what_it_measured(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["post.published", "metrics.fetched"]) as tap,
        lifespan(app),
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("metrics"))
        channel = await connect(app, sandbox_url, workspace, network="instagram")
        due = post_due(channel=channel, text="Count me", media=[sample(sandbox_url, "sample.jpg")])
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        media_id = (await tap.wait("post.published"))[0].data["external_id"]
        collect = MetricsCollect(
            channel_id=uuid.UUID(channel["id"]),
            network="instagram",
            posts=[CollectItem(post_id=due.post_id, external_id=media_id)],
        )
        # Not measured yet: Instagram answers an empty set, and nothing is reported as 0.
        await send(settings.exchange_name, Envelope.of(collect, workspace_id=workspace))
        first = (await tap.wait("metrics.fetched"))[0].data
        assert first["samples"] == []
        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            await sandbox.post("/_sandbox/engagement/tick", json={"hours": 6})
            token = channel["account"]["credentials"]["access_token"]
            truth = (
                await sandbox.get(
                    f"/instagram/v21.0/{media_id}/insights",
                    params={"metric": "views,reach,likes,saved"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()["data"]
        await send(settings.exchange_name, Envelope.of(collect, workspace_id=workspace))
        fetched = (await tap.wait("metrics.fetched", count=2))[1].data
        values = {s["metric"]: (s["network_metric"], s["value"]) for s in fetched["samples"]}
        expected = {m["name"]: m["values"][0]["value"] for m in truth}
        assert values["views"] == ("views", expected["views"])
        assert values["reach"] == ("reach", expected["reach"])
        assert values["likes"] == ("likes", expected["likes"])
        assert values["saves"] == ("saved", expected["saved"])
        assert {s["post_id"] for s in fetched["samples"]} == {str(due.post_id)}


# --- Threads --------------------------------------------------------------------------------


async def test_threads_publishes_text_an_image_and_a_carousel(publisher_settings, sandbox_url):
    settings = publisher_settings()
    _, published, listing, _ = await publish_one(
        settings,
        sandbox_url,
        "threads",
        text="Just words \U0001f44b",
    )
    [post] = listing["items"]
    data = published[0].data
    assert data["external_id"] == post["id"] and post["media"] == []
    assert data["url"] == post["url"] and data["url"].startswith("https://www.threads.net/@")
    assert post["text"] == "Just words \U0001f44b"

    _, published, listing, _ = await publish_one(
        settings,
        sandbox_url,
        "threads",
        text="A picture",
        media=[sample(sandbox_url, "sample.jpg", alt="grey square")],
    )
    [post] = listing["items"]
    assert post["id"] == published[0].data["external_id"]
    assert [(m["kind"], m.get("alt")) for m in post["media"]] == [("image", "grey square")]

    _, published, listing, _ = await publish_one(
        settings,
        sandbox_url,
        "threads",
        text="A carousel",
        media=[
            sample(sandbox_url, "sample.jpg"),
            sample(sandbox_url, "sample.png"),
            sample(sandbox_url, "sample.mp4", "video"),
        ],
    )
    [post] = listing["items"]
    assert post["id"] == published[0].data["external_id"]
    assert [m["kind"] for m in post["media"]] == ["image", "image", "video"]
    assert listing["duplicates"] == 0


async def test_threads_unknown_outcome_after_a_timeout_is_found_not_resent(
    publisher_settings, sandbox_url
):
    # threads_publish stores the post and then never answers: the client times out, the
    # outcome is unknown, and the retry finds the post instead of publishing it again.
    settings = publisher_settings(http_timeout_seconds=2.0, lease_seconds=10.0)
    fault = {
        "network": "threads",
        "endpoint": "POST */threads_publish",
        "timeout_rate": 1.0,
        "phase": "after",
        "count": 1,
    }
    _, published, listing, tap = await publish_one(
        settings,
        sandbox_url,
        "threads",
        text="Once, despite the silence",
        faults=[fault],
    )
    assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
    assert listing["duplicates"] == 0
    assert tap.of("post.publish_failed") == []


async def test_threads_media_it_cannot_fetch_fails_with_a_media_error(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="threads")
        due = post_due(
            channel=channel, text="Missing picture", media=[sample(sandbox_url, "nothing.jpg")]
        )
        too_long = post_due(channel=channel, text="x" * 501)
        await send(
            settings.exchange_name,
            Envelope.of(due, workspace_id=workspace),
            Envelope.of(too_long, workspace_id=workspace),
        )
        failed = await tap.wait("post.publish_failed", count=2)
        by_target = {e.data["target_id"]: e.data for e in failed}
        assert by_target[str(due.target_id)]["error_class"] == "media_error"
        assert "DOWNLOADING" in by_target[str(due.target_id)]["error"]
        assert by_target[str(too_long.target_id)]["error_class"] == "content_rejected"
        assert (await sandbox_posts(sandbox_url, "threads", channel["external_id"]))["items"] == []


async def test_threads_first_comment_and_reply_are_reply_containers(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*", "reply.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("replies"))
        channel = await connect(app, sandbox_url, workspace, network="threads")
        due = post_due(channel=channel, text="Ask me", options={"first_comment": "More below"})
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        post_id = (await tap.wait("post.published"))[0].data["external_id"]
        comment = await fan_comment(sandbox_url, "threads", post_id, "Is it out?")
        # The reply's publish is stored and answered 502: found by the lookup, not resent.
        await put_faults(
            sandbox_url,
            {
                "network": "threads",
                "endpoint": "POST */threads_publish",
                "error_rate": 1.0,
                "status": 502,
                "phase": "after",
                "count": 1,
            },
        )
        request = reply_request(
            channel, text="Out today!", in_reply_to=comment["id"], root_id=post_id
        )
        await send(settings.exchange_name, Envelope.of(request, workspace_id=workspace))
        sent = await tap.wait("reply.sent", seconds=30)
        async def threads_posts() -> dict | None:
            listing = await sandbox_posts(sandbox_url, "threads", channel["external_id"])
            return listing if any(p["text"] == "More below" for p in listing["items"]) else None

        listing = await until(threads_posts, timeout=10, what="the first comment on Threads")
        first = [p for p in listing["items"] if p["text"] == "More below"]
        assert len(first) == 1 and first[0]["reply_to"] == post_id
        replies = [p for p in listing["items"] if p["text"] == "Out today!"]
        assert len(replies) == 1 and replies[0]["reply_to"] == comment["id"]
        assert sent[0].data["external_id"] == replies[0]["id"]
        assert listing["duplicates"] == 0


async def test_threads_cap_is_kept_by_the_budget_and_replies_have_their_own(
    publisher_settings, sandbox_url
):
    rules = [
        {"name": "posts", "limit": 2, "window_seconds": 86400, "actions": ["post"]},
        {"name": "replies", "limit": 5, "window_seconds": 86400, "actions": ["reply"]},
    ]
    settings = publisher_settings(rate_budgets={"threads": rules})
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*", "reply.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("replies"))
        channel = await connect(app, sandbox_url, workspace, network="threads")
        dues = [post_due(channel=channel, text=f"Capped {i}") for i in range(3)]
        await send(settings.exchange_name, *(Envelope.of(d, workspace_id=workspace) for d in dues))
        published = await tap.wait("post.published", count=2)
        job = await job_where(
            app, PublishJob.status == "pending", PublishJob.error_class == "rate_limited"
        )
        assert job is not None and job.next_attempt_at - datetime.now(UTC) > timedelta(hours=23)
        # The post cap is spent, and a reply still goes out on its own budget.
        post_id = published[0].data["external_id"]
        comment = await fan_comment(sandbox_url, "threads", post_id, "Hello?")
        await send(
            settings.exchange_name,
            Envelope.of(
                reply_request(channel, text="Hi!", in_reply_to=comment["id"], root_id=post_id),
                workspace_id=workspace,
            ),
        )
        await tap.wait("reply.sent")
        listing = await sandbox_posts(sandbox_url, "threads", channel["external_id"])
        assert sorted(p["text"] for p in listing["items"] if p["reply_to"] is None) == sorted(
            e.data["text"] for e in published
        )
        assert len(tap.of("post.published")) == 2


async def test_threads_insights_map_reposts_and_shares_apart(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["post.published", "metrics.fetched"]) as tap,
        lifespan(app),
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("metrics"))
        channel = await connect(app, sandbox_url, workspace, network="threads")
        due = post_due(channel=channel, text="Measure me")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        thread_id = (await tap.wait("post.published"))[0].data["external_id"]
        await fan_comment(sandbox_url, "threads", thread_id, "First!")
        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            await sandbox.post("/_sandbox/engagement/tick", json={"hours": 6})
            token = channel["account"]["credentials"]["access_token"]
            truth = (
                await sandbox.get(
                    f"/threads/v1.0/{thread_id}/insights",
                    params={"metric": "views,likes,replies,reposts"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()["data"]
        collect = MetricsCollect(
            channel_id=uuid.UUID(channel["id"]),
            network="threads",
            posts=[CollectItem(post_id=due.post_id, external_id=thread_id)],
        )
        await send(settings.exchange_name, Envelope.of(collect, workspace_id=workspace))
        fetched = (await tap.wait("metrics.fetched"))[0].data
        values = {s["metric"]: (s["network_metric"], s["value"]) for s in fetched["samples"]}
        expected = {m["name"]: m["values"][0]["value"] for m in truth}
        assert values["views"] == ("views", expected["views"])
        assert values["comments"] == ("replies", expected["replies"]) and expected["replies"] >= 1
        assert values["shares"] == ("reposts", expected["reposts"])
        assert values["sends"][0] == "shares"
