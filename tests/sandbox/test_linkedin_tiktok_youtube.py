from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs, quote, urlparse

import httpx

from tests.sandbox.conftest import Receiver, auth, new_account, pkce_pair

LI = {"Linkedin-Version": "202501", "X-Restli-Protocol-Version": "2.0.0"}


async def test_linkedin_posts(client: httpx.AsyncClient, receiver: Receiver) -> None:
    app = (await client.get("/_sandbox/linkedin/app")).json()
    reg = await client.put("/_sandbox/linkedin/webhook",
                           json={"url": "http://receiver.test/hooks/linkedin"})
    assert reg.status_code == 200
    acc = await new_account(client, "linkedin")
    org = acc["external_id"]
    assert org.startswith("urn:li:organization:")
    h = auth(acc["credentials"]["access_token"])
    assert (await client.get("/linkedin/v2/userinfo", headers=h)).json()["sub"]
    body = {"author": org, "commentary": "hello", "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"}, "lifecycleState": "PUBLISHED"}
    missing = await client.post("/linkedin/rest/posts", json=body, headers=h)
    assert missing.status_code == 400
    created = await client.post("/linkedin/rest/posts", json=body, headers={**h, **LI})
    assert created.status_code == 201
    urn = created.headers["x-restli-id"]
    dup = await client.post("/linkedin/rest/posts", json=body, headers={**h, **LI})
    assert dup.status_code == 422 and dup.json()["code"] == "DUPLICATE_POST"

    await client.post(f"/_sandbox/linkedin/posts/{urn}/comments", json={"text": "congrats"})
    got = await receiver.wait_for(1)
    raw = got[0]["body"]
    expected = "hmacsha256=" + hmac.new(app["client_secret"].encode(), raw,
                                        hashlib.sha256).hexdigest()
    assert got[0]["headers"]["x-li-signature"] == expected
    note = json.loads(raw)["notifications"][0]
    assert note["action"] == "COMMENT" and note["sourcePost"] == urn

    reply = await client.post(f"/linkedin/rest/socialActions/{quote(urn)}/comments",
                              headers={**h, **LI},
                              json={"actor": org, "object": urn, "message": {"text": "thx"}})
    assert reply.status_code == 201
    await client.post("/_sandbox/engagement/tick", json={"hours": 2})
    stats = (await client.get(
        "/linkedin/rest/organizationalEntityShareStatistics",
        params={"q": "organizationalEntity", "organizationalEntity": org,
                "shares": f"List({urn})"}, headers={**h, **LI})).json()
    totals = stats["elements"][0]["totalShareStatistics"]
    # The two comments above are counted; the simulated audience may have added more.
    assert totals["impressionCount"] > 0 and totals["commentCount"] >= 2

    await client.put("/_sandbox/faults", json={"network": "linkedin", "expire_tokens": True})
    expired = await client.get("/linkedin/v2/userinfo", headers=h)
    assert expired.status_code == 401 and expired.json()["code"] == "EXPIRED_ACCESS_TOKEN"


async def test_tiktok_upload_flow_and_oauth(client: httpx.AsyncClient,
                                            receiver: Receiver) -> None:
    app = (await client.get("/_sandbox/tiktok/app")).json()
    verifier, challenge = pkce_pair()
    resp = await client.get("/tiktok/oauth/authorize", params={
        "client_key": app["client_id"], "redirect_uri": "http://app.test/cb", "state": "t",
        "code_challenge": challenge, "code_challenge_method": "S256",
        "scope": "video.publish"})
    code = parse_qs(urlparse(resp.headers["location"]).query)["code"][0]
    tokens = (await client.post("/tiktok/v2/oauth/token/", data={
        "client_key": app["client_id"], "client_secret": app["client_secret"], "code": code,
        "grant_type": "authorization_code", "redirect_uri": "http://app.test/cb",
        "code_verifier": verifier})).json()
    h = auth(tokens["access_token"])
    info = (await client.get("/tiktok/v2/user/info/?fields=open_id,display_name",
                             headers=h)).json()
    assert info["data"]["user"]["open_id"] == tokens["open_id"]
    assert info["error"]["code"] == "ok"

    options = (await client.post("/tiktok/v2/post/publish/creator_info/query/",
                                 headers=h)).json()["data"]["privacy_level_options"]
    video = (await client.get("/_sandbox/media/sample.mp4")).content
    init = (await client.post("/tiktok/v2/post/publish/video/init/", headers=h, json={
        "post_info": {"title": "dance", "privacy_level": options[-1]},
        "source_info": {"source": "FILE_UPLOAD", "video_size": len(video),
                        "chunk_size": len(video), "total_chunk_count": 1}})).json()["data"]
    put = await client.put(init["upload_url"].replace("http://sandbox.test", ""),
                           content=video,
                           headers={"Content-Range": f"bytes 0-{len(video) - 1}/{len(video)}",
                                    "Content-Type": "video/mp4"})
    assert put.status_code == 201
    statuses = []
    for _ in range(3):
        data = (await client.post("/tiktok/v2/post/publish/status/fetch/", headers=h,
                                  json={"publish_id": init["publish_id"]})).json()["data"]
        statuses.append(data["status"])
    assert statuses[-1] == "PUBLISH_COMPLETE"
    video_id = str(data["publicaly_available_post_id"][0])
    query = (await client.post("/tiktok/v2/video/query/?fields=id,view_count,comment_count",
                               headers=h, json={"filters": {"video_ids": [video_id]}})).json()
    assert query["data"]["videos"][0]["id"] == video_id

    # The finished publish is announced with TikTok's own event, signed.
    got = await receiver.wait_for(1)
    sig = dict(p.split("=", 1) for p in got[0]["headers"]["tiktok-signature"].split(","))
    mac = hmac.new(app["client_secret"].encode(), f"{sig['t']}.".encode() + got[0]["body"],
                   hashlib.sha256).hexdigest()
    assert sig["s"] == mac
    event = json.loads(got[0]["body"])
    assert event["event"] == "video.publish.completed"
    assert json.loads(event["content"])["publish_id"] == init["publish_id"]
    # A comment is on the network, but TikTok has no webhook event for it.
    await client.post(f"/_sandbox/tiktok/posts/{video_id}/comments", json={"text": "fire"})
    items = (await client.get(f"/_sandbox/tiktok/posts/{video_id}/comments")).json()["items"]
    assert [c["text"] for c in items] == ["fire"]
    assert [d["event"] for d in (await client.get("/_sandbox/deliveries")).json()["items"]] == [
        "video.publish.completed"]

    await client.put("/_sandbox/faults", json={"network": "tiktok", "expire_tokens": True})
    expired = await client.get("/tiktok/v2/user/info/", headers=h)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "access_token_invalid"
    refreshed = (await client.post("/tiktok/v2/oauth/token/", data={
        "client_key": app["client_id"], "client_secret": app["client_secret"],
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})).json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]


