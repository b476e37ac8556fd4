"""Blocking an author as a moderation action: asked of the publisher where the network allows
it, refused with the network's reason elsewhere, the answer kept and audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.events import CommentModerated, FetchedItem, InboxFetched
from tests.conftest import identity
from tests.inbox.conftest import Inbox
from tests.inbox.test_handling import of_type


async def dm_from(inbox: Inbox, network: str, account: str, author: str) -> dict[str, Any]:
    """A polled direct message on `network`; returns its conversation with the message."""
    channel_id = await inbox.connect_channel(network=network, external_id=account)
    await inbox.wait_for(
        lambda: inbox.fetch("SELECT 1 FROM inbox.channels WHERE channel_id = $1", channel_id)
    )
    item = FetchedItem(external_id=f"{network}-dm-1", kind="dm", text="buy cheap followers",
                       author_id=author, author_name="Spammer", created_at=datetime.now(UTC))
    await inbox.publish(InboxFetched(channel_id=channel_id, network=network, items=[item]))

    async def conversation() -> dict[str, Any] | None:
        page = await inbox.conversations(network=network)
        if not page["items"]:
            return None
        r = await inbox.client.get(f"/v1/conversations/{page['items'][0]['id']}",
                                   headers=identity(inbox.workspace_id))
        return dict(r.json())

    found = await inbox.wait_for(conversation)
    assert found is not None
    return found


async def test_block_the_author_where_the_network_allows_it(inbox: Inbox) -> None:
    owner = identity(inbox.workspace_id)
    seen = await inbox.spy()
    mastodon = await dm_from(inbox, "mastodon", "109000000000000777", "fan-42")
    [message] = mastodon["messages"]
    url = f"/v1/conversations/{mastodon['id']}/messages/{message['id']}/moderation"

    r = await inbox.client.post(url, json={"action": "block"}, headers=owner)
    assert r.status_code == 202, r.text
    assert r.json()["moderation"] == "block_requested"
    [asked] = await inbox.wait_for(lambda: of_type(seen, "comment.moderation_requested"))
    assert asked.data["action"] == "block" and asked.data["author_id"] == "fan-42"
    assert asked.data["network"] == "mastodon"

    # The publisher's answer: kept on the message, and in the audit log.
    await inbox.publish(CommentModerated(
        moderation_id=asked.data["moderation_id"], message_id=message["id"],
        conversation_id=mastodon["id"], channel_id=asked.data["channel_id"],
        network="mastodon", external_id=asked.data["external_id"], action="block",
        outcome="done", requested_by=asked.data["requested_by"], author_id="fan-42",
    ))

    async def blocked() -> dict[str, Any] | None:
        r = await inbox.client.get(f"/v1/conversations/{mastodon['id']}", headers=owner)
        got = r.json()["messages"][0]
        return got if got["moderation"] == "author_blocked" else None

    await inbox.wait_for(blocked)

    def answered() -> list[Any] | None:
        entries = [e for e in of_type(seen, "audit.recorded")
                   if e.data["action"] == "message.moderation_answered"]
        return entries or None

    [entry] = await inbox.wait_for(answered)
    assert entry.data["resource_id"] == message["id"]
    assert entry.data["details"]["moderation"] == "block"
    assert entry.data["details"]["outcome"] == "done"
    assert entry.data["actor"] == "system:inbox"


async def test_block_is_refused_with_the_reason_where_the_network_has_none(inbox: Inbox) -> None:
    owner = identity(inbox.workspace_id)
    youtube = await dm_from(inbox, "youtube", "UC-channel-1", "UC-fan-7")
    [message] = youtube["messages"]
    url = f"/v1/conversations/{youtube['id']}/messages/{message['id']}/moderation"
    r = await inbox.client.post(url, json={"action": "block"}, headers=owner)
    assert r.status_code == 409
    assert r.json()["field"] == "action" and "YouTube Data API" in r.json()["detail"]
    r = await inbox.client.get(f"/v1/conversations/{youtube['id']}", headers=owner)
    assert r.json()["messages"][0]["moderation"] is None
    # A message that is not in this conversation is not found.
    r = await inbox.client.post(url.replace(message["id"], str(uuid.uuid4())),
                                json={"action": "block"}, headers=owner)
    assert r.status_code == 404
