"""Assignees are members of the workspace, as the gateway's member events say."""

from __future__ import annotations

import uuid
from typing import Any

from shared.events import MemberAdded, MemberRemoved
from tests.conftest import identity
from tests.inbox.conftest import Inbox, x_sign
from tests.inbox.test_x_webhooks import ACCOUNT, delivery, tweet


async def add_member(inbox: Inbox, email: str) -> str:
    """A member of the inbox's workspace, known to the inbox; returns their id."""
    member_id = uuid.uuid4()
    await inbox.publish(MemberAdded(member_id=member_id, email=email, role="editor"))
    await inbox.wait_for(
        lambda: inbox.fetch(
            "SELECT 1 FROM inbox.members WHERE member_id = $1 AND NOT removed", member_id
        )
    )
    return str(member_id)


async def one_conversation(inbox: Inbox) -> str:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    body = delivery(tweet("1800000000000000701", "Where is my order?"))
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200, r.text

    async def first() -> list[dict[str, Any]]:
        return (await inbox.conversations())["items"]

    [conversation] = await inbox.wait_for(first)
    return str(conversation["id"])


async def test_only_members_are_assigned_and_reassigning_is_announced(inbox: Inbox) -> None:
    cid = await one_conversation(inbox)
    owner = identity(inbox.workspace_id)
    seen = await inbox.spy()
    dana = await add_member(inbox, "dana@example.com")
    omar = await add_member(inbox, "omar@example.com")
    url = f"/v1/conversations/{cid}"

    # Free text, an unknown id, a member of another workspace: refused, nothing changed.
    stranger = uuid.uuid4()
    await inbox.publish(
        MemberAdded(member_id=stranger, email="eve@example.com", role="owner"),
        workspace_id=uuid.uuid4(),
    )
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.members WHERE member_id = $1",
                                             stranger))
    for bad in ("dana", str(uuid.uuid4()), str(stranger)):
        r = await inbox.client.patch(url, json={"assignee": bad, "status": "resolved"},
                                     headers=owner)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "assignee"
    r = await inbox.client.get(url, headers=owner)
    assert r.json()["assignee"] is None and r.json()["status"] == "open"

    r = await inbox.client.patch(url, json={"assignee": dana}, headers=owner)
    assert r.status_code == 200, r.text
    assert r.json()["assignee"] == dana
    r = await inbox.client.patch(url, json={"assignee": omar}, headers=owner)
    assert r.status_code == 200, r.text

    def assigned() -> list[Any] | None:
        found = [e for e in seen if e.type == "conversation.assigned"]
        return found if len(found) == 2 else None

    first, second = await inbox.wait_for(assigned)
    assert (first.data["assignee"], second.data["assignee"]) == (dana, omar)
    assert str(second.data["conversation_id"]) == cid

    # A removed member can no longer be assigned.
    await inbox.publish(MemberRemoved(member_id=uuid.UUID(dana)))
    await inbox.wait_for(
        lambda: inbox.fetch("SELECT 1 FROM inbox.members WHERE member_id = $1 AND removed",
                            uuid.UUID(dana))
    )
    r = await inbox.client.patch(url, json={"assignee": dana}, headers=owner)
    assert r.status_code == 422 and r.json()["field"] == "assignee"


async def test_a_removal_that_arrives_first_stays(inbox: Inbox) -> None:
    member_id = uuid.uuid4()
    await inbox.publish(MemberRemoved(member_id=member_id))
    await inbox.wait_for(
        lambda: inbox.fetch("SELECT 1 FROM inbox.members WHERE member_id = $1", member_id)
    )
    await inbox.publish(MemberAdded(member_id=member_id, email="late@example.com", role="editor"))
    [row] = await inbox.wait_for(
        lambda: inbox.fetch(
            "SELECT removed FROM inbox.members WHERE email = 'late@example.com'"
        )
    )
    assert row["removed"] is True