async def test_youtube_resumable_upload_and_comments(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "youtube")
    h = auth(acc["credentials"]["access_token"])
    channels = (await client.get("/youtube/youtube/v3/channels?part=snippet&mine=true",
                                 headers=h)).json()
    assert channels["items"][0]["id"] == acc["external_id"]
    bad = await client.post(
        "/youtube/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
        headers=h, json={"snippet": {"title": "a <b>"}, "status": {"privacyStatus": "public"}})
    assert bad.status_code == 400 and bad.json()["error"]["errors"][0]["reason"]
    start = await client.post(
        "/youtube/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
        headers=h, json={"snippet": {"title": "Clip", "description": "d"},
                         "status": {"privacyStatus": "unlisted"}})
    location = start.headers["location"].replace("http://sandbox.test", "")
    video = (await client.get("/_sandbox/media/sample.mp4")).content
    done = await client.put(location, content=video, headers=h)
    assert done.status_code == 200
    video_id = done.json()["id"]
    assert done.json()["status"]["privacyStatus"] == "unlisted"
    await client.post(f"/_sandbox/youtube/posts/{video_id}/comments", json={"text": "cool"})
    threads = (await client.get(
        f"/youtube/youtube/v3/commentThreads?part=snippet&videoId={video_id}",
        headers=h)).json()
    top = threads["items"][0]["snippet"]["topLevelComment"]
    assert top["snippet"]["textOriginal"] == "cool"
    reply = await client.post("/youtube/youtube/v3/comments?part=snippet", headers=h,
                              json={"snippet": {"parentId": top["id"],
                                                "textOriginal": "thanks"}})
    assert reply.status_code == 200
    stats = (await client.get(f"/youtube/youtube/v3/videos?part=statistics&id={video_id}",
                              headers=h)).json()["items"][0]["statistics"]
    assert stats["commentCount"] == "2"
    await client.put("/_sandbox/faults", json={"network": "youtube", "expire_tokens": True})
    assert (await client.get("/youtube/youtube/v3/channels?mine=true",
                             headers=h)).status_code == 401


async def test_engagement_pattern_and_samples(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "mastodon")
    pattern = (await client.get(
        f"/_sandbox/mastodon/accounts/{acc['external_id']}/pattern")).json()
    assert len(pattern["grid"]) == 7 and len(pattern["grid"][0]) == 24
    best = pattern["best_slots"][0]
    assert best["hour"] == pattern["peak_hour"] and best["weekday"] in pattern["peak_weekdays"]
    h = auth(acc["credentials"]["access_token"])
    status = (await client.post("/mastodon/api/v1/statuses", headers=h,
                                json={"status": "measure me"})).json()
    one = (await client.post("/_sandbox/engagement/tick", json={"hours": 1})).json()
    assert one["posts"] == 1
    after = (await client.get(f"/mastodon/api/v1/statuses/{status['id']}", headers=h)).json()
    await client.post("/_sandbox/engagement/tick", json={"hours": 24})
    later = (await client.get(f"/mastodon/api/v1/statuses/{status['id']}", headers=h)).json()
    assert later["favourites_count"] >= after["favourites_count"]
    for name, magic in (("sample.jpg", b"\xff\xd8\xff"), ("sample.png", b"\x89PNG"),
                        ("sample.mp4", b"ftyp")):
        body = (await client.get(f"/_sandbox/media/{name}")).content
        assert magic in body[:12]
    await client.post("/_sandbox/reset")
    listing = (await client.get("/_sandbox/mastodon/posts")).json()
    assert listing == {"items": [], "duplicates": 0}
