from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from tests.sandbox.conftest import Receiver, auth, new_account


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_facebook_page_flow(client: httpx.AsyncClient, receiver: Receiver) -> None:
    app = (await client.get("/_sandbox/facebook/app")).json()
    reg = await client.put("/_sandbox/facebook/webhook",
                           json={"url": "http://receiver.test/hooks/facebook"})
    assert reg.status_code == 200
    acc = await new_account(client, "facebook", "Acme Page")
    token = acc["credentials"]["access_token"]
    page = acc["credentials"]["page_id"]
    me = (await client.get(f"/facebook/v21.0/me?access_token={token}")).json()
    assert me == {"id": page, "name": "Acme Page"}

    post = await client.post(f"/facebook/v21.0/{page}/feed", data={"message": "launch"},
                             headers=auth(token))
    post_id = post.json()["id"]
    assert post_id.startswith(f"{page}_")
    dup = await client.post(f"/facebook/v21.0/{page}/feed", data={"message": "launch"},
                            headers=auth(token))
    assert dup.status_code == 400 and dup.json()["error"]["code"] == 506
    assert {"message", "type", "code", "fbtrace_id"} <= set(dup.json()["error"])

    await client.post(f"/_sandbox/facebook/posts/{post_id}/comments",
                      json={"text": "love it", "author": "Ann"})
    got = await receiver.wait_for(1)
    body = got[0]["body"]
    assert got[0]["headers"]["x-hub-signature-256"] == meta_signature(app["client_secret"], body)
    value = json.loads(body)["entry"][0]["changes"][0]["value"]
    assert value["item"] == "comment" and value["verb"] == "add"
    assert value["post_id"] == post_id and value["message"] == "love it"
    reply = await client.post(f"/facebook/v21.0/{value['comment_id']}/comments",
                              data={"message": "thanks!"}, headers=auth(token))
    assert reply.status_code == 200 and reply.json()["id"]

    outside = await client.post(f"/facebook/v21.0/{page}/messages", headers=auth(token),
                                json={"recipient": {"id": "123"}, "messaging_type": "RESPONSE",
                                      "message": {"text": "hi"}})
    assert outside.json()["error"]["code"] == 10
    await client.post("/_sandbox/facebook/messages", json={"account": page, "text": "hello?"})
    got = await receiver.wait_for(2)
    sender = json.loads(got[1]["body"])["entry"][0]["messaging"][0]["sender"]["id"]
    inside = await client.post(f"/facebook/v21.0/{page}/messages", headers=auth(token),
                               json={"recipient": {"id": sender}, "messaging_type": "RESPONSE",
                                     "message": {"text": "hi"}})
    assert inside.status_code == 200 and inside.json()["message_id"]

    await client.post("/_sandbox/engagement/tick", json={"hours": 3})
    insights = (await client.get(
        f"/facebook/v21.0/{post_id}/insights?metric=post_media_view,post_impressions_unique",
        headers=auth(token))).json()["data"]
    assert insights[0]["values"][0]["value"] > 0

    await client.put("/_sandbox/faults", json={"network": "facebook", "expire_tokens": True})
    expired = await client.get("/facebook/v21.0/me", headers=auth(token))
    assert expired.json()["error"]["code"] == 190
    assert expired.json()["error"]["error_subcode"] == 463


async def test_facebook_rate_limit(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "facebook")
    h = auth(acc["credentials"]["access_token"])
    await client.put("/_sandbox/faults", json={"network": "facebook",
                                               "rate_limit": {"limit": 1, "window_seconds": 60}})
    assert "x-app-usage" in (await client.get("/facebook/v21.0/me", headers=h)).headers
    limited = await client.get("/facebook/v21.0/me", headers=h)
    assert limited.json()["error"]["code"] == 4
    assert json.loads(limited.headers["x-app-usage"])["call_count"] == 100


