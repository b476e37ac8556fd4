"""Webhooks and polling heard together, once; the network's answer to moderation recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.app import create_app as create_sandbox
from sandbox.settings import SandboxSettings
from shared.events import (
    ChannelSubscriptionChanged,
    CommentModerated,
    FetchedItem,
    InboxFetched,
)
from tests.conftest import identity
from tests.inbox.conftest import Inbox, x_sign
from tests.inbox.test_x_webhooks import ACCOUNT, POST, delivery, tweet
from tests.support.servers import serve


def polled(external_id: str, text: str, parent: str = POST) -> FetchedItem:
    return FetchedItem(
        external_id=external_id,
        kind="comment",
        text=text,
        author_id="1700000000000000001",
        author_name="A Fan",
        created_at=datetime.now(UTC),
        parent_external_id=parent,
        post_external_id=POST,
    )


async def messages(inbox: Inbox) -> list[str]:
    rows = await inbox.fetch(
        "SELECT external_id FROM inbox.messages WHERE direction = 'inbound' ORDER BY external_id"
    )
    return [r["external_id"] for r in rows]


async def test_webhooks_and_polling_together_hear_each_item_once(inbox: Inbox) -> None:
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.publish_post(channel_id=channel_id, network="x", external_id=POST)
    await inbox.wait_for(
        lambda: inbox.fetch("SELECT 1 FROM inbox.published_posts WHERE external_id=$1", POST)
    )
    # First pushed, then found again by a poll (while the subscription was being restored).
    body = delivery(tweet("1800000000000000001", "@brand pushed first"))
    assert (await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))).is_success
    await inbox.wait_for(lambda: _have(inbox, 1))
    # First polled, then pushed late by the network.
    await inbox.publish(
        InboxFetched(
            channel_id=channel_id,
            network="x",
            items=[
                polled("1800000000000000001", "@brand pushed first"),
                polled("1800000000000000002", "@brand polled first"),
            ],
        )
    )
    await inbox.wait_for(lambda: _have(inbox, 2))
    body = delivery(tweet("1800000000000000002", "@brand polled first"))
    assert (await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))).is_success
    await inbox.wait_for(
        lambda: inbox.fetch("SELECT 1 FROM inbox.receipts WHERE processed_at IS NOT NULL OFFSET 1")
    )
    assert await messages(inbox) == ["1800000000000000001", "1800000000000000002"]
    # Two comments on the post, two conversations, each message once.
    assert len(await _items(inbox)) == 2


async def _have(inbox: Inbox, count: int) -> bool:
    return len(await messages(inbox)) >= count


async def test_the_networks_answer_to_moderation_is_recorded(inbox: Inbox) -> None:
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.publish_post(channel_id=channel_id, network="x", external_id=POST)
    await inbox.wait_for(
        lambda: inbox.fetch("SELECT 1 FROM inbox.published_posts WHERE external_id=$1", POST)
    )
    body = delivery(tweet("1800000000000000009", "@brand spam spam"))
    assert (await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))).is_success
    [conversation] = await inbox.wait_for(lambda: _items(inbox))
    headers = identity(inbox.workspace_id)
    detail = (
        await inbox.client.get(f"/v1/conversations/{conversation['id']}", headers=headers)
    ).json()
    message = detail["messages"][0]

    async def ask(action: str) -> uuid.UUID:
        r = await inbox.client.post(
            f"/v1/conversations/{conversation['id']}/messages/{message['id']}/moderation",
            json={"action": action},
            headers=headers,
        )
        assert r.status_code in (200, 202), r.text
        rows = await inbox.fetch(
            "SELECT id FROM inbox.moderations WHERE message_id = $1 "
            "ORDER BY requested_at DESC LIMIT 1",
            uuid.UUID(message["id"]),
        )
        return uuid.UUID(str(rows[0]["id"]))

    async def answer(moderation_id: uuid.UUID, action: str, outcome: str, error: str = "") -> None:
        await inbox.publish(
            CommentModerated(
                moderation_id=moderation_id,
                message_id=uuid.UUID(message["id"]),
                conversation_id=uuid.UUID(conversation["id"]),
                channel_id=channel_id,
                network="x",
                external_id=message["external_id"],
                action=action,  # type: ignore[arg-type]
                outcome=outcome,
                error=error,  # type: ignore[arg-type]
            )
        )

    async def state() -> Any:
        rows = await inbox.fetch(
            "SELECT moderation, error FROM inbox.messages WHERE id = $1", uuid.UUID(message["id"])
        )
        return rows[0]

    hide = await ask("hide")
    assert (await state())["moderation"] == "hide_requested"
    await answer(hide, "hide", "done")
    await inbox.wait_for(lambda: _is(state, "hidden"))
    unhide = await ask("unhide")
    await answer(unhide, "unhide", "failed", "x answered: Forbidden")
    row = await inbox.wait_for(lambda: _is(state, "unhide_failed"))
    assert row["error"] == "x answered: Forbidden"
    # A late answer to the older request does not overwrite the newer one's.
    await answer(hide, "hide", "done")
    await inbox.wait_for(
        lambda: inbox.fetch(
            "SELECT 1 FROM inbox.activity WHERE action = 'moderation.hide.done' OFFSET 1"
        )
    )
    assert (await state())["moderation"] == "unhide_failed"


async def _is(state: Any, value: str) -> Any:
    row = await state()
    return row if row["moderation"] == value else None


async def _items(inbox: Inbox) -> list[Any]:
    return list((await inbox.conversations())["items"])


async def test_a_facebook_mention_of_the_page_reaches_the_inbox(start_inbox, inbox_port) -> None:
    sandbox_settings = SandboxSettings(webhook_base_url=f"http://127.0.0.1:{inbox_port}/hooks")
    async with (
        serve(create_sandbox(sandbox_settings)) as sandbox_url,
        httpx.AsyncClient(base_url=sandbox_url) as sb,
    ):
        app = (await sb.get("/_sandbox/facebook/app")).json()
        account = (await sb.post("/_sandbox/facebook/accounts", json={"name": "Acme"})).json()
        page, token = account["external_id"], account["credentials"]["access_token"]
        async with start_inbox(
            network_apps={"facebook": {"client_secret": app["client_secret"]}}
        ) as inbox:
            await inbox.connect_channel(network="facebook", external_id=page)
            await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
            subscribed = await sb.post(
                f"/facebook/v21.0/{page}/subscribed_apps",
                data={"subscribed_fields": "feed,mention,messages"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert subscribed.json() == {"success": True}
            await sb.post(
                "/_sandbox/facebook/mentions",
                json={"account": page, "text": "Shout out to @Acme!", "author": "Kim"},
            )
            [conversation] = await inbox.wait_for(lambda: _items(inbox))
            assert conversation["kind"] == "mention"
            assert conversation["author"]["name"] == "Kim"


async def test_a_long_conversation_is_read_page_by_page(inbox: Inbox) -> None:
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.publish_post(channel_id=channel_id, network="x", external_id=POST)
    await inbox.wait_for(
        lambda: inbox.fetch("SELECT 1 FROM inbox.published_posts WHERE external_id=$1", POST)
    )
    ids = [f"18000000000000001{i:02d}" for i in range(5)]
    # A back-and-forth: each comment answers the one before, so all five are one thread.
    thread = [polled(i, f"@brand number {i}", ids[n - 1] if n else POST) for n, i in enumerate(ids)]
    await inbox.publish(InboxFetched(channel_id=channel_id, network="x", items=thread))
    await inbox.wait_for(lambda: _have(inbox, 5))
    [conversation] = await _items(inbox)
    headers = identity(inbox.workspace_id)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"messages_limit": 2}
        if cursor:
            params["messages_cursor"] = cursor
        page = (
            await inbox.client.get(
                f"/v1/conversations/{conversation['id']}", params=params, headers=headers
            )
        ).json()
        assert len(page["messages"]) <= 2
        seen += [m["external_id"] for m in page["messages"]]
        pages += 1
        cursor = page["messages_next_cursor"]
        if cursor is None:
            break
    assert seen == ids and pages == 3
    bad = await inbox.client.get(
        f"/v1/conversations/{conversation['id']}",
        params={"messages_cursor": "nope"},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.json()["field"] == "messages_cursor"


async def test_a_failed_subscription_is_polled_until_it_is_back(start_inbox) -> None:
    async with start_inbox(poll_tick_seconds=0.1) as inbox:
        seen = await inbox.spy()
        channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
        await inbox.publish(
            ChannelSubscriptionChanged(
                channel_id=channel_id, network="x", state="failed", error="CRC failed", polled=True
            )
        )
        fetch = await inbox.wait_for(
            lambda: [
                e
                for e in seen
                if e.type == "inbox.fetch" and e.data["channel_id"] == str(channel_id)
            ]
        )
        assert fetch[0].data["network"] == "x"
        await inbox.publish(
            ChannelSubscriptionChanged(
                channel_id=channel_id, network="x", state="active", polled=True
            )
        )
        await inbox.wait_for(lambda: _no_poll_state(inbox, channel_id))


async def _no_poll_state(inbox: Inbox, channel_id: uuid.UUID) -> bool:
    return not await inbox.fetch(
        "SELECT 1 FROM inbox.poll_states WHERE channel_id = $1", channel_id
    )
