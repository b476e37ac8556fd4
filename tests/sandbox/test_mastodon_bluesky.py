from __future__ import annotations

import httpx

from tests.sandbox.conftest import auth, new_account


async def test_mastodon_publish_idempotency_and_notifications(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "mastodon")
    creds = acc["credentials"]
    assert creds["instance_url"] == "http://sandbox.test/mastodon"
    h = auth(creds["access_token"])
    me = (await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=h)).json()
    assert me["id"] == acc["external_id"]
    inst = (await client.get("/mastodon/api/v1/instance")).json()
    assert inst["configuration"]["statuses"]["max_characters"] == 500
    assert inst["configuration"]["statuses"]["characters_reserved_per_url"] == 23

    image = (await client.get("/_sandbox/media/sample.png")).content
    media = await client.post("/mastodon/api/v2/media", headers=h,
                              files={"file": ("a.png", image, "image/png")},
                              data={"description": "blue square"})
    assert media.status_code == 200
    key = {"Idempotency-Key": "k-1", **h}
    first = await client.post("/mastodon/api/v1/statuses", headers=key,
                              data={"status": "toot", "media_ids[]": media.json()["id"]})
    second = await client.post("/mastodon/api/v1/statuses", headers=key,
                               data={"status": "toot", "media_ids[]": media.json()["id"]})
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["media_attachments"][0]["description"] == "blue square"
    listing = (await client.get(f"/_sandbox/mastodon/posts?account={acc['external_id']}")).json()
    assert len(listing["items"]) == 1 and listing["duplicates"] == 0

    # Mastodon has no duplicate check of its own: a retry without a key posts twice.
    await client.post("/mastodon/api/v1/statuses", headers=h, json={"status": "again"})
    await client.post("/mastodon/api/v1/statuses", headers=h, json={"status": "again"})
    listing = (await client.get(f"/_sandbox/mastodon/posts?account={acc['external_id']}")).json()
    assert listing["duplicates"] == 1

    long = await client.post("/mastodon/api/v1/statuses", headers=h, json={"status": "x" * 501})
    assert long.status_code == 422 and "error" in long.json()

    status_id = first.json()["id"]
    for i in range(3):
        await client.post(f"/_sandbox/mastodon/posts/{status_id}/comments",
                          json={"text": f"reply {i}", "author": "Fan"})
    await client.post("/_sandbox/mastodon/messages",
                      json={"account": acc["external_id"], "text": "psst"})
    page = await client.get("/mastodon/api/v1/notifications?types[]=mention&limit=2",
                            headers=h)
    items = page.json()
    assert len(items) == 2 and items[0]["status"]["visibility"] == "direct"
    assert 'rel="next"' in page.headers["link"]
    next_url = page.headers["link"].split(">")[0].lstrip("<").replace("http://sandbox.test", "")
    rest = (await client.get(next_url, headers=h)).json()
    assert [n["status"]["in_reply_to_id"] for n in rest] == [status_id, status_id]
    status = (await client.get(f"/mastodon/api/v1/statuses/{status_id}", headers=h)).json()
    assert status["replies_count"] == 3

    bad = await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=auth("x"))
    assert bad.status_code == 401 and bad.json() == {"error": "The access token is invalid"}


async def _session(client: httpx.AsyncClient) -> tuple[dict, dict]:
    acc = await new_account(client, "bluesky")
    creds = acc["credentials"]
    resp = await client.post("/bluesky/xrpc/com.atproto.server.createSession",
                             json={"identifier": creds["identifier"],
                                   "password": creds["password"]})
    assert resp.status_code == 200, resp.text
    return acc, resp.json()


