"""YouTube Data API v3: ``https://www.googleapis.com`` ↔ ``{public_url}/youtube``; Google's
token endpoint ``https://oauth2.googleapis.com/token`` ↔ ``{public_url}/youtube/token``."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import errors, moderation, oauth, subscriptions
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import bearer, json, json_body, params
from sandbox.media import sniff
from sandbox.networks.common import expires_at, iso
from sandbox.state import Account, Post

NETWORK = "youtube"
# Sources disagree on an upload's cost (1,600 or 100); the higher figure is the safer guess.
COSTS = {"upload": 1600, "list": 1, "insert": 50}
RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
# `bytes */N` with no body asks how much of an interrupted upload arrived.
STATUS_QUERY = re.compile(r"bytes \*/(\d+|\*)")

router = APIRouter(tags=["youtube"])
router.include_router(oauth.authorize_router(NETWORK, require_pkce=False))
router.include_router(subscriptions.youtube_router())
router.include_router(moderation.youtube_router())


def make_account(sb: Sandbox, name: str | None) -> Account:
    n = sb.state.seq()
    channel = "UC" + hashlib.sha256(f"{sb.settings.seed}:{n}:{time.time()}".encode()) \
        .hexdigest()[:22]
    return sb.state.add_account(Account(
        network=NETWORK, id=channel, name=name or f"Sandbox Channel {n}",
        username=f"@sandboxchannel{n}", created_at=time.time(),
    ))


def external_id(account: Account) -> str:
    return account.id


def _issue(sb: Sandbox, account: Account, scope: str, *, with_refresh: bool) -> dict[str, Any]:
    ttl = sb.settings.token_ttl_seconds
    access = sb.state.issue(NETWORK, account.id, ttl=ttl, prefix="ya29.", scope=scope)
    out = {"access_token": access.value, "expires_in": ttl, "scope": scope,
           "token_type": "Bearer"}
    if with_refresh:
        refresh = sb.state.issue(NETWORK, account.id, kind="refresh", ttl=None, prefix="1//",
                                 scope=scope)
        out["refresh_token"] = refresh.value
    return out


def credentials(sb: Sandbox, account: Account) -> dict[str, Any]:
    issued = _issue(sb, account, "https://www.googleapis.com/auth/youtube.upload "
                    "https://www.googleapis.com/auth/youtube.force-ssl", with_refresh=True)
    return {"access_token": issued["access_token"], "refresh_token": issued["refresh_token"],
            "expires_at": expires_at(issued["expires_in"])}


def _comment_resource(post: Post, video_id: str) -> dict[str, Any]:
    return {"kind": "youtube#comment", "etag": post.id[-8:], "id": post.id, "snippet": {
        "channelId": post.extra.get("channel_id"), "videoId": video_id,
        "textDisplay": post.text, "textOriginal": post.text,
        "authorDisplayName": post.author_name,
        "authorChannelUrl": f"http://www.youtube.com/channel/{post.author_id}",
        "authorChannelId": {"value": post.author_id}, "canRate": True, "viewerRating": "none",
        "likeCount": 0, "publishedAt": iso(post.created_at), "updatedAt": iso(post.created_at),
        **({"parentId": post.reply_to} if post.extra.get("is_reply") else {}),
    }}


def add_comment(sb: Sandbox, post: Post, text: str, author: str) -> dict[str, Any]:
    fan = sb.state.fan(NETWORK, author)
    video = post if post.kind == "post" else sb.state.posts[NETWORK][post.extra["video_id"]]
    comment = sb.state.add_post(Post(
        network=NETWORK, id="Ug" + secrets.token_urlsafe(18), account_id=None, text=text,
        created_at=time.time(), kind="comment", reply_to=post.id,
        author_id="UC" + fan.id[:22], author_name=fan.name,
        extra={"video_id": video.id, "channel_id": video.account_id,
               "is_reply": post.kind != "post"},
    ))
    video.metrics["replies"] = video.metrics.get("replies", 0.0) + 1
    return {"id": comment.id, "text": text}


def _spend(sb: Sandbox, kind: str) -> None:
    day = int(time.time() // 86400)
    used: dict[int, int] = sb.state.kv[NETWORK].setdefault("quota", {})
    cost = COSTS[kind]
    quota = sb.settings.youtube_daily_quota
    if used.get(day, 0) + cost > quota:
        raise errors.rate_limited(NETWORK, quota, (day + 1) * 86400)
    used[day] = used.get(day, 0) + cost


@router.post("/token")
async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    form = await params(request)
    client_id, secret = oauth.client_credentials(request, form)
    try:
        oauth.check_client(sb, NETWORK, client_id, secret)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            account, scope = oauth.redeem_code(
                sb, NETWORK, code=str(form.get("code", "")), client_id=client_id,
                redirect_uri=form.get("redirect_uri"), verifier=form.get("code_verifier"),
            )
            return json(_issue(sb, account, scope, with_refresh=True))
        if grant == "refresh_token":
            old = oauth.use_refresh(sb, NETWORK, str(form.get("refresh_token", "")),
                                    rotate=False)
            return json(_issue(sb, sb.state.accounts[NETWORK][old.account_id], old.scope,
                               with_refresh=False))
    except oauth.OAuthFailure as exc:
        description = "Token has been expired or revoked." if exc.error == "invalid_grant" \
            else exc.description
        return json({"error": exc.error, "error_description": description},
                    401 if exc.error == "invalid_client" else 400)
    return json({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"},
                400)


def _auth(sb: Sandbox, request: Request) -> Account:
    return sb.authenticate(NETWORK, bearer(request))


@router.get("/youtube/v3/channels")
async def channels(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    _spend(sb, "list")
    q = request.query_params
    if q.get("mine") != "true" and account.id not in q.get("id", "").split(","):
        return json({"kind": "youtube#channelListResponse", "items": [],
                     "pageInfo": {"totalResults": 0, "resultsPerPage": 5}})
    videos = [p for p in sb.state.account_posts(NETWORK, account.id) if p.kind == "post"]
    item = {"kind": "youtube#channel", "etag": account.id[-8:], "id": account.id,
            "snippet": {"title": account.name, "description": "", "customUrl": account.username,
                        "publishedAt": iso(account.created_at)},
            "statistics": {"viewCount": str(sum(v.count("views") for v in videos)),
                           "subscriberCount": str(int(account.extra.get("followers", 0))),
                           "hiddenSubscriberCount": False, "videoCount": str(len(videos))},
            "contentDetails": {"relatedPlaylists": {"likes": "",
                                                    "uploads": _uploads_playlist(account.id)}}}
    return json({"kind": "youtube#channelListResponse",
                 "pageInfo": {"totalResults": 1, "resultsPerPage": 5}, "items": [item]})


def _uploads_playlist(channel_id: str) -> str:
    return "UU" + channel_id[2:]


@router.get("/youtube/v3/playlistItems")
async def playlist_items(request: Request) -> Response:
    """Only the uploads playlist exists here: the owner sees every upload, newest first."""
    sb = sandbox_of(request)
    account = _auth(sb, request)
    _spend(sb, "list")
    q = request.query_params
    playlist = q.get("playlistId", "")
    owner = next((a for a in sb.state.accounts[NETWORK].values()
                  if _uploads_playlist(a.id) == playlist), None)
    if owner is None:
        raise errors.google_error(404, "playlistNotFound", "The playlist identified with the "
                                  "request's playlistId parameter cannot be found.")
    mine = owner.id == account.id
    videos = [p for p in sb.state.account_posts(NETWORK, owner.id)
              if p.kind == "post" and not p.deleted and (mine or p.visibility == "public")]
    videos.sort(key=lambda p: p.created_at, reverse=True)
    try:
        limit = min(50, max(0, int(q.get("maxResults", 5))))
    except ValueError:
        limit = 5
    token = q.get("pageToken") or "0"
    start = int(token) if token.isdigit() else 0
    parts = set(q.get("part", "").split(","))
    items = []
    for video in videos[start : start + limit]:
        item: dict[str, Any] = {"kind": "youtube#playlistItem", "etag": video.id[::-1],
                                "id": f"{playlist}.{video.id}"}
        if "snippet" in parts:
            item["snippet"] = {
                "publishedAt": iso(video.created_at), "channelId": owner.id,
                "title": video.extra.get("title", ""), "description": video.text,
                "channelTitle": owner.name, "playlistId": playlist,
                "resourceId": {"kind": "youtube#video", "videoId": video.id},
            }
        if "contentDetails" in parts:
            item["contentDetails"] = {"videoId": video.id,
                                      "videoPublishedAt": iso(video.created_at)}
        if "status" in parts:
            item["status"] = {"privacyStatus": video.visibility}
        items.append(item)
    out: dict[str, Any] = {"kind": "youtube#playlistItemListResponse", "items": items,
                           "pageInfo": {"totalResults": len(videos), "resultsPerPage": limit}}
    if start + limit < len(videos):
        out["nextPageToken"] = str(start + limit)
    return json(out)


def _validate_snippet(snippet: dict[str, Any]) -> None:
    title = str(snippet.get("title", ""))
    description = str(snippet.get("description", ""))
    if not title:
        raise errors.google_error(400, "invalidTitle", "The request metadata specifies an "
                                  "invalid or empty video title.")
    if len(title) > 100 or "<" in title or ">" in title:
        raise errors.google_error(400, "invalidTitle", "The request metadata specifies an "
                                  "invalid video title.")
    if len(description.encode()) > 5000 or "<" in description or ">" in description:
        raise errors.google_error(400, "invalidDescription", "The request metadata specifies "
                                  "an invalid video description.")


def _sessions(sb: Sandbox) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = sb.state.kv[NETWORK].setdefault("uploads", {})
    return found


@router.post("/upload/youtube/v3/videos")
async def start_upload(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    if request.query_params.get("uploadType") != "resumable":
        raise errors.google_error(400, "badRequest", "Use uploadType=resumable")
    body = await json_body(request)
    if body is None:
        raise errors.google_error(400, "parseError", "Parse Error")
    _validate_snippet(body.get("snippet") or {})
    privacy = (body.get("status") or {}).get("privacyStatus", "public")
    if privacy not in ("public", "unlisted", "private"):
        raise errors.google_error(400, "invalidPrivacyStatus", "Invalid privacy status")
    _spend(sb, "upload")
    upload_id = secrets.token_urlsafe(24)
    _sessions(sb)[upload_id] = {"account_id": account.id, "body": body, "chunks": {},
                                "received": 0,
                                "total": request.headers.get("x-upload-content-length")}
    location = (f"{sb.base_url(NETWORK)}/upload/youtube/v3/videos?uploadType=resumable"
                f"&upload_id={upload_id}")
    return Response(status_code=200, headers={"Location": location,
                                              "X-GUploader-UploadID": upload_id})


@router.put("/upload/youtube/v3/videos")
async def upload_bytes(request: Request) -> Response:
    sb = sandbox_of(request)
    session = _sessions(sb).get(request.query_params.get("upload_id", ""))
    if session is None:
        raise errors.google_error(404, "notFound", "Upload session not found")
    data = await request.body()
    content_range = request.headers.get("content-range", "")
    if session.get("video_id"):
        # Already complete: the answer is the finished upload's, as often as it is asked.
        post = sb.state.posts[NETWORK][session["video_id"]]
        return json(_video(post, {"snippet", "status"}))
    if STATUS_QUERY.match(content_range) and not data:
        if session["received"] == 0:
            return Response(status_code=308)
        return Response(status_code=308,
                        headers={"Range": f"bytes=0-{session['received'] - 1}"})
    match = RANGE.match(content_range)
    total = None
    if match:
        first = int(match.group(1))
        total = None if match.group(3) == "*" else int(match.group(3))
        session["chunks"][first] = data
    else:
        session["chunks"] = {0: data}
        total = len(data)
    session["received"] = sum(len(c) for c in session["chunks"].values())
    if total is None or session["received"] < total:
        return Response(status_code=308,
                        headers={"Range": f"bytes=0-{session['received'] - 1}"})
    blob = b"".join(session["chunks"][k] for k in sorted(session["chunks"]))
    found = sniff(blob)
    if found is None or found[0] != "video":
        raise errors.google_error(400, "invalidVideo", "The uploaded file is not a video.")
    account = sb.state.accounts[NETWORK][session["account_id"]]
    session["chunks"] = {}
    body = session["body"]
    snippet = body.get("snippet") or {}
    status = body.get("status") or {}
    video_id = secrets.token_urlsafe(8)[:11]
    post = sb.state.add_post(Post(
        network=NETWORK, id=video_id, account_id=account.id,
        text=str(snippet.get("description", "")), created_at=time.time(),
        media=[{"id": video_id, "kind": "video", "digest": hashlib.sha256(blob).hexdigest()}],
        url=f"https://www.youtube.com/watch?v={video_id}", author_id=account.id,
        author_name=account.name, visibility=str(status.get("privacyStatus", "public")),
        extra={"title": snippet.get("title", ""), "tags": snippet.get("tags", []),
               "category": snippet.get("categoryId", "22")},
    ))
    session["video_id"] = post.id
    _announce_upload(sb, account, post)
    return json(_video(post, {"snippet", "status"}))


def _announce_upload(sb: Sandbox, account: Account, post: Post) -> None:
    """The hub pushes the channel's feed entry to its subscribers (WebSub, Atom)."""
    now = iso(post.created_at)
    atom = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
        'xmlns="http://www.w3.org/2005/Atom">'
        '<link rel="hub" href="https://pubsubhubbub.appspot.com"/>'
        f'<link rel="self" href="https://www.youtube.com/xml/feeds/videos.xml?channel_id={account.id}"/>'
        "<title>YouTube video feed</title>"
        f"<updated>{now}</updated>"
        f"<entry><id>yt:video:{post.id}</id><yt:videoId>{post.id}</yt:videoId>"
        f"<yt:channelId>{account.id}</yt:channelId>"
        f"<title>{escape(str(post.extra.get('title', '')))}</title>"
        f'<link rel="alternate" href="{post.url}"/>'
        f"<author><name>{escape(account.name)}</name>"
        f"<uri>https://www.youtube.com/channel/{account.id}</uri></author>"
        f"<published>{now}</published><updated>{now}</updated></entry></feed>"
    )
    sb.deliveries.send(NETWORK, "upload", atom.encode(), account_id=account.id,
                       content_type="application/atom+xml")


