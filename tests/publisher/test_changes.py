"""Edits and deletes of published posts, through the consumer (`target.edit_requested`,
`target.delete_requested` → the network → `target.changed`), seen on the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from services.publisher.app import create_app
from services.publisher.models import BUS, TargetChange
from shared.events import (
    Envelope,
    MediaItem,
    TargetDeleteRequested,
    TargetEditRequested,
)
from shared.networks.rules import rules_for
from tests.publisher.support import (
    Tap,
    network_apps,
    post_due,
    put_faults,
    sandbox_posts,
    send,
    wait_consuming,
)
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan

EDITABLE = ["facebook", "linkedin", "mastodon", "youtube"]
DELETABLE = ["x", "facebook", "linkedin", "mastodon", "threads", "bluesky", "youtube"]


@pytest.fixture
async def settings(publisher_settings, sandbox_url):
    apps = await network_apps(
        sandbox_url, "x", "mastodon", "bluesky", "facebook", "linkedin", "youtube", "threads"
    )
    return publisher_settings(network_apps=apps)


@contextlib.asynccontextmanager
async def published(
    settings, sandbox_url: str, network: str
) -> AsyncIterator[tuple[Any, Tap, dict[str, Any], uuid.UUID, dict[str, Any]]]:
    """A running publisher and one post it published on `network`."""
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["post.*", "target.*"]) as tap,
        lifespan(app),
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("changes"))
        channel = await connect(app, sandbox_url, workspace, network=network)
        extra: dict[str, Any] = {}
        if network == "youtube":
            video = MediaItem(url=f"{sandbox_url}/_sandbox/media/sample.mp4", kind="video")
            extra = {"media": [video], "options": {"title": "Weekly update"}}
        due = post_due(channel=channel, text=f"Launch day on {network}", **extra)
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        [done] = await tap.wait("post.published", seconds=30)
        yield app, tap, channel, workspace, done.data


def edit_of(post: dict[str, Any], channel: dict[str, Any], **changes: str) -> TargetEditRequested:
    return TargetEditRequested(
        post_id=uuid.UUID(post["post_id"]),
        target_id=uuid.UUID(post["target_id"]),
        channel_id=uuid.UUID(channel["id"]),
        network=channel["network"],
        external_id=post["external_id"],
        request_id=uuid.uuid4(),
        **changes,
    )


def delete_of(post: dict[str, Any], channel: dict[str, Any]) -> TargetDeleteRequested:
    return TargetDeleteRequested(
        post_id=uuid.UUID(post["post_id"]),
        target_id=uuid.UUID(post["target_id"]),
        channel_id=uuid.UUID(channel["id"]),
        network=channel["network"],
        external_id=post["external_id"],
        request_id=uuid.uuid4(),
    )


async def answer(tap: Tap, request_id: uuid.UUID) -> dict[str, Any]:
    """The one `target.changed` for the request, once it has come."""
    for _ in range(600):
        found = [e.data for e in tap.of("target.changed")
                 if e.data["request_id"] == str(request_id)]
        if found:
            assert len(found) == 1, found
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no target.changed for {request_id}: {tap.events!r}")


async def handled(app: Any, *envelopes: Envelope) -> None:
    """Waits until the publisher's consumer has taken every one of `envelopes`."""
    wanted = {str(e.id) for e in envelopes}
    table = BUS.processed_messages
    for _ in range(400):
        async with app.state.runtime.sessions() as session:
            seen = set(
                await session.scalars(
                    sa.select(table.c.message_id).where(table.c.message_id.in_(wanted))
                )
            )
        if seen == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the consumer took {seen} of {wanted}")


async def the_post(sandbox_url: str, network: str, channel: dict[str, Any]) -> dict[str, Any]:
    [post] = (await sandbox_posts(sandbox_url, network, channel["external_id"]))["items"]
    return post


@pytest.mark.parametrize("network", EDITABLE)
async def test_a_published_post_is_edited_on_its_network(settings, sandbox_url, network):
    fields = rules_for(network).features.edit_after_publish
    changes = {field: f"Launch day, {field} corrected" for field in fields}
    async with published(settings, sandbox_url, network) as (_, tap, channel, workspace, post):
        before = await the_post(sandbox_url, network, channel)
        assert before["edited_at"] is None
        request = edit_of(post, channel, **changes)
        await send(settings.exchange_name, Envelope.of(request, workspace_id=workspace))
        changed = await answer(tap, request.request_id)
        after = await the_post(sandbox_url, network, channel)
    assert changed["ok"] is True and changed["error"] is None
    assert changed["action"] == "edit"
    assert changed["target_id"] == post["target_id"] and changed["post_id"] == post["post_id"]
    assert after["edited_at"] is not None and after["deleted"] is False
    # The text a reader sees is the new one (YouTube's is the description).
    assert after["text"] == changes.get("text", changes.get("description"))
    if "title" in changes:
        assert after["title"] == changes["title"]


