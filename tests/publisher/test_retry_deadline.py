"""Transient failures are retried until the post's missed-post deadline, not a fixed count,
and each retry is announced (`post.retrying`) with its attempt, error and next attempt."""

import uuid
from datetime import UTC, datetime, timedelta

from services.publisher.app import create_app
from shared.events import Envelope
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


async def test_retries_outlast_the_attempt_limit_while_the_deadline_allows(
    publisher_settings, sandbox_url
):
    # Five refusals in a row, an attempt limit of 2: only the deadline keeps it going.
    settings = publisher_settings(max_attempts=2, backoff_base_seconds=0.1, backoff_max_seconds=0.4)
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
                "count": 5,
            },
        )
        due = post_due(
            channel=channel,
            text="Out despite the outage",
            retry_until=datetime.now(UTC) + timedelta(minutes=10),
        )
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        published = await tap.wait("post.published", seconds=60)

        retries = [e.data for e in tap.of("post.retrying")]
        assert [r["attempts"] for r in retries] == [1, 2, 3, 4, 5]
        assert all(r["target_id"] == str(due.target_id) for r in retries)
        # X may have stored a post it answered 503 for: each retry looks before it resends.
        assert all(r["error_class"] == "unknown_outcome" for r in retries)
        assert all(datetime.fromisoformat(r["next_attempt_at"]) > due.due_at for r in retries)
        listing = await sandbox_posts(sandbox_url, "x", channel["external_id"])
        assert [p["id"] for p in listing["items"]] == [published[0].data["external_id"]]
        assert tap.of("post.publish_failed") == []


async def test_at_the_deadline_the_post_fails_with_the_last_error(publisher_settings, sandbox_url):
    settings = publisher_settings(
        max_attempts=1000, backoff_base_seconds=0.2, backoff_max_seconds=0.5
    )
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace)
        await put_faults(
            sandbox_url,
            {"network": "x", "endpoint": "POST /2/tweets", "error_rate": 1.0, "status": 503},
        )
        deadline = datetime.now(UTC) + timedelta(seconds=3)
        due = post_due(channel=channel, text="Never through", retry_until=deadline)
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [failed] = await tap.wait("post.publish_failed", seconds=60)
        assert datetime.fromisoformat(failed.data["failed_at"]) >= deadline
        assert "gave up" in failed.data["error"]
        assert len(tap.of("post.retrying")) >= 2
        assert tap.of("post.published") == []
        listing = await sandbox_posts(sandbox_url, "x", channel["external_id"])
        assert listing["items"] == []