async def test_bluesky_session_post_rkey_and_notifications(client: httpx.AsyncClient) -> None:
    acc, session = await _session(client)
    h = auth(session["accessJwt"])
    me = (await client.get("/bluesky/xrpc/com.atproto.server.getSession", headers=h)).json()
    assert me["did"] == acc["external_id"] == session["did"]

    image = (await client.get("/_sandbox/media/sample.jpg")).content
    blob = (await client.post("/bluesky/xrpc/com.atproto.repo.uploadBlob", content=image,
                              headers={**h, "Content-Type": "image/jpeg"})).json()["blob"]
    record = {"$type": "app.bsky.feed.post", "text": "hello sky",
              "createdAt": "2026-01-01T00:00:00Z",
              "embed": {"$type": "app.bsky.embed.images",
                        "images": [{"image": blob, "alt": "grey"}]}}
    body = {"repo": session["did"], "collection": "app.bsky.feed.post", "rkey": "3kabc",
            "record": record}
    first = await client.post("/bluesky/xrpc/com.atproto.repo.createRecord", json=body,
                              headers=h)
    assert first.status_code == 200
    uri = first.json()["uri"]
    again = await client.post("/bluesky/xrpc/com.atproto.repo.createRecord", json=body,
                              headers=h)
    assert again.status_code == 400 and again.json()["error"] == "InvalidRequest"
    listing = (await client.get(f"/_sandbox/bluesky/posts?account={session['did']}")).json()
    assert len(listing["items"]) == 1 and listing["duplicates"] == 0

    for i in range(3):
        await client.post(f"/_sandbox/bluesky/posts/{uri}/comments", json={"text": f"r{i}"})
    page = (await client.get(
        "/bluesky/xrpc/app.bsky.notification.listNotifications?limit=2", headers=h)).json()
    assert [n["reason"] for n in page["notifications"]] == ["reply", "reply"]
    rest = (await client.get(
        f"/bluesky/xrpc/app.bsky.notification.listNotifications?cursor={page['cursor']}",
        headers=h)).json()
    assert len(rest["notifications"]) == 1 and "cursor" not in rest
    assert rest["notifications"][0]["record"]["reply"]["parent"]["uri"] == uri
    posts = (await client.get(f"/bluesky/xrpc/app.bsky.feed.getPosts?uris={uri}",
                              headers=h)).json()["posts"]
    assert posts[0]["replyCount"] == 3 and posts[0]["likeCount"] == 0


async def test_bluesky_expiry_and_refresh(client: httpx.AsyncClient) -> None:
    _, session = await _session(client)
    await client.put("/_sandbox/faults", json={"network": "bluesky", "expire_tokens": True})
    expired = await client.get("/bluesky/xrpc/com.atproto.server.getSession",
                               headers=auth(session["accessJwt"]))
    assert expired.status_code == 400 and expired.json()["error"] == "ExpiredToken"
    fresh = await client.post("/bluesky/xrpc/com.atproto.server.refreshSession",
                              headers=auth(session["refreshJwt"]))
    assert fresh.status_code == 200
    ok = await client.get("/bluesky/xrpc/com.atproto.server.getSession",
                          headers=auth(fresh.json()["accessJwt"]))
    assert ok.status_code == 200
    reused = await client.post("/bluesky/xrpc/com.atproto.server.refreshSession",
                               headers=auth(session["refreshJwt"]))
    assert reused.status_code == 400


async def test_rate_limit_headers_mastodon_bluesky(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "mastodon")
    _, session = await _session(client)
    await client.put("/_sandbox/faults", json=[
        {"network": "mastodon", "rate_limit": {"limit": 1, "window_seconds": 300}},
        {"network": "bluesky", "rate_limit": {"limit": 1, "window_seconds": 60}},
    ])
    mh = auth(acc["credentials"]["access_token"])
    await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=mh)
    limited = await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=mh)
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == "1"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"].endswith("Z")
    bh = auth(session["accessJwt"])
    await client.get("/bluesky/xrpc/com.atproto.server.getSession", headers=bh)
    limited = await client.get("/bluesky/xrpc/com.atproto.server.getSession", headers=bh)
    assert limited.status_code == 429 and limited.json()["error"] == "RateLimitExceeded"
    assert limited.headers["RateLimit-Policy"].startswith("1;w=")