def _video(post: Post, parts: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "youtube#video", "etag": post.id[::-1], "id": post.id}
    if "snippet" in parts:
        out["snippet"] = {"publishedAt": iso(post.created_at), "channelId": post.account_id,
                          "title": post.extra.get("title", ""), "description": post.text,
                          "tags": post.extra.get("tags", []),
                          "categoryId": post.extra.get("category", "22"),
                          "channelTitle": post.author_name}
    if "status" in parts:
        out["status"] = {"uploadStatus": "processed", "privacyStatus": post.visibility,
                         "license": "youtube", "embeddable": True, "publicStatsViewable": True}
    if "statistics" in parts:
        out["statistics"] = {"viewCount": str(post.count("views")),
                             "likeCount": str(post.count("likes")), "favoriteCount": "0",
                             "commentCount": str(post.count("replies"))}
    return out


@router.get("/youtube/v3/videos")
async def list_videos(request: Request) -> Response:
    sb = sandbox_of(request)
    _auth(sb, request)
    _spend(sb, "list")
    q = request.query_params
    parts = set(q.get("part", "").split(","))
    posts = sb.state.posts[NETWORK]
    items = [_video(posts[i], parts) for i in q.get("id", "").split(",")
             if i in posts and posts[i].kind == "post" and not posts[i].deleted]
    return json({"kind": "youtube#videoListResponse", "items": items,
                 "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}})


@router.put("/youtube/v3/videos")
async def update_video(request: Request) -> Response:
    """videos.update: the parts named in `part` are replaced as a whole (a snippet field left
    out is cleared; title and categoryId are required)."""
    sb = sandbox_of(request)
    account = _auth(sb, request)
    _spend(sb, "insert")
    body = await json_body(request) or {}
    if request.query_params.get("part", "") != "snippet" or not isinstance(
        body.get("snippet"), dict
    ):
        raise errors.google_error(400, "invalidPart", "This sandbox updates part=snippet only, "
                                  "and the body must carry a snippet.")
    post = sb.state.posts[NETWORK].get(str(body.get("id", "")))
    if post is None or post.kind != "post" or post.deleted:
        raise errors.google_error(404, "videoNotFound", "Video not found")
    if post.account_id != account.id:
        raise errors.google_error(403, "forbidden", "The video that you are trying to update "
                                  "cannot be found, or you are not its owner.")
    snippet = body["snippet"]
    _validate_snippet(snippet)
    if not snippet.get("categoryId"):
        raise errors.google_error(400, "invalidCategoryId", "The snippet.categoryId property "
                                  "specifies an invalid category ID.")
    post.extra.update(title=str(snippet["title"]), tags=list(snippet.get("tags") or []),
                      category=str(snippet["categoryId"]))
    post.edit(str(snippet.get("description", "")))
    return json(_video(post, {"snippet"}))


@router.delete("/youtube/v3/videos")
async def delete_video(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    _spend(sb, "insert")
    post = sb.state.posts[NETWORK].get(request.query_params.get("id", ""))
    if post is None or post.deleted or post.account_id != account.id:
        raise errors.google_error(404, "videoNotFound", "Video not found")
    post.deleted = True
    return Response(status_code=204)


@router.get("/youtube/v3/commentThreads")
async def comment_threads(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    _spend(sb, "list")
    q = request.query_params
    video_id = q.get("videoId")
    channel = q.get("allThreadsRelatedToChannelId")
    if not video_id and channel != account.id:
        raise errors.google_error(400, "missingRequiredParameter",
                                  "No filter selected. Expected one of: videoId, "
                                  "allThreadsRelatedToChannelId, id")
    posts = sb.state.posts[NETWORK]
    top = [p for p in posts.values() if p.kind != "post" and not p.extra.get("is_reply")
           and (p.extra.get("video_id") == video_id if video_id
                else p.extra.get("channel_id") == channel)]
    top.sort(key=lambda p: p.created_at, reverse=True)
    try:
        limit = min(100, max(1, int(q.get("maxResults", 20))))
    except ValueError:
        limit = 20
    start = int(q.get("pageToken") or 0) if (q.get("pageToken") or "0").isdigit() else 0
    page = top[start : start + limit]
    items = []
    for thread in page:
        replies = [p for p in posts.values() if p.reply_to == thread.id]
        item: dict[str, Any] = {
            "kind": "youtube#commentThread", "etag": thread.id[-8:], "id": thread.id,
            "snippet": {"channelId": thread.extra.get("channel_id"),
                        "videoId": thread.extra.get("video_id"),
                        "topLevelComment": _comment_resource(thread, thread.extra["video_id"]),
                        "canReply": True, "totalReplyCount": len(replies), "isPublic": True},
        }
        if "replies" in q.get("part", "") and replies:
            item["replies"] = {"comments": [_comment_resource(r, thread.extra["video_id"])
                                            for r in replies]}
        items.append(item)
    out: dict[str, Any] = {"kind": "youtube#commentThreadListResponse", "items": items,
                           "pageInfo": {"totalResults": len(items), "resultsPerPage": limit}}
    if start + limit < len(top):
        out["nextPageToken"] = str(start + limit)
    return json(out)


@router.post("/youtube/v3/comments")
async def insert_comment(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    _spend(sb, "insert")
    body = await json_body(request) or {}
    snippet = body.get("snippet") or {}
    parent = sb.state.posts[NETWORK].get(str(snippet.get("parentId", "")))
    text = str(snippet.get("textOriginal", ""))
    if parent is None or parent.kind == "post":
        raise errors.google_error(404, "parentCommentNotFound",
                                  "The specified parent comment could not be found.")
    if not text:
        raise errors.google_error(400, "commentTextRequired", "The comment text is required.")
    video_id = parent.extra["video_id"]
    reply = sb.state.add_post(Post(
        network=NETWORK, id=f"{parent.id}.{secrets.token_urlsafe(12)}", account_id=account.id,
        text=text, created_at=time.time(), kind="reply", reply_to=parent.id,
        author_id=account.id, author_name=account.name,
        extra={"video_id": video_id, "channel_id": account.id, "is_reply": True},
    ))
    sb.state.posts[NETWORK][video_id].metrics["replies"] = (
        sb.state.posts[NETWORK][video_id].metrics.get("replies", 0.0) + 1
    )
    return json(_comment_resource(reply, video_id))


@router.post("/youtube/v3/commentThreads")
async def insert_comment_thread(request: Request) -> Response:
    """commentThreads.insert: a new top-level comment on a video."""
    sb = sandbox_of(request)
    account = _auth(sb, request)
    _spend(sb, "insert")
    body = await json_body(request) or {}
    snippet = body.get("snippet") or {}
    video = sb.state.posts[NETWORK].get(str(snippet.get("videoId", "")))
    top = ((snippet.get("topLevelComment") or {}).get("snippet") or {})
    text = str(top.get("textOriginal", ""))
    if video is None or video.kind != "post" or video.deleted:
        raise errors.google_error(404, "videoNotFound",
                                  "The video identified by the videoId parameter could not "
                                  "be found.")
    if not text:
        raise errors.google_error(400, "commentTextRequired", "The comment text is required.")
    comment = sb.state.add_post(Post(
        network=NETWORK, id="Ug" + secrets.token_urlsafe(18), account_id=account.id,
        text=text, created_at=time.time(), kind="reply", reply_to=video.id,
        author_id=account.id, author_name=account.name,
        extra={"video_id": video.id, "channel_id": video.account_id, "is_reply": False},
    ))
    video.metrics["replies"] = video.metrics.get("replies", 0.0) + 1
    return json({"kind": "youtube#commentThread", "etag": comment.id[-8:], "id": comment.id,
                 "snippet": {"channelId": video.account_id, "videoId": video.id,
                             "topLevelComment": _comment_resource(comment, video.id),
                             "canReply": True, "totalReplyCount": 0, "isPublic": True}})
