"""The team at work: replies round-tripping through the bus, status, assignment, tags, notes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from shared.events import Envelope, ReplyFailed, ReplySent
from tests.conftest import identity
from tests.inbox.conftest import Inbox, x_sign
from tests.inbox.test_members import add_member
from tests.inbox.test_x_webhooks import ACCOUNT, POST, delivery, tweet


def of_type(seen: list[Envelope], kind: str) -> list[Envelope]:
    return [e for e in seen if e.type == kind]


async def detail(inbox: Inbox, conversation_id: str) -> dict[str, Any]:
    r = await inbox.client.get(f"/v1/conversations/{conversation_id}",
                               headers=identity(inbox.workspace_id))
    assert r.status_code == 200, r.text
    return r.json()


async def test_reply_round_trip_status_assignment_tags_and_notes(inbox: Inbox) -> None:
    channel_id = await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    body = delivery(tweet("1800000000000000201", "How do I reset my password?"))
    await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))

    async def first() -> list[dict[str, Any]]:
        return (await inbox.conversations())["items"]

    [conversation] = await inbox.wait_for(first)
    cid = conversation["id"]
    seen = await inbox.spy()
    owner = identity(inbox.workspace_id)
    dana = await add_member(inbox, "dana@example.com")

    r = await inbox.client.post(f"/v1/conversations/{cid}/replies",
                                json={"text": "Settings → Security → Reset."}, headers=owner)
    assert r.status_code == 202, r.text
    reply = r.json()
    assert reply["direction"] == "outbound" and reply["delivery_status"] == "sending"
    [requested] = await inbox.wait_for(lambda: of_type(seen, "reply.requested"))
    assert requested.workspace_id == inbox.workspace_id
    assert requested.data["reply_id"] == reply["id"]
    assert requested.data["in_reply_to"] == "1800000000000000201"
    assert requested.data["root_id"] == POST
    assert requested.data["network"] == "x" and requested.data["kind"] == "comment"

    sent_at = datetime.now(UTC)
    await inbox.publish(ReplySent(reply_id=reply["id"], conversation_id=cid,
                                  channel_id=channel_id, external_id="1800000000000000299",
                                  sent_at=sent_at))

    async def delivered() -> dict[str, Any] | None:
        got = await detail(inbox, cid)
        out = [m for m in got["messages"] if m["direction"] == "outbound"]
        return got if out and out[0]["delivery_status"] == "sent" else None

    got = await inbox.wait_for(delivered)
    assert got["first_response_at"] is not None
    [replied] = await inbox.wait_for(lambda: of_type(seen, "conversation.replied"))
    assert replied.data["first_response_seconds"] > 0

    r = await inbox.client.patch(
        f"/v1/conversations/{cid}",
        json={"status": "resolved", "assignee": dana, "tags": ["support", "support", "login"],
              "priority": "high"},
        headers=owner,
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["status"] == "resolved" and patched["assignee"] == dana
    assert patched["tags"] == ["support", "login"] and patched["priority"] == "high"
    assert patched["resolved_at"] is not None
    await inbox.wait_for(lambda: of_type(seen, "conversation.resolved"))
    [assigned] = await inbox.wait_for(lambda: of_type(seen, "conversation.assigned"))
    assert assigned.data["assignee"] == dana
    assert (await inbox.conversations(tag="login"))["items"]
    assert (await inbox.conversations(assignee=dana, status="resolved"))["items"]

    # Leaving "assignee" out keeps it; an explicit null unassigns.
    r = await inbox.client.patch(f"/v1/conversations/{cid}", json={"tags": []}, headers=owner)
    assert r.json()["assignee"] == dana and r.json()["tags"] == []
    r = await inbox.client.patch(f"/v1/conversations/{cid}", json={"assignee": None},
                                 headers=owner)
    assert r.json()["assignee"] is None
    bad = await inbox.client.patch(f"/v1/conversations/{cid}", json={"status": "closed"},
                                   headers=owner)
    assert bad.status_code == 422

    # Each change is in the audit log with who made it; the refused one records nothing.
    def audited() -> list[tuple[str, dict[str, Any]]] | None:
        entries = [(e.data["action"], e.data["details"])
                   for e in of_type(seen, "audit.recorded")]
        return entries if len(entries) >= 4 else None

    entries = await inbox.wait_for(audited)
    assert entries == [
        ("conversation.replied", {"message_id": reply["id"]}),
        ("conversation.assigned", {"status": "resolved", "assignee": dana,
                                   "tags": ["support", "support", "login"],
                                   "priority": "high"}),
        ("conversation.updated", {"tags": []}),
        ("conversation.assigned", {"assignee": None}),
    ]
    for envelope in of_type(seen, "audit.recorded"):
        assert envelope.workspace_id == inbox.workspace_id
        assert (envelope.data["actor"], envelope.data["service"]) == ("key-owner", "inbox")
        assert envelope.data["resource_id"] == cid

    r = await inbox.client.post(f"/v1/conversations/{cid}/notes",
                                json={"text": "Customer is a VIP"}, headers=owner)
    assert r.status_code == 201
    assert [n["text"] for n in (await detail(inbox, cid))["notes"]] == ["Customer is a VIP"]

    analyst = identity(inbox.workspace_id, role="analyst")
    r = await inbox.client.patch(f"/v1/conversations/{cid}", json={"status": "open"},
                                 headers=analyst)
    assert r.status_code == 403
    r = await inbox.client.post(f"/v1/conversations/{cid}/replies", json={"text": "hi"},
                                headers=analyst)
    assert r.status_code == 403

    actions = await inbox.fetch("SELECT actor, action FROM inbox.activity ORDER BY id")
    assert {a["actor"] for a in actions} == {"key-owner"}
    assert [a["action"] for a in actions][:2] == ["replied", "updated"]

    # A failed second reply is marked failed with the reason.
    r = await inbox.client.post(f"/v1/conversations/{cid}/replies", json={"text": "Anything else?"},
                                headers=owner)
    second = r.json()
    await inbox.publish(ReplyFailed(reply_id=second["id"], conversation_id=cid,
                                    channel_id=channel_id, error_class="rate_limited",
                                    error="429 from X"))

    async def failed() -> bool:
        got = await detail(inbox, cid)
        return any(m["id"] == second["id"] and m["delivery_status"] == "failed"
                   for m in got["messages"])

    await inbox.wait_for(failed)

    # The person answers our reply: same conversation, and it is open again.
    answer = tweet("1800000000000000202", "thanks, that worked",
                   reply_to="1800000000000000299")
    body = orjson.dumps({"for_user_id": ACCOUNT, "tweet_create_events": [answer]})
    await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))

    async def reopened() -> bool:
        got = await detail(inbox, cid)
        return got["status"] == "open" and len(got["messages"]) == 4

    await inbox.wait_for(reopened)
    assert len((await inbox.conversations())["items"]) == 1
