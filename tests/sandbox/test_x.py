from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlparse

import httpx

from tests.sandbox.conftest import Receiver, auth, new_account, pkce_pair


async def test_account_identity_and_tweet_lookup(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "x")
    token = acc["credentials"]["access_token"]
    assert {"access_token", "refresh_token", "expires_at"} <= set(acc["credentials"])
    me = (await client.get("/x/2/users/me", headers=auth(token))).json()["data"]
    assert me["id"] == acc["external_id"]

    resp = await client.post("/x/2/tweets", json={"text": "hello world"}, headers=auth(token))
    assert resp.status_code == 201
    tweet_id = resp.json()["data"]["id"]
    got = await client.get(
        f"/x/2/tweets/{tweet_id}?tweet.fields=public_metrics,created_at,author_id",
        headers=auth(token),
    )
    data = got.json()["data"]
    assert data["text"] == "hello world" and data["author_id"] == me["id"]
    assert data["public_metrics"]["like_count"] == 0

    await client.post("/x/2/tweets", json={"text": "second"}, headers=auth(token))
    timeline = (await client.get(f"/x/2/users/{me['id']}/tweets", headers=auth(token))).json()
    assert [t["text"] for t in timeline["data"]] == ["second", "hello world"]
    missing = (await client.get("/x/2/tweets/1", headers=auth(token))).json()
    assert missing["errors"][0]["title"] == "Not Found Error"


async def test_duplicates_blocked_and_counted(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "x")
    token = acc["credentials"]["access_token"]
    assert (await client.post("/x/2/tweets", json={"text": "a"}, headers=auth(token))).is_success
    again = await client.post("/x/2/tweets", json={"text": "a"}, headers=auth(token))
    assert again.status_code == 403
    assert again.json()["detail"] == (
        "You are not allowed to create a Tweet with duplicate content."
    )
    await client.post("/x/2/tweets", json={"text": "b"}, headers=auth(token))
    await client.post("/x/2/tweets", json={"text": "a"}, headers=auth(token))
    listing = (await client.get(f"/_sandbox/x/posts?account={acc['external_id']}")).json()
    assert len(listing["items"]) == 3
    assert listing["duplicates"] == 1


async def test_auth_errors(client: httpx.AsyncClient) -> None:
    resp = await client.get("/x/2/users/me", headers=auth("nope"))
    assert resp.status_code == 401
    assert resp.json() == {"title": "Unauthorized", "detail": "Unauthorized",
                           "type": "about:blank", "status": 401}
    acc = await new_account(client, "x")
    token = acc["credentials"]["access_token"]
    await client.put("/_sandbox/faults", json={"network": "x", "expire_tokens": True})
    assert (await client.get("/x/2/users/me", headers=auth(token))).status_code == 401


async def test_oauth_pkce_refresh_rotation(client: httpx.AsyncClient) -> None:
    app = (await client.get("/_sandbox/x/app")).json()
    verifier, challenge = pkce_pair()
    resp = await client.get(
        "/x/oauth/authorize",
        params={"client_id": app["client_id"], "redirect_uri": "http://app.test/cb",
                "state": "s1", "scope": "tweet.read users.read offline.access",
                "code_challenge": challenge, "code_challenge_method": "S256",
                "response_type": "code"},
    )
    assert resp.status_code == 302
    query = parse_qs(urlparse(resp.headers["location"]).query)
    assert query["state"] == ["s1"]
    code = query["code"][0]
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    bad = await client.post(
        "/x/2/oauth2/token",
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": "http://app.test/cb", "code_verifier": "wrong"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"

    resp = await client.get(
        "/x/oauth/authorize",
        params={"client_id": app["client_id"], "redirect_uri": "http://app.test/cb",
                "state": "s2", "scope": "tweet.read offline.access",
                "code_challenge": challenge, "code_challenge_method": "S256"},
    )
    code = parse_qs(urlparse(resp.headers["location"]).query)["code"][0]
    tokens = (await client.post(
        "/x/2/oauth2/token",
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": "http://app.test/cb", "code_verifier": verifier},
        headers={"Authorization": f"Basic {basic}"},
    )).json()
    assert tokens["expires_in"] == 7200 and tokens["refresh_token"]
    assert (await client.get("/x/2/users/me", headers=auth(tokens["access_token"]))).is_success

    refreshed = (await client.post(
        "/x/2/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
              "client_id": app["client_id"]},
    )).json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    reused = await client.post(
        "/x/2/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
              "client_id": app["client_id"]},
    )
    assert reused.status_code == 400


