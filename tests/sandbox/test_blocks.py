"""Blocking a person through the networks' own APIs, and their refusals."""

from __future__ import annotations

import httpx

from tests.sandbox.conftest import auth, new_account


async def test_mastodon_block_is_idempotent_and_listed(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "mastodon")
    h = auth(acc["credentials"]["access_token"])
    await client.post("/_sandbox/mastodon/messages",
                      json={"account": acc["external_id"], "text": "spam"})
    [note] = (await client.get("/mastodon/api/v1/notifications", headers=h)).json()
    person = note["account"]["id"]
    for _ in range(2):
        r = await client.post(f"/mastodon/api/v1/accounts/{person}/block", headers=h)
        assert r.status_code == 200 and r.json()["blocking"] is True
    assert [a["id"] for a in (await client.get("/mastodon/api/v1/blocks", headers=h)).json()] == [
        person
    ]
    r = await client.post("/mastodon/api/v1/accounts/404404/block", headers=h)
    assert r.status_code == 404 and r.json() == {"error": "Record not found"}


async def test_x_blocking_needs_the_scope_and_the_callers_own_id(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "x")
    me, h = acc["external_id"], auth(acc["credentials"]["access_token"])
    await client.post("/_sandbox/x/messages", json={"account": me, "text": "spam"})
    [event] = (await client.get("/x/2/dm_events", headers=h)).json()["data"]
    person = event["sender_id"]
    r = await client.post(f"/x/2/users/{person}/blocking", headers=h,
                          json={"target_user_id": me})
    assert r.status_code == 403
    r = await client.post(f"/x/2/users/{me}/blocking", headers=h, json={"target_user_id": "1"})
    assert r.status_code == 400
    r = await client.post(f"/x/2/users/{me}/blocking", headers=h, json={"target_user_id": person})
    assert r.status_code == 200 and r.json() == {"data": {"blocking": True}}
    listed = (await client.get(f"/x/2/users/{me}/blocking", headers=h)).json()
    assert [u["id"] for u in listed["data"]] == [person]


async def test_bluesky_block_record(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "bluesky")
    creds = acc["credentials"]
    session = (await client.post("/bluesky/xrpc/com.atproto.server.createSession",
                                 json={"identifier": creds["identifier"],
                                       "password": creds["password"]})).json()
    h = auth(session["accessJwt"])
    record = {"$type": "app.bsky.graph.block", "subject": "did:plc:spammer",
              "createdAt": "2026-12-04T10:00:00.000Z"}
    body = {"repo": creds["did"], "collection": "app.bsky.graph.block", "rkey": "3kblockaaaa22",
            "record": record}
    r = await client.post("/bluesky/xrpc/com.atproto.repo.createRecord", headers=h, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["uri"] == f"at://{creds['did']}/app.bsky.graph.block/3kblockaaaa22"
    again = await client.post("/bluesky/xrpc/com.atproto.repo.createRecord", headers=h, json=body)
    assert again.status_code == 400 and "already exists" in again.json()["message"]
    bad = {**body, "rkey": "3kblockaaaa23", "record": {**record, "subject": "spammer"}}
    r = await client.post("/bluesky/xrpc/com.atproto.repo.createRecord", headers=h, json=bad)
    assert r.status_code == 400
    listed = await client.get("/bluesky/xrpc/com.atproto.repo.listRecords",
                              params={"repo": creds["did"], "collection": "app.bsky.graph.block"})
    assert [rec["value"]["subject"] for rec in listed.json()["records"]] == ["did:plc:spammer"]
