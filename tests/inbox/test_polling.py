"""Polling for networks without push: `inbox.fetch` on a cadence, `inbox.fetched` ingested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.inbox.polling import request_due_fetches
from shared.db import unit_of_work
from shared.events import FetchedItem, InboxFetched
from tests.conftest import identity
from tests.inbox.conftest import Inbox

ACCOUNT = "109000000000000001"


async def wait_polls(inbox: Inbox) -> None:
    queue = inbox.settings.queue_name("polls")
    await inbox.wait_for(lambda: inbox.app.state.runtime.bus.consuming.get(queue))


async def poll_state(inbox: Inbox) -> Any:
    rows = await inbox.fetch("SELECT * FROM inbox.poll_states")
    return rows[0] if rows else None


async def due(inbox: Inbox, now: datetime) -> int:
    runtime = inbox.app.state.runtime
    async with unit_of_work(runtime.sessions) as session:
        return await request_due_fetches(
            session, outbox=runtime.outbox, now=now, fresh_interval=timedelta(minutes=1),
            stale_interval=timedelta(minutes=15), post_window=timedelta(days=7), batch=100,
        )


async def test_cadence_is_tighter_while_a_post_is_fresh(start_inbox) -> None:
    # The loop looks once at start, then sleeps: the test drives time itself.
    async with start_inbox(poll_tick_seconds=3600) as inbox:
        seen = await inbox.spy()
        channel_id = await inbox.connect_channel(network="mastodon", external_id=ACCOUNT)
        await inbox.connect_channel(network="x", external_id="x-is-pushed-not-polled")
        state = await inbox.wait_for(lambda: poll_state(inbox))
        assert state["channel_id"] == channel_id and state["network"] == "mastodon"

        t0 = datetime.now(UTC) + timedelta(seconds=1)
        assert await due(inbox, t0) == 1
        state = await poll_state(inbox)
        assert state["next_poll_at"] == t0 + timedelta(minutes=15)  # no fresh post: slow
        assert await due(inbox, t0 + timedelta(minutes=14)) == 0

        published = datetime.now(UTC)
        await inbox.publish_post(channel_id=channel_id, network="mastodon",
                                 external_id="111222333")
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.polled_posts"))
        state = await poll_state(inbox)
        assert abs(state["fresh_until"] - (published + timedelta(hours=24))) < timedelta(
            seconds=5)
        # A new post does not wait out the slow cadence chosen before it existed.
        t1 = datetime.now(UTC) + timedelta(seconds=1)
        assert await due(inbox, t1) == 1
        assert (await poll_state(inbox))["next_poll_at"] == t1 + timedelta(minutes=1)
        assert await due(inbox, t1 + timedelta(minutes=1)) == 1
        # A day later the post is no longer fresh: back to every 15 minutes.
        t2 = t1 + timedelta(hours=25)
        assert await due(inbox, t2) == 1
        assert (await poll_state(inbox))["next_poll_at"] == t2 + timedelta(minutes=15)

        fetches = await inbox.wait_for(
            lambda: len([e for e in seen if e.type == "inbox.fetch"]) >= 4 and
            [e for e in seen if e.type == "inbox.fetch"])
        assert {e.data["channel_id"] for e in fetches} == {str(channel_id)}
        assert fetches[0].data["post_external_ids"] == []
        assert fetches[1].data["post_external_ids"] == ["111222333"]
        assert all(e.workspace_id == inbox.workspace_id for e in fetches)


def fetched_items(post: str) -> list[FetchedItem]:
    now = datetime.now(UTC)
    return [
        FetchedItem(external_id="9001", kind="comment", text="Love this, thank you!",
                    author_id="fan1", author_name="Fan One", created_at=now,
                    parent_external_id=post, post_external_id=post,
                    raw={"acct": "fan1@example.social"}),
        FetchedItem(external_id="9002", kind="comment", text="Agreed", author_id="fan2",
                    created_at=now + timedelta(seconds=1), parent_external_id="9001",
                    post_external_id=post),
        FetchedItem(external_id="9003", kind="mention", text="@brand hello", author_id="fan3",
                    created_at=now),
        FetchedItem(external_id="9004", kind="dm", text="Where is my order?",
                    author_id="fan4", created_at=now),
        FetchedItem(external_id="9005", kind="mention", text="our own status echoed",
                    author_id=ACCOUNT, created_at=now),
    ]


async def test_fetched_items_become_conversations_once_and_cursor_is_kept(start_inbox) -> None:
    async with start_inbox(poll_tick_seconds=0.1) as inbox:
        await wait_polls(inbox)
        seen = await inbox.spy()
        channel_id = await inbox.connect_channel(network="mastodon", external_id=ACCOUNT)
        post_id = await inbox.publish_post(channel_id=channel_id, network="mastodon",
                                           external_id="5000")
        # The live loop asks at once for a new polled channel.
        await inbox.wait_for(lambda: [e for e in seen if e.type == "inbox.fetch"])
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.published_posts"))

        fetched = InboxFetched(channel_id=channel_id, network="mastodon",
                               items=fetched_items("5000"), cursor="notif-777")
        await inbox.publish(fetched)
        await inbox.publish(fetched)  # a second delivery (another envelope id) of the same

        async def three() -> Any:
            items = (await inbox.conversations())["items"]
            return items if len(items) == 3 else None

        conversations = await inbox.wait_for(three)
        by_kind = {c["kind"]: c for c in conversations}
        assert by_kind["comment"]["post_id"] == str(post_id)
        assert by_kind["comment"]["author"]["handle"] == "fan1@example.social"
        assert by_kind["dm"]["author"]["id"] == "fan4"
        await inbox.publish(InboxFetched(channel_id=channel_id, network="mastodon",
                                         items=fetched_items("5000")))
        state = await inbox.wait_for(
            lambda: _with_cursor(inbox))
        assert state["last_fetched_at"] is not None
        rows = await inbox.fetch("SELECT external_id FROM inbox.messages ORDER BY external_id")
        assert [r["external_id"] for r in rows] == ["9001", "9002", "9003", "9004"]
        detail = await inbox.client.get(
            f"/v1/conversations/{by_kind['comment']['id']}",
            headers=identity(inbox.workspace_id))
        assert [m["external_id"] for m in detail.json()["messages"]] == ["9001", "9002"]
        # The cursor goes back to the publisher with the next request.
        runtime = inbox.app.state.runtime
        async with unit_of_work(runtime.sessions) as session:
            await request_due_fetches(
                session, outbox=runtime.outbox, now=datetime.now(UTC) + timedelta(hours=1),
                fresh_interval=timedelta(minutes=1), stale_interval=timedelta(minutes=15),
                post_window=timedelta(days=7), batch=10)
        await inbox.wait_for(
            lambda: [e for e in seen if e.type == "inbox.fetch"
                     and e.data["cursor"] == "notif-777"])


async def _with_cursor(inbox: Inbox) -> Any:
    state = await poll_state(inbox)
    return state if state and state["cursor"] == "notif-777" else None


async def _with_cursor(inbox: Inbox) -> Any:
    state = await poll_state(inbox)
    return state if state and state["cursor"] == "notif-777" else None