async def test_pkce_required(client: httpx.AsyncClient) -> None:
    app = (await client.get("/_sandbox/x/app")).json()
    resp = await client.get(
        "/x/oauth/authorize",
        params={"client_id": app["client_id"], "redirect_uri": "http://app.test/cb",
                "state": "s"},
    )
    assert "error=invalid_request" in resp.headers["location"]


async def test_chunked_media_upload(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "x")
    h = auth(acc["credentials"]["access_token"])
    video = (await client.get("/_sandbox/media/sample.mp4")).content
    init = await client.post("/x/2/media/upload/initialize", headers=h,
                             json={"media_type": "video/mp4", "total_bytes": len(video),
                                   "media_category": "tweet_video"})
    media_id = init.json()["data"]["id"]
    half = len(video) // 2
    for index, chunk in enumerate((video[:half], video[half:])):
        resp = await client.post(f"/x/2/media/upload/{media_id}/append", headers=h,
                                 data={"segment_index": str(index)},
                                 files={"media": ("blob", chunk, "application/octet-stream")})
        assert resp.status_code == 200, resp.text
    fin = (await client.post(f"/x/2/media/upload/{media_id}/finalize", headers=h)).json()
    assert fin["data"]["processing_info"]["state"] == "pending"
    early = await client.post("/x/2/tweets", headers=h,
                              json={"text": "clip", "media": {"media_ids": [media_id]}})
    assert early.status_code == 400
    states = []
    for _ in range(3):
        st = await client.get(f"/x/2/media/upload?command=STATUS&media_id={media_id}",
                              headers=h)
        states.append(st.json()["data"]["processing_info"]["state"])
    assert states[-1] == "succeeded" and "in_progress" in states
    ok = await client.post("/x/2/tweets", headers=h,
                           json={"text": "clip", "media": {"media_ids": [media_id]}})
    assert ok.status_code == 201


async def test_faults_error_rate_and_after_store(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "x")
    h = auth(acc["credentials"]["access_token"])
    await client.put("/_sandbox/faults", json={"network": "x", "endpoint": "POST /x/2/tweets",
                                               "error_rate": 1.0, "status": 503})
    resp = await client.post("/x/2/tweets", headers=h, json={"text": "never"})
    assert resp.status_code == 503 and resp.json()["status"] == 503
    assert (await client.get("/x/2/users/me", headers=h)).status_code == 200

    await client.put("/_sandbox/faults", json={"network": "x", "endpoint": "/2/tweets",
                                               "error_rate": 1.0, "status": 500,
                                               "phase": "after", "count": 1})
    resp = await client.post("/x/2/tweets", headers=h, json={"text": "stored anyway"})
    assert resp.status_code == 500
    listing = (await client.get(f"/_sandbox/x/posts?account={acc['external_id']}")).json()
    assert [p["text"] for p in listing["items"]] == ["stored anyway"]
    # The fault fired its one time; a blind retry now hits X's own duplicate check.
    retry = await client.post("/x/2/tweets", headers=h, json={"text": "stored anyway"})
    assert retry.status_code == 403
    await client.delete("/_sandbox/faults")