@pytest.mark.parametrize("network", DELETABLE)
async def test_a_published_post_is_deleted_on_its_network(settings, sandbox_url, network):
    async with published(settings, sandbox_url, network) as (_, tap, channel, workspace, post):
        request = delete_of(post, channel)
        await send(settings.exchange_name, Envelope.of(request, workspace_id=workspace))
        changed = await answer(tap, request.request_id)
        after = await the_post(sandbox_url, network, channel)
    assert changed["ok"] is True and changed["error"] is None
    assert changed["action"] == "delete"
    assert after["deleted"] is True


async def test_a_redelivered_request_is_done_once(settings, sandbox_url):
    async with published(settings, sandbox_url, "mastodon") as (app, tap, channel, ws, post):
        request = edit_of(post, channel, text="Launch day, once")
        # The same message twice, and the same request in another message.
        first = Envelope.of(request, workspace_id=ws)
        again = Envelope.of(request, workspace_id=ws)
        await send(settings.exchange_name, first, first, again)
        changed = await answer(tap, request.request_id)
        await handled(app, first, again)
        async with app.state.runtime.sessions() as session:
            rows = list(
                await session.scalars(
                    sa.select(TargetChange).where(TargetChange.target_id == request.target_id)
                )
            )
        after = await the_post(sandbox_url, "mastodon", channel)
    assert changed["ok"] is True
    assert [(r.request_id, r.attempts, r.status) for r in rows] == [
        (request.request_id, 1, "done")
    ]
    assert len(tap.of("target.changed")) == 1
    assert after["text"] == "Launch day, once"


async def test_a_network_refusal_comes_back_as_not_ok(settings, sandbox_url):
    async with published(settings, sandbox_url, "mastodon") as (_, tap, channel, ws, post):
        request = edit_of(post, channel, text="x" * 501)
        await send(settings.exchange_name, Envelope.of(request, workspace_id=ws))
        changed = await answer(tap, request.request_id)
        after = await the_post(sandbox_url, "mastodon", channel)
    assert changed["ok"] is False
    assert "character limit of 500 exceeded" in changed["error"]
    assert after["text"] == "Launch day on mastodon" and after["edited_at"] is None


async def test_what_a_network_does_not_allow_is_refused_with_the_reason(settings, sandbox_url):
    async with published(settings, sandbox_url, "x") as (_, tap, channel, ws, post):
        request = edit_of(post, channel, text="Launch day, edited")
        await send(settings.exchange_name, Envelope.of(request, workspace_id=ws))
        changed = await answer(tap, request.request_id)
        after = await the_post(sandbox_url, "x", channel)
    assert changed["ok"] is False
    assert changed["error"] == "x does not let an author edit a published post"
    assert after["text"] == "Launch day on x" and after["edited_at"] is None


async def test_a_post_already_gone_counts_as_deleted(settings, sandbox_url):
    async with published(settings, sandbox_url, "threads") as (_, tap, channel, ws, post):
        first, second = delete_of(post, channel), delete_of(post, channel)
        await send(settings.exchange_name, Envelope.of(first, workspace_id=ws))
        assert (await answer(tap, first.request_id))["ok"] is True
        await send(settings.exchange_name, Envelope.of(second, workspace_id=ws))
        changed = await answer(tap, second.request_id)
    assert changed["ok"] is True and changed["error"] is None


async def test_a_transient_error_is_retried_until_the_network_answers(settings, sandbox_url):
    async with published(settings, sandbox_url, "x") as (app, tap, channel, ws, post):
        await put_faults(
            sandbox_url,
            {"network": "x", "endpoint": "DELETE /2/tweets/*", "error_rate": 1.0,
             "status": 503, "count": 2},
        )
        request = delete_of(post, channel)
        await send(settings.exchange_name, Envelope.of(request, workspace_id=ws))
        changed = await answer(tap, request.request_id)
        async with app.state.runtime.sessions() as session:
            row = await session.get(TargetChange, request.request_id)
        after = await the_post(sandbox_url, "x", channel)
    assert changed["ok"] is True
    assert row is not None and row.attempts == 3
    assert after["deleted"] is True
