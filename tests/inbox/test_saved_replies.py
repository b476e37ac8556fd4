"""Saved replies with variables, used in a reply; hiding and deleting comments."""

from __future__ import annotations

from typing import Any

from tests.conftest import identity
from tests.inbox.conftest import Inbox, x_sign
from tests.inbox.test_handling import of_type
from tests.inbox.test_x_webhooks import ACCOUNT, delivery, tweet


async def one_conversation(inbox: Inbox, text: str) -> dict[str, Any]:
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    body = delivery(tweet("1800000000000000301", text))
    await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))

    async def first() -> list[dict[str, Any]]:
        return (await inbox.conversations())["items"]

    [conversation] = await inbox.wait_for(first)
    return conversation


async def test_saved_reply_crud_and_use_with_variables(inbox: Inbox) -> None:
    owner = identity(inbox.workspace_id)
    r = await inbox.client.post("/v1/saved-replies", headers=owner, json={
        "name": "thanks", "text": "Thanks {author}, dear {customer} {not a variable}."})
    assert r.status_code == 422 and "{customer}" in r.text
    r = await inbox.client.post("/v1/saved-replies", headers=owner, json={
        "name": "thanks", "text": "Thanks {author}! — the {channel} team on {network}"})
    assert r.status_code == 201, r.text
    saved = r.json()
    r = await inbox.client.post("/v1/saved-replies", headers=owner,
                                json={"name": "thanks", "text": "again"})
    assert r.status_code == 409
    r = await inbox.client.patch(f"/v1/saved-replies/{saved['id']}", headers=owner,
                                 json={"text": "Thanks {author}! — the {channel} team, {agent}"})
    assert r.status_code == 200 and r.json()["text"].endswith("{agent}")
    listed = (await inbox.client.get("/v1/saved-replies", headers=owner)).json()
    assert [s["name"] for s in listed["items"]] == ["thanks"]
    assert "author" in listed["variables"]
    other = identity("00000000-0000-0000-0000-000000000001")
    assert (await inbox.client.get(f"/v1/saved-replies/{saved['id']}",
                                   headers=other)).status_code == 404
    r = await inbox.client.post("/v1/saved-replies", headers=identity(inbox.workspace_id,
                                                                      "analyst"),
                                json={"name": "x", "text": "y"})
    assert r.status_code == 403

    conversation = await one_conversation(inbox, "Does this work on Android?")
    seen = await inbox.spy()
    r = await inbox.client.post(f"/v1/conversations/{conversation['id']}/replies",
                                headers=owner, json={"saved_reply_id": saved["id"]})
    assert r.status_code == 202, r.text
    assert r.json()["text"] == f"Thanks A Fan! — the x {ACCOUNT} team, key-owner"
    [requested] = await inbox.wait_for(lambda: of_type(seen, "reply.requested"))
    assert requested.data["text"] == r.json()["text"]
    r = await inbox.client.post(f"/v1/conversations/{conversation['id']}/replies",
                                headers=owner, json={"saved_reply_id": saved["id"], "text": "a"})
    assert r.status_code == 422

    assert (await inbox.client.delete(f"/v1/saved-replies/{saved['id']}",
                                      headers=owner)).status_code == 204
    assert (await inbox.client.get(f"/v1/saved-replies/{saved['id']}",
                                   headers=owner)).status_code == 404


async def test_hide_a_comment_emits_a_moderation_request(inbox: Inbox) -> None:
    conversation = await one_conversation(inbox, "buy followers cheap at spam.example")
    owner = identity(inbox.workspace_id)
    detail = (await inbox.client.get(f"/v1/conversations/{conversation['id']}",
                                     headers=owner)).json()
    [message] = detail["messages"]
    seen = await inbox.spy()
    url = f"/v1/conversations/{conversation['id']}/messages/{message['id']}/moderation"
    r = await inbox.client.post(url, headers=identity(inbox.workspace_id, "analyst"),
                                json={"action": "hide"})
    assert r.status_code == 403
    # X lets an account hide replies, not delete other people's tweets.
    r = await inbox.client.post(url, headers=owner, json={"action": "delete"})
    assert r.status_code == 409
    r = await inbox.client.post(url, headers=owner, json={"action": "hide"})
    assert r.status_code == 202, r.text
    assert r.json()["moderation"] == "hide_requested"
    [event] = await inbox.wait_for(lambda: of_type(seen, "comment.moderation_requested"))
    assert event.data["external_id"] == "1800000000000000301"
    assert event.data["action"] == "hide" and event.data["network"] == "x"
    assert event.data["requested_by"] == "key-owner"
    activity = await inbox.fetch("SELECT actor, action FROM inbox.activity")
    assert [(a["actor"], a["action"]) for a in activity] == [("key-owner", "moderation.hide")]
