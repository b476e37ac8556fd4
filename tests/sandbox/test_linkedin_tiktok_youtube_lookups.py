"""The sandbox endpoints a publisher needs to settle doubts and to upload the hard way: LinkedIn's
author finder and video parts, TikTok's chunk rules, photo posts and video list, YouTube's
resumable-session status query, uploads playlist and commentThreads.insert."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from tests.sandbox.conftest import auth, new_account
from tests.support.waits import until

LI = {"Linkedin-Version": "202505", "X-Restli-Protocol-Version": "2.0.0"}
MB = 1024 * 1024


async def test_linkedin_author_finder_and_video_parts(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "linkedin")
    org = acc["external_id"]
    h = {**auth(acc["credentials"]["access_token"]), **LI}
    for text in ("first", "second"):
        r = await client.post(
            "/linkedin/rest/posts",
            headers=h,
            json={
                "author": org,
                "commentary": text,
                "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED"},
                "lifecycleState": "PUBLISHED",
            },
        )
        assert r.status_code == 201
    found = await client.get(
        f"/linkedin/rest/posts?q=author&author={quote(org, safe='')}&count=10", headers=h
    )
    assert [p["commentary"] for p in found.json()["elements"]] == ["second", "first"]
    other = await new_account(client, "linkedin")
    denied = await client.get(
        f"/linkedin/rest/posts?q=author&author={quote(other['external_id'], safe='')}", headers=h
    )
    assert denied.status_code == 403

    video = (await client.get("/_sandbox/media/sample.mp4")).content
    init = (
        await client.post(
            "/linkedin/rest/videos?action=initializeUpload",
            headers=h,
            json={"initializeUploadRequest": {"owner": org, "fileSizeBytes": len(video)}},
        )
    ).json()["value"]
    [part] = init["uploadInstructions"]
    assert (part["firstByte"], part["lastByte"]) == (0, len(video) - 1)
    put = await client.put(
        part["uploadUrl"].replace("http://sandbox.test", ""), content=video, headers=h
    )
    urn = init["video"]
    wrong = await client.post(
        "/linkedin/rest/videos?action=finalizeUpload",
        headers=h,
        json={"finalizeUploadRequest": {"video": urn, "uploadToken": "", "uploadedPartIds": ["x"]}},
    )
    assert wrong.status_code == 400
    done = await client.post(
        "/linkedin/rest/videos?action=finalizeUpload",
        headers=h,
        json={
            "finalizeUploadRequest": {
                "video": urn,
                "uploadToken": "",
                "uploadedPartIds": [put.headers["etag"]],
            }
        },
    )
    assert done.status_code == 200
    statuses = [
        (await client.get(f"/linkedin/rest/videos/{quote(urn, safe='')}", headers=h)).json()[
            "status"
        ]
        for _ in range(2)
    ]
    assert statuses == ["PROCESSING", "AVAILABLE"]


async def test_tiktok_chunk_rules_photo_posts_and_video_list(client: httpx.AsyncClient) -> None:
    acc = await new_account(client, "tiktok")
    h = auth(acc["credentials"]["access_token"])
    info = {"title": "t", "privacy_level": "PUBLIC_TO_EVERYONE"}

    async def init(**source: int) -> httpx.Response:
        return await client.post(
            "/tiktok/v2/post/publish/video/init/",
            headers=h,
            json={"post_info": info, "source_info": {"source": "FILE_UPLOAD", **source}},
        )

    assert (await init(video_size=1000)).status_code == 400  # chunk fields missing
    assert (await init(video_size=1000, chunk_size=500, total_chunk_count=2)).status_code == 400
    assert (await init(video_size=1000, chunk_size=1000, total_chunk_count=1)).status_code == 200
    size = 100 * MB + 7
    assert (
        await init(video_size=size, chunk_size=10 * MB, total_chunk_count=10)
    ).status_code == 200
    assert (
        await init(video_size=size, chunk_size=10 * MB, total_chunk_count=11)
    ).status_code == 400
    assert (await init(video_size=size, chunk_size=2 * MB, total_chunk_count=50)).status_code == 400

    photo = await client.post(
        "/tiktok/v2/post/publish/content/init/",
        headers=h,
        json={
            "post_info": {
                "title": "p",
                "description": "stills",
                "privacy_level": "PUBLIC_TO_EVERYONE",
            },
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": 0,
                "photo_images": ["https://cdn.example/a.jpg"],
            },
            "post_mode": "DIRECT_POST",
            "media_type": "PHOTO",
        },
    )
    assert photo.status_code == 200
    # Nobody polls the status: TikTok finishes processing all the same, and the post is listed.
    async def videos() -> dict:
        answer = await client.post(
            "/tiktok/v2/video/list/?fields=id,title,create_time", headers=h, json={"max_count": 20}
        )
        data: dict = answer.json()["data"]
        return data if data["videos"] else {}

    listed = await until(videos, timeout=10, what="the photo post listed")
    assert [v["title"] for v in listed["videos"]] == ["stills"]
    assert listed["has_more"] is False


async def test_youtube_session_status_playlist_and_comment_threads(
    client: httpx.AsyncClient,
) -> None:
    acc = await new_account(client, "youtube")
    h = auth(acc["credentials"]["access_token"])
    video = (await client.get("/_sandbox/media/sample.mp4")).content
    start = await client.post(
        "/youtube/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
        headers=h,
        json={
            "snippet": {"title": "Clip", "description": "d"},
            "status": {"privacyStatus": "private"},
        },
    )
    location = start.headers["location"].replace("http://sandbox.test", "")
    empty = await client.put(location, headers={**h, "Content-Range": f"bytes */{len(video)}"})
    assert empty.status_code == 308 and "range" not in empty.headers
    half = len(video) // 2
    part = await client.put(
        location,
        content=video[:half],
        headers={**h, "Content-Range": f"bytes 0-{half - 1}/{len(video)}"},
    )
    assert part.status_code == 308
    asked = await client.put(location, headers={**h, "Content-Range": f"bytes */{len(video)}"})
    assert asked.status_code == 308 and asked.headers["range"] == f"bytes=0-{half - 1}"
    done = await client.put(
        location,
        content=video[half:],
        headers={**h, "Content-Range": f"bytes {half}-{len(video) - 1}/{len(video)}"},
    )
    assert done.status_code == 200
    again = await client.put(location, headers={**h, "Content-Range": f"bytes */{len(video)}"})
    assert again.status_code == 200 and again.json()["id"] == done.json()["id"]

    channel = (
        await client.get("/youtube/youtube/v3/channels?part=contentDetails&mine=true", headers=h)
    ).json()["items"][0]
    uploads = channel["contentDetails"]["relatedPlaylists"]["uploads"]
    items = (
        await client.get(
            f"/youtube/youtube/v3/playlistItems?part=snippet&playlistId={uploads}&maxResults=50",
            headers=h,
        )
    ).json()["items"]
    assert [i["snippet"]["resourceId"]["videoId"] for i in items] == [done.json()["id"]]
    # Someone else sees no private uploads.
    other = await new_account(client, "youtube")
    seen = await client.get(
        f"/youtube/youtube/v3/playlistItems?part=snippet&playlistId={uploads}",
        headers=auth(other["credentials"]["access_token"]),
    )
    assert seen.json()["items"] == []

    thread = await client.post(
        "/youtube/youtube/v3/commentThreads?part=snippet",
        headers=h,
        json={
            "snippet": {
                "videoId": done.json()["id"],
                "topLevelComment": {"snippet": {"textOriginal": "pinned"}},
            }
        },
    )
    assert thread.status_code == 200
    listed = (
        await client.get(
            f"/youtube/youtube/v3/commentThreads?part=snippet&videoId={done.json()['id']}",
            headers=h,
        )
    ).json()["items"]
    assert [t["id"] for t in listed] == [thread.json()["id"]]
