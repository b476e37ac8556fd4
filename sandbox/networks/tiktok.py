"""TikTok Content Posting API: ``https://open.tiktokapis.com`` ↔ ``{public_url}/tiktok``."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import errors, oauth
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import bearer, json, json_body, params
from sandbox.media import sniff
from sandbox.networks.common import expires_at, slug
from sandbox.state import Account, Post

NETWORK = "tiktok"
MAX_CAPTION = 2200
REFRESH_TTL = 365 * 24 * 3600
PRIVACY = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
MB = 1024 * 1024
# Media transfer guide: chunks of 5–64 MB (the last up to 128 MB); under 5 MB, one whole chunk.
MIN_CHUNK, MAX_CHUNK, MAX_LAST_CHUNK = 5 * MB, 64 * MB, 128 * MB
MAX_PHOTOS, MAX_PHOTO_TITLE, MAX_PHOTO_DESCRIPTION = 35, 90, 4000
# TikTok goes on processing an upload whether or not anyone polls its status.
PROCESSING_SECONDS = 1.0

router = APIRouter(tags=["tiktok"])
router.include_router(oauth.authorize_router(NETWORK, require_pkce=True))


def ok(data: dict[str, Any]) -> Response:
    return json({"data": data, "error": {"code": "ok", "message": "",
                                         "log_id": secrets.token_hex(16)}})


def make_account(sb: Sandbox, name: str | None) -> Account:
    n = sb.state.seq()
    display = name or f"Sandbox TikTok {n}"
    open_id = "-000" + hashlib.sha256(f"{sb.settings.seed}:{n}:{time.time()}".encode()) \
        .hexdigest()[:32]
    return sb.state.add_account(Account(
        network=NETWORK, id=open_id, name=display,
        username=f"{slug(display, 'user')[:12]}{n}", created_at=time.time(),
    ))


def external_id(account: Account) -> str:
    return account.id


def _issue(sb: Sandbox, account: Account, scope: str) -> dict[str, Any]:
    ttl = sb.settings.token_ttl_seconds
    access = sb.state.issue(NETWORK, account.id, ttl=ttl, prefix="act.", scope=scope)
    refresh = sb.state.issue(NETWORK, account.id, kind="refresh", ttl=REFRESH_TTL,
                             prefix="rft.", scope=scope)
    return {"access_token": access.value, "expires_in": ttl, "open_id": account.id,
            "refresh_expires_in": REFRESH_TTL, "refresh_token": refresh.value, "scope": scope,
            "token_type": "Bearer"}


def credentials(sb: Sandbox, account: Account) -> dict[str, Any]:
    issued = _issue(sb, account, "user.info.basic,video.publish,video.upload,video.list")
    return {"access_token": issued["access_token"], "refresh_token": issued["refresh_token"],
            "expires_at": expires_at(issued["expires_in"]), "open_id": account.id}


def add_comment(sb: Sandbox, post: Post, text: str, author: str) -> dict[str, Any]:
    owner = sb.state.accounts[NETWORK][post.account_id or ""]
    fan = sb.state.fan(NETWORK, author)
    comment = sb.state.add_post(Post(
        network=NETWORK, id=sb.state.numeric_id("7"), account_id=None, text=text,
        created_at=time.time(), kind="comment", reply_to=post.id, author_id=fan.id,
        author_name=fan.name, author_username=fan.username,
    ))
    post.metrics["replies"] = post.metrics.get("replies", 0.0) + 1
    # TikTok has no comment webhook event and its API lists no comments to an account's app:
    # the comment is on the network, and nothing tells Herald about it.
    return {"id": comment.id, "text": text, "delivery_id": None, "owner": owner.id}


def send_event(sb: Sandbox, account: Account, event: str, content: dict[str, Any]) -> None:
    """One of TikTok's real webhook events, to the app's callback (set in its portal)."""
    payload = {"client_key": sb.state.apps[NETWORK].client_id, "event": event,
               "create_time": int(time.time()), "user_openid": account.id,
               "content": orjson.dumps(content).decode()}
    sb.deliveries.send(NETWORK, event, payload)


def _auth(sb: Sandbox, request: Request) -> Account:
    return sb.authenticate(NETWORK, bearer(request))


@router.post("/v2/oauth/token/")
async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    form = await params(request)
    try:
        oauth.check_client(sb, NETWORK, str(form.get("client_key", "")),
                           form.get("client_secret"))
        grant = form.get("grant_type")
        if grant == "authorization_code":
            account, scope = oauth.redeem_code(
                sb, NETWORK, code=str(form.get("code", "")),
                client_id=str(form.get("client_key", "")),
                redirect_uri=form.get("redirect_uri"), verifier=form.get("code_verifier"),
            )
            return json(_issue(sb, account, scope))
        if grant == "refresh_token":
            old = oauth.use_refresh(sb, NETWORK, str(form.get("refresh_token", "")),
                                    rotate=True)
            return json(_issue(sb, sb.state.accounts[NETWORK][old.account_id], old.scope))
    except oauth.OAuthFailure as exc:
        return json({"error": exc.error, "error_description": exc.description,
                     "log_id": secrets.token_hex(16)}, 400)
    return json({"error": "unsupported_grant_type", "error_description": "grant_type",
                 "log_id": secrets.token_hex(16)}, 400)


@router.get("/v2/user/info/")
async def user_info(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    fields = set(request.query_params.get("fields", "open_id").split(","))
    values = {"open_id": account.id, "union_id": "u" + account.id[4:], "display_name":
              account.name, "username": account.username,
              "avatar_url": "https://p16-sign.tiktokcdn.com/avatar.jpeg",
              "follower_count": int(account.extra.get("followers", 0)),
              "video_count": len(sb.state.by_account.get((NETWORK, account.id), ()))}
    return ok({"user": {k: v for k, v in values.items() if k in fields}})


@router.post("/v2/post/publish/creator_info/query/")
async def creator_info(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    return ok({"creator_avatar_url": "https://p16-sign.tiktokcdn.com/avatar.jpeg",
               "creator_username": account.username, "creator_nickname": account.name,
               "privacy_level_options": PRIVACY, "comment_disabled": False,
               "duet_disabled": False, "stitch_disabled": False,
               "max_video_post_duration_sec": 600})


def _publishes(sb: Sandbox) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = sb.state.kv[NETWORK].setdefault("publishes", {})
    return found


@router.post("/v2/post/publish/video/init/")
@router.post("/v2/post/publish/inbox/video/init/")
async def video_init(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    body = await json_body(request) or {}
    post_info = body.get("post_info") or {}
    source = body.get("source_info") or {}
    inbox = "/inbox/" in request.url.path
    if not inbox and post_info.get("privacy_level") not in PRIVACY:
        raise errors.tiktok_error(400, "invalid_params",
                                  "privacy_level must be one of the creator_info options")
    if len(str(post_info.get("title", ""))) > MAX_CAPTION:
        raise errors.tiktok_error(400, "invalid_params", "title is too long")
    publish_id = f"v_pub_file~v2-1.{sb.state.numeric_id('7')}"
    record: dict[str, Any] = {"account_id": account.id, "post_info": post_info,
                              "status": "PROCESSING_UPLOAD", "polls": 0, "data": {},
                              "size": 0, "received": 0, "inbox": inbox, "post_id": None}
    out: dict[str, Any] = {"publish_id": publish_id}
    if source.get("source") == "FILE_UPLOAD":
        try:
            record["size"] = int(source["video_size"])
            chunk = int(source["chunk_size"])
            chunks = int(source["total_chunk_count"])
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.tiktok_error(
                400, "invalid_params",
                "video_size, chunk_size and total_chunk_count are required") from exc
        _check_chunks(record["size"], chunk, chunks)
        record["chunk_size"] = chunk
        out["upload_url"] = f"{sb.base_url(NETWORK)}/upload/?upload_id={publish_id}"
    elif source.get("source") == "PULL_FROM_URL":
        url = str(source.get("video_url", ""))
        if not url.startswith(("http://", "https://")):
            raise errors.tiktok_error(400, "invalid_params", "video_url is invalid")
        record["status"] = "PROCESSING_DOWNLOAD"
        record["digest"] = f"url:{url}"
        record["ready_at"] = time.time() + PROCESSING_SECONDS
    else:
        raise errors.tiktok_error(400, "invalid_params", "source_info.source is invalid")
    _publishes(sb)[publish_id] = record
    return ok(out)


def _check_chunks(size: int, chunk: int, chunks: int) -> None:
    if size <= 0:
        raise errors.tiktok_error(400, "invalid_params", "video_size is invalid")
    if size < MIN_CHUNK or chunk == size:
        valid = chunk == size and chunks == 1 and size <= MAX_LAST_CHUNK
    else:
        last = size - chunk * (chunks - 1)
        valid = (MIN_CHUNK <= chunk <= MAX_CHUNK and chunks == size // chunk
                 and chunk <= last <= MAX_LAST_CHUNK)
    if not valid:
        raise errors.tiktok_error(400, "invalid_params",
                                  "The chunk_size or total_chunk_count is invalid")


@router.post("/v2/post/publish/content/init/")
async def content_init(request: Request) -> Response:
    """Photo posts: TikTok pulls the images from their URLs, so publishing starts here."""
    sb = sandbox_of(request)
    account = _auth(sb, request)
    body = await json_body(request) or {}
    post_info = body.get("post_info") or {}
    source = body.get("source_info") or {}
    if body.get("media_type") != "PHOTO":
        raise errors.tiktok_error(400, "invalid_params", "media_type must be PHOTO")
    mode = body.get("post_mode")
    if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        raise errors.tiktok_error(400, "invalid_params", "post_mode is invalid")
    if mode == "DIRECT_POST" and post_info.get("privacy_level") not in PRIVACY:
        raise errors.tiktok_error(400, "invalid_params",
                                  "privacy_level must be one of the creator_info options")
    if len(str(post_info.get("title", ""))) > MAX_PHOTO_TITLE or len(
            str(post_info.get("description", ""))) > MAX_PHOTO_DESCRIPTION:
        raise errors.tiktok_error(400, "invalid_params", "title or description is too long")
    images = [str(u) for u in source.get("photo_images") or []]
    if (source.get("source") != "PULL_FROM_URL" or not 1 <= len(images) <= MAX_PHOTOS
            or not all(u.startswith(("http://", "https://")) for u in images)):
        raise errors.tiktok_error(400, "invalid_params",
                                  "photo_images must be 1 to 35 URLs pulled from the web")
    if not 0 <= int(source.get("photo_cover_index") or 0) < len(images):
        raise errors.tiktok_error(400, "invalid_params", "photo_cover_index is out of range")
    publish_id = f"p_pub_url~v2.{sb.state.numeric_id('7')}"
    _publishes(sb)[publish_id] = {
        "account_id": account.id, "post_info": post_info, "status": "PROCESSING_DOWNLOAD",
        "polls": 0, "data": {}, "size": 0, "received": 0, "inbox": mode == "MEDIA_UPLOAD",
        "post_id": None, "photos": images, "ready_at": time.time() + PROCESSING_SECONDS,
    }
    return ok({"publish_id": publish_id})


@router.put("/upload/")
async def upload(request: Request) -> Response:
    sb = sandbox_of(request)
    record = _publishes(sb).get(request.query_params.get("upload_id", ""))
    if record is None:
        raise errors.tiktok_error(404, "invalid_params", "upload_id not found")
    match = RANGE.match(request.headers.get("content-range", ""))
    data = await request.body()
    if match is None:
        raise errors.tiktok_error(400, "invalid_params", "Content-Range header is required")
    first, last, total = (int(g) for g in match.groups())
    if total != record["size"] or last - first + 1 != len(data):
        raise errors.tiktok_error(400, "invalid_params", "Content-Range does not match")
    record["data"][first] = data
    record["received"] = sum(len(d) for d in record["data"].values())
    if record["received"] < record["size"]:
        return Response(status_code=206)
    blob = b"".join(record["data"][k] for k in sorted(record["data"]))
    record["data"] = {}
    found = sniff(blob)
    if found is None or found[0] != "video":
        record["status"] = "FAILED"
        record["fail_reason"] = "file_format_check_failed"
    else:
        record["status"] = "PROCESSING_DOWNLOAD"
        record["digest"] = hashlib.sha256(blob).hexdigest()
        record["ready_at"] = time.time() + PROCESSING_SECONDS
    return Response(status_code=201)


def _advance(sb: Sandbox, record: dict[str, Any], *, polled: bool) -> None:
    if record["status"] != "PROCESSING_DOWNLOAD":
        return
    if polled:
        record["polls"] += 1
    if (record["polls"] > sb.settings.processing_polls
            or time.time() >= record.get("ready_at", float("inf"))):
        _finish(sb, sb.state.accounts[NETWORK][record["account_id"]], record)


@router.post("/v2/post/publish/status/fetch/")
async def status_fetch(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    body = await json_body(request) or {}
    record = _publishes(sb).get(str(body.get("publish_id", "")))
    if record is None or record["account_id"] != account.id:
        raise errors.tiktok_error(400, "invalid_publish_id", "publish_id does not exist")
    _advance(sb, record, polled=True)
    out: dict[str, Any] = {"status": record["status"], "uploaded_bytes": record["received"]}
    if record["status"] == "FAILED":
        out["fail_reason"] = record.get("fail_reason", "internal")
    if record["post_id"]:
        out["publicaly_available_post_id"] = [int(record["post_id"])]
    return ok(out)


def _finish(sb: Sandbox, account: Account, record: dict[str, Any]) -> None:
    if record["inbox"]:
        record["status"] = "SEND_TO_USER_INBOX"
        return
    info = record["post_info"]
    video_id = sb.state.numeric_id("73")
    photos = record.get("photos")
    # A photo post's caption is its description; a video's is its title.
    text = str(info.get("description", "")) if photos else str(info.get("title", ""))
    media = ([{"id": f"{video_id}-{i}", "kind": "image", "url": url}
              for i, url in enumerate(photos)] if photos
             else [{"id": video_id, "kind": "video", "digest": record["digest"]}])
    sb.state.add_post(Post(
        network=NETWORK, id=video_id, account_id=account.id, text=text,
        created_at=time.time(), media=media,
        url=f"https://www.tiktok.com/@{account.username}/{'photo' if photos else 'video'}/"
            f"{video_id}",
        author_id=account.id, author_name=account.name, author_username=account.username,
        visibility=str(info.get("privacy_level")), extra={"privacy": info.get("privacy_level")},
    ))
    record["post_id"] = video_id
    record["status"] = "PUBLISH_COMPLETE"
    publish_id = next((k for k, v in _publishes(sb).items() if v is record), "")
    send_event(sb, account, "video.publish.completed",
               {"publish_id": publish_id, "publish_type": "DIRECT_PUBLISH"})


@router.post("/v2/video/query/")
async def video_query(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    fields = set(request.query_params.get("fields", "id").split(","))
    body = await json_body(request) or {}
    ids = [str(i) for i in ((body.get("filters") or {}).get("video_ids") or [])][:20]
    videos = []
    for vid in ids:
        post = sb.state.posts[NETWORK].get(vid)
        if post is None or post.account_id != account.id or post.deleted:
            continue
        values = {"id": post.id, "title": post.text, "video_description": post.text,
                  "create_time": int(post.created_at), "share_url": post.url,
                  "view_count": post.count("views"), "like_count": post.count("likes"),
                  "comment_count": post.count("replies"), "share_count": post.count("shares")}
        videos.append({k: v for k, v in values.items() if k in fields})
    return ok({"videos": videos, "cursor": 0, "has_more": False})


@router.post("/v2/video/list/")
async def video_list(request: Request) -> Response:
    """The user's videos, newest first; `cursor` is the create time (ms) to page below."""
    sb = sandbox_of(request)
    account = _auth(sb, request)
    fields = set(request.query_params.get("fields", "id").split(","))
    body = await json_body(request) or {}
    try:
        max_count = min(20, max(1, int(body.get("max_count", 10))))
        cursor = int(body.get("cursor") or 0)
    except (TypeError, ValueError) as exc:
        raise errors.tiktok_error(400, "invalid_params", "max_count/cursor") from exc
    for record in list(_publishes(sb).values()):
        if record["account_id"] == account.id:
            _advance(sb, record, polled=False)
    posts = [p for p in sb.state.account_posts(NETWORK, account.id)
             if p.kind == "post" and not p.deleted
             and (not cursor or int(p.created_at * 1000) < cursor)]
    posts.sort(key=lambda p: p.created_at, reverse=True)
    page = posts[:max_count]
    videos = []
    for post in page:
        values = {"id": post.id, "title": post.text, "video_description": post.text,
                  "create_time": int(post.created_at), "share_url": post.url,
                  "duration": 1, "view_count": post.count("views"),
                  "like_count": post.count("likes"), "comment_count": post.count("replies"),
                  "share_count": post.count("shares")}
        videos.append({k: v for k, v in values.items() if k in fields})
    next_cursor = int(page[-1].created_at * 1000) if page else cursor
    return ok({"videos": videos, "cursor": next_cursor, "has_more": len(posts) > max_count})
