"""Bluesky direct messages through the PDS's proxy to the chat service."""

from __future__ import annotations

import httpx

from tests.sandbox.conftest import auth, new_account

PROXY = {"atproto-proxy": "did:web:api.bsky.chat#bsky_chat"}


async def session(client: httpx.AsyncClient) -> tuple[dict, dict[str, str]]:
    acc = await new_account(client, "bluesky")
    creds = acc["credentials"]
    r = await client.post("/bluesky/xrpc/com.atproto.server.createSession",
                          json={"identifier": creds["identifier"], "password": creds["password"]})
    assert r.status_code == 200, r.text
    return acc, {**auth(r.json()["accessJwt"]), **PROXY}


async def test_conversations_messages_and_replies(client: httpx.AsyncClient) -> None:
    acc, h = await session(client)
    for text, author in (("hello?", "Dana"), ("anyone there", "Dana"), ("hi", "Omar")):
        r = await client.post("/_sandbox/bluesky/messages",
                              json={"account": acc["external_id"], "text": text, "author": author})
        assert r.status_code == 201, r.text

    # Without the proxy header the PDS does not know these methods.
    bare = {k: v for k, v in h.items() if k != "atproto-proxy"}
    r = await client.get("/bluesky/xrpc/chat.bsky.convo.listConvos", headers=bare)
    assert r.status_code == 501 and r.json()["error"] == "MethodNotImplemented"

    r = await client.get("/bluesky/xrpc/chat.bsky.convo.listConvos?limit=1", headers=h)
    assert r.status_code == 200, r.text
    first = r.json()
    [omar] = first["convos"]
    assert omar["lastMessage"]["text"] == "hi" and omar["unreadCount"] == 1
    assert {m["did"] for m in omar["members"]} >= {acc["external_id"]}
    r = await client.get(
        f"/bluesky/xrpc/chat.bsky.convo.listConvos?limit=1&cursor={first['cursor']}", headers=h
    )
    [dana] = r.json()["convos"]
    assert "cursor" not in r.json()

    r = await client.get(f"/bluesky/xrpc/chat.bsky.convo.getMessages?convoId={dana['id']}",
                         headers=h)
    messages = r.json()["messages"]
    assert [m["text"] for m in messages] == ["anyone there", "hello?"]
    assert messages[0]["$type"] == "chat.bsky.convo.defs#messageView"
    fan = messages[0]["sender"]["did"]

    # Answering: the conversation with that person, then a message in it.
    r = await client.get(f"/bluesky/xrpc/chat.bsky.convo.getConvoForMembers?members={fan}",
                         headers=h)
    assert r.status_code == 200 and r.json()["convo"]["id"] == dana["id"]
    answer = {"convoId": dana["id"], "message": {"text": "Yes, how can we help?"}}
    r = await client.post("/bluesky/xrpc/chat.bsky.convo.sendMessage", headers=h, json=answer)
    assert r.status_code == 200, r.text
    assert r.json()["sender"]["did"] == acc["external_id"]
    r = await client.get(f"/bluesky/xrpc/chat.bsky.convo.getMessages?convoId={dana['id']}",
                         headers=h)
    assert r.json()["messages"][0]["text"] == "Yes, how can we help?"

    # Refusals, as the chat service gives them.
    too_long = {"convoId": dana["id"], "message": {"text": "x" * 1001}}
    r = await client.post("/bluesky/xrpc/chat.bsky.convo.sendMessage", headers=h, json=too_long)
    assert r.status_code == 400 and r.json()["error"] == "InvalidRequest"
    r = await client.get("/bluesky/xrpc/chat.bsky.convo.getMessages?convoId=nope", headers=h)
    assert r.status_code == 400 and r.json()["message"] == "Convo not found"
    r = await client.get(
        "/bluesky/xrpc/chat.bsky.convo.getConvoForMembers?members=did:plc:nobody", headers=h
    )
    assert r.status_code == 400
