import asyncio
import contextlib
import uuid
from typing import Any

import httpx

from services.publisher.app import create_app
from shared.events import Envelope
from tests.conftest import identity
from tests.publisher.support import (
    Tap,
    new_account,
    post_due,
    put_faults,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.support.servers import lifespan
from tests.support.waits import until


async def connect(
    app, sandbox_url: str, workspace: uuid.UUID, network: str = "x"
) -> dict[str, Any]:
    account = await new_account(sandbox_url, network)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://p"
    ) as client:
        r = await client.post(
            "/v1/channels",
            json={"network": network, "credentials": account["credentials"]},
            headers=identity(workspace),
        )
    assert r.status_code == 201, r.text
    channel: dict[str, Any] = r.json()
    channel["account"] = account
    return channel


async def test_post_due_is_published_once_even_when_delivered_twice(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["post.*"]) as tap,
        lifespan(app),
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace)
        due = post_due(channel=channel, text="Winter launch is here")
        envelope = Envelope.of(due, workspace_id=workspace)
        # The same message twice, and the same target in a second message.
        again = Envelope.of(due, workspace_id=workspace)
        await send(settings.exchange_name, envelope, envelope, again)
        published = await tap.wait("post.published")
        # A quiet moment is the check: a second publish of the same target would arrive here.
        await asyncio.sleep(1.0)
        assert len(tap.of("post.published")) == 1
        data = published[0].data
        assert data["target_id"] == str(due.target_id)
        assert data["url"].endswith(f"/status/{data['external_id']}")
        assert published[0].workspace_id == workspace
        assert published[0].correlation_id == envelope.correlation_id
        assert data["media_kind"] == "text"
        listing = await sandbox_posts(sandbox_url, "x", channel["external_id"])
        assert [p["id"] for p in listing["items"]] == [data["external_id"]]
        assert listing["duplicates"] == 0


async def test_a_send_that_failed_after_the_network_stored_it_is_adopted_not_resent(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace)
        # X stores the tweet, then answers 503: the outcome is unknown to us.
        await put_faults(
            sandbox_url,
            {
                "network": "x",
                "endpoint": "POST /2/tweets",
                "error_rate": 1.0,
                "status": 503,
                "phase": "after",
                "count": 1,
            },
        )
        due = post_due(channel=channel, text="Stored, then a 503")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        published = await tap.wait("post.published")
        listing = await sandbox_posts(sandbox_url, "x", channel["external_id"])
        assert len(listing["items"]) == 1
        assert listing["duplicates"] == 0
        assert published[0].data["external_id"] == listing["items"][0]["id"]
        assert tap.of("post.publish_failed") == []


async def test_a_publisher_killed_mid_call_reconciles_without_a_second_post(
    publisher_settings, sandbox_url, database_url
):
    workspace = uuid.uuid4()
    first_settings = publisher_settings(lease_seconds=3.0, http_timeout_seconds=2.5)
    first = create_app(first_settings)
    async with Tap(first_settings.exchange_name, ["post.*"]) as tap:
        async with lifespan(first):
            await wait_consuming(first, first_settings.queue_name("posts"))
            channel = await connect(first, sandbox_url, workspace)
            # The tweet is stored, then the answer hangs: the process dies while waiting.
            await put_faults(
                sandbox_url,
                {
                    "network": "x",
                    "endpoint": "POST /2/tweets",
                    "timeout_rate": 1.0,
                    "phase": "after",
                    "count": 1,
                },
            )
            due = post_due(channel=channel, text="Sent just before the crash")
            await send(first_settings.exchange_name, Envelope.of(due, workspace_id=workspace))

            async def on_the_network() -> bool:
                listing = await sandbox_posts(sandbox_url, "x", channel["external_id"])
                return bool(listing["items"])

            # The first publisher "crashes" once the post is on the network (or after 5 s at
            # most, as before: what follows checks the outcome either way).
            with contextlib.suppress(AssertionError):
                await until(on_the_network, timeout=5, what="the post on the network")
        # The first publisher is gone with the job `sending`; a new one takes over.
        assert tap.of("post.published") == []
        second = create_app(publisher_settings(lease_seconds=3.0, http_timeout_seconds=2.5))
        async with lifespan(second):
            published = await tap.wait("post.published", seconds=30)
        listing = await sandbox_posts(sandbox_url, "x", channel["external_id"])
        assert len(listing["items"]) == 1
        assert listing["duplicates"] == 0
        assert published[0].data["external_id"] == listing["items"][0]["id"]


async def test_duplicate_content_fails_at_once_with_the_network_message(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace)
        first = post_due(channel=channel, text="Same words")
        await send(settings.exchange_name, Envelope.of(first, workspace_id=workspace))
        await tap.wait("post.published")
        second = post_due(channel=channel, text="Same words")
        await send(settings.exchange_name, Envelope.of(second, workspace_id=workspace))
        failed = await tap.wait("post.publish_failed")
        assert failed[0].data["target_id"] == str(second.target_id)
        assert failed[0].data["error_class"] == "duplicate"
        assert "duplicate content" in failed[0].data["error"]


async def test_rate_limited_answers_wait_for_the_reset_then_publish(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace)
        # One tweet per 2 s window: the second post is refused with x-rate-limit-reset.
        await put_faults(
            sandbox_url,
            {
                "network": "x",
                "endpoint": "POST /2/tweets",
                "rate_limit": {"limit": 1, "window_seconds": 2},
            },
        )
        dues = [post_due(channel=channel, text=f"Patience {i}") for i in range(2)]
        await send(settings.exchange_name, *(Envelope.of(d, workspace_id=workspace) for d in dues))
        published = await tap.wait("post.published", count=2, seconds=30)
        listing = await sandbox_posts(sandbox_url, "x", channel["external_id"])
        assert sorted(p["id"] for p in listing["items"]) == sorted(
            e.data["external_id"] for e in published
        )
        assert listing["duplicates"] == 0
        runtime = app.state.runtime
        assert (
            runtime.metrics.registry.get_sample_value(
                "herald_publisher_attempts_total",
                {"network": "x", "outcome": "retrying", "error_class": "rate_limited"},
            )
            >= 1
        )
        assert (
            runtime.metrics.registry.get_sample_value(
                "herald_publisher_attempts_total",
                {"network": "x", "outcome": "published", "error_class": ""},
            )
            == 2
        )


async def test_server_errors_before_sending_are_retried(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace)
        await put_faults(
            sandbox_url,
            {
                "network": "x",
                "endpoint": "POST /2/tweets",
                "error_rate": 1.0,
                "status": 503,
                "count": 2,
            },
        )
        due = post_due(channel=channel, text="Third time lucky")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        published = await tap.wait("post.published", seconds=30)
        listing = await sandbox_posts(sandbox_url, "x", channel["external_id"])
        assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