async def test_instagram_container_flow(client: httpx.AsyncClient, receiver: Receiver) -> None:
    app = (await client.get("/_sandbox/instagram/app")).json()
    acc = await new_account(client, "instagram")
    h = auth(acc["credentials"]["access_token"])
    ig = acc["credentials"]["ig_user_id"]
    me = (await client.get("/instagram/v21.0/me?fields=id,username", headers=h)).json()
    assert me["id"] == ig
    image = "http://sandbox.test/_sandbox/media/sample.jpg"
    container = (await client.post(f"/instagram/v21.0/{ig}/media", headers=h,
                                   data={"image_url": image, "caption": "hi #tag"})).json()["id"]
    early = await client.post(f"/instagram/v21.0/{ig}/media_publish", headers=h,
                              data={"creation_id": container})
    assert early.json()["error"]["code"] == 9007
    statuses = [
        (await client.get(f"/instagram/v21.0/{container}?fields=status_code",
                          headers=h)).json()["status_code"]
        for _ in range(2)
    ]
    assert statuses == ["IN_PROGRESS", "FINISHED"]
    media_id = (await client.post(f"/instagram/v21.0/{ig}/media_publish", headers=h,
                                  data={"creation_id": container})).json()["id"]
    again = await client.post(f"/instagram/v21.0/{ig}/media_publish", headers=h,
                              data={"creation_id": container})
    assert again.status_code == 400
    limit = (await client.get(f"/instagram/v21.0/{ig}/content_publishing_limit",
                              headers=h)).json()
    assert limit["data"][0]["quota_usage"] == 1
    assert limit["data"][0]["config"]["quota_total"] == 50
    empty = await client.get(f"/instagram/v21.0/{media_id}/insights?metric=views,likes",
                             headers=h)
    assert empty.json() == {"data": []}

    png = (await client.post(f"/instagram/v21.0/{ig}/media", headers=h,
                             data={"image_url": "http://x.test/a.png"})).json()["id"]
    await client.get(f"/instagram/v21.0/{png}?fields=status_code", headers=h)
    assert (await client.get(f"/instagram/v21.0/{png}?fields=status_code",
                             headers=h)).json()["status_code"] == "ERROR"

    await client.post(f"/_sandbox/instagram/posts/{media_id}/comments", json={"text": "wow"})
    got = await receiver.wait_for(1)
    assert got[0]["headers"]["x-hub-signature-256"] == meta_signature(
        app["client_secret"], got[0]["body"])
    entry = json.loads(got[0]["body"])["entry"][0]
    value = entry["changes"][0]["value"]
    assert entry["id"] == ig and value["media"]["id"] == media_id and value["text"] == "wow"
    reply = await client.post(f"/instagram/v21.0/{value['id']}/replies", headers=h,
                              data={"message": "thank you"})
    assert reply.status_code == 200


async def test_threads_flow(client: httpx.AsyncClient, receiver: Receiver) -> None:
    acc = await new_account(client, "threads")
    h = auth(acc["credentials"]["access_token"])
    user = acc["credentials"]["user_id"]
    container = (await client.post(f"/threads/v1.0/{user}/threads", headers=h,
                                   data={"media_type": "TEXT", "text": "thread"})).json()["id"]
    for _ in range(2):
        status = (await client.get(f"/threads/v1.0/{container}?fields=status",
                                   headers=h)).json()["status"]
    assert status == "FINISHED"
    thread_id = (await client.post(f"/threads/v1.0/{user}/threads_publish", headers=h,
                                   data={"creation_id": container})).json()["id"]
    await client.post(f"/_sandbox/threads/posts/{thread_id}/comments", json={"text": "yo"})
    got = await receiver.wait_for(1)
    payload = json.loads(got[0]["body"])
    assert payload["values"]["field"] == "replies"
    assert payload["values"]["value"]["root_post"]["id"] == thread_id
    insights = (await client.get(f"/threads/v1.0/{thread_id}/insights?metric=views,replies",
                                 headers=h)).json()["data"]
    assert [m["name"] for m in insights] == ["views", "replies"]
    assert insights[1]["values"][0]["value"] == 1
    listing = (await client.get(f"/_sandbox/threads/posts?account={user}")).json()
    assert len(listing["items"]) == 1