async def test_timeout_fault_hangs_then_504(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "x")
    h = auth(acc["credentials"]["access_token"])
    await client.put("/_sandbox/faults", json={"network": "x", "timeout_rate": 1.0,
                                               "phase": "after"})
    resp = await client.post("/x/2/tweets", headers=h, json={"text": "maybe"})
    assert resp.status_code == 504
    await client.delete("/_sandbox/faults")
    listing = (await client.get(f"/_sandbox/x/posts?account={acc['external_id']}")).json()
    assert len(listing["items"]) == 1


async def test_rate_limit_headers(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "x")
    h = auth(acc["credentials"]["access_token"])
    await client.put("/_sandbox/faults", json={"network": "x",
                                               "rate_limit": {"limit": 2, "window_seconds": 60}})
    first = await client.get("/x/2/users/me", headers=h)
    assert first.headers["x-rate-limit-remaining"] == "1"
    await client.get("/x/2/users/me", headers=h)
    third = await client.get("/x/2/users/me", headers=h)
    assert third.status_code == 429
    assert third.headers["x-rate-limit-limit"] == "2"
    assert third.headers["x-rate-limit-remaining"] == "0"
    assert int(third.headers["x-rate-limit-reset"]) > 0
    assert third.json()["title"] == "Too Many Requests"


async def test_comment_delivered_signed(client: httpx.AsyncClient, receiver: Receiver) -> None:
    app = (await client.get("/_sandbox/x/app")).json()
    acc = await new_account(client, "x")
    h = auth(acc["credentials"]["access_token"])
    tweet_id = (await client.post("/x/2/tweets", headers=h, json={"text": "hi"})).json()["data"][
        "id"
    ]
    receiver.fail_next = 1
    resp = await client.post(f"/_sandbox/x/posts/{tweet_id}/comments",
                             json={"text": "nice post", "author": "Dana"})
    assert resp.status_code == 201
    received = await receiver.wait_for(2)
    delivery = received[-1]
    body = delivery["body"]
    expected = "sha256=" + base64.b64encode(
        hmac.new(app["client_secret"].encode(), body, hashlib.sha256).digest()
    ).decode()
    assert delivery["headers"]["x-twitter-webhooks-signature"] == expected
    payload = json.loads(body)
    assert payload["for_user_id"] == acc["external_id"]
    event = payload["tweet_create_events"][0]
    assert event["in_reply_to_status_id_str"] == tweet_id
    assert event["in_reply_to_user_id_str"] == acc["external_id"]
    start, end = event["display_text_range"]
    assert event["text"][start:end] == "nice post"
    assert event["user"]["name"] == "Dana" and event["user"]["id_str"]
    deliveries = (await client.get("/_sandbox/deliveries?network=x")).json()["items"]
    assert deliveries[-1]["status"] == "delivered"
    assert [a["status_code"] for a in deliveries[-1]["attempts"]] == [500, 200]
    metrics = (await client.get(f"/x/2/tweets/{tweet_id}?tweet.fields=public_metrics",
                                headers=h)).json()["data"]["public_metrics"]
    assert metrics["reply_count"] == 1


async def test_dm_and_webhook_registration(client: httpx.AsyncClient,
                                           receiver: Receiver) -> None:
    resp = await client.put("/_sandbox/x/webhook", json={"url": "http://receiver.test/hooks/x"})
    assert resp.status_code == 200 and resp.json()["verified"]
    acc = await new_account(client, "x")
    await client.post("/_sandbox/x/messages", json={"account": acc["external_id"],
                                                    "text": "help!", "author": "Eve"})
    received = await receiver.wait_for(1)
    payload = json.loads(received[0]["body"])
    event = payload["direct_message_events"][0]
    assert event["message_create"]["message_data"]["text"] == "help!"
    assert event["message_create"]["target"]["recipient_id"] == acc["external_id"]
    bad = await client.put("/_sandbox/x/webhook", json={"url": "http://receiver.test/nothing"})
    assert bad.status_code == 400
