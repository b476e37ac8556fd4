"""A thread of posts goes out as a reply chain; a failure part-way resumes after the last part
the network holds: never a duplicate part, never a broken chain."""

import uuid
from typing import Any

import httpx
import pytest

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

THREAD = ["Part two of the launch", {"text": "Part three, with a link https://example.com/a"}]

# One write per network, failed on the third part: "after" stores it first (the outcome is
# unknown to the publisher), "before" refuses it.
CASES = [
    ("x", "POST /2/tweets", "after", 503),
    ("mastodon", "POST /api/v1/statuses", "after", 502),
    ("bluesky", "POST /xrpc/com.atproto.repo.createRecord", "after", 502),
    ("threads", "POST */threads_publish", "before", 500),
]


def chain_of(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The account's posts as one chain from the post with no parent, or a failed assert."""
    heads = [p for p in items if p["reply_to"] is None]
    assert len(heads) == 1, items
    chain = heads
    while True:
        children = [p for p in items if p["reply_to"] == chain[-1]["id"]]
        assert len(children) <= 1, f"two answers to {chain[-1]['id']}: {children}"
        if not children:
            return chain
        chain.append(children[0])


@pytest.mark.parametrize(("network", "endpoint", "phase", "status"), CASES)
async def test_a_thread_fails_on_its_third_part_and_resumes_without_a_duplicate(
    publisher_settings, sandbox_url, network, endpoint, phase, status
):
    settings = publisher_settings(backoff_base_seconds=0.2)
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network=network)
        await put_faults(
            sandbox_url,
            {
                "network": network,
                "endpoint": endpoint,
                "error_rate": 1.0,
                "status": status,
                "phase": phase,
                "skip": 2,
                "count": 1,
            },
        )
        due = post_due(channel=channel, text="Launch day, a thread", options={"thread": THREAD})
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        published = await tap.wait("post.published", seconds=60)

        listing = await sandbox_posts(sandbox_url, network, channel["external_id"])
        chain = chain_of(listing["items"])
        assert [p["text"] for p in chain] == [
            "Launch day, a thread",
            "Part two of the launch",
            "Part three, with a link https://example.com/a",
        ]
        assert len(listing["items"]) == 3
        assert listing["duplicates"] == 0
        assert chain[0]["id"] == published[0].data["external_id"]
        assert tap.of("post.publish_failed") == []
        async with httpx.AsyncClient(base_url=sandbox_url) as client:
            rules = (await client.get("/_sandbox/faults")).json()["rules"]
        assert [r["fired"] for r in rules] == [1]  # the third part did fail once


async def test_bluesky_thread_parts_name_their_root_and_parent(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, ["post.*"]) as tap, lifespan(app):
        await wait_consuming(app, settings.queue_name("posts"))
        channel = await connect(app, sandbox_url, workspace, network="bluesky")
        due = post_due(channel=channel, text="Root", options={"thread": ["Second", "Third"]})
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        await tap.wait("post.published")
        listing = await sandbox_posts(sandbox_url, "bluesky", channel["external_id"])
        root, second, third = chain_of(listing["items"])
        assert "reply" not in root["record"]
        assert second["record"]["reply"]["root"]["uri"] == root["id"]
        assert second["record"]["reply"]["parent"]["uri"] == root["id"]
        assert third["record"]["reply"]["root"]["uri"] == root["id"]
        assert third["record"]["reply"]["parent"]["uri"] == second["id"]
