"""The unread filter: new messages make a conversation unread, reading clears it, a reply
from the brand reads it, and the filter combines with the others."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import identity
from tests.inbox.conftest import Inbox
from tests.inbox.test_x_webhooks import ACCOUNT
from tests.inbox.x_comments import ids, of_size, send


async def test_unread_filter_follows_new_messages_reading_and_replies(inbox: Inbox) -> None:
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    await send(inbox, "1800000000000000401", "first question", author="1700000000000000401")
    await send(inbox, "1800000000000000402", "second question", author="1700000000000000402")
    both = await inbox.wait_for(lambda: of_size(ids(inbox), 2))
    assert await ids(inbox, unread="true") == both
    assert await ids(inbox, unread="false") == set()
    first, second = sorted(both)
    owner = identity(inbox.workspace_id)

    r = await inbox.client.patch(f"/v1/conversations/{first}", json={"read": True}, headers=owner)
    assert r.status_code == 200, r.text
    assert r.json()["unread"] is False
    assert await ids(inbox, unread="true") == {second}
    assert await ids(inbox, unread="false") == {first}

    # The person writes again in the thread that was read: unread again.
    [root] = await inbox.fetch(
        "SELECT external_id FROM inbox.messages WHERE conversation_id = $1::uuid", first
    )
    await send(
        inbox,
        "1800000000000000403",
        "still waiting",
        reply_to=root["external_id"],
        author="1700000000000000401",
    )
    await inbox.wait_for(lambda: _has(ids(inbox, unread="true"), first))

    # Answering a thread reads it; marking unread brings it back.
    r = await inbox.client.post(
        f"/v1/conversations/{second}/replies", json={"text": "On it"}, headers=owner
    )
    assert r.status_code == 202
    assert await ids(inbox, unread="true") == {first}
    r = await inbox.client.patch(f"/v1/conversations/{second}", json={"read": False}, headers=owner)
    assert r.json()["unread"] is True
    assert await ids(inbox, unread="true") == both
    # Combined with the other filters.
    assert await ids(inbox, unread="true", status="resolved") == set()
    assert await ids(inbox, unread="true", channel_id=str(channel_id)) == both
    assert await ids(inbox, channel_id=str(uuid.uuid4())) == set()


async def _has(coro: Any, item: str) -> bool:
    return item in await coro
