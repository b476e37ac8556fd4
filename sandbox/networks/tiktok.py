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
    # TikTok documents no comment event; this one follows its envelope (unconfirmed).
    content = {"comment_id": comment.id, "video_id": post.id, "text": text,
               "user": {"open_id": fan.id, "display_name": fan.name},
               "create_time": int(comment.created_at)}
    payload = {"client_key": sb.state.apps[NETWORK].client_id, "event": "comment.create",
               "create_time": int(time.time()), "user_openid": owner.id,
               "content": orjson.dumps(content).decode()}
    delivery = sb.deliveries.send(NETWORK, "comment.create", payload)
    return {"id": comment.id, "text": text, "delivery_id": delivery["id"]}


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
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.tiktok_error(400, "invalid_params", "video_size is required") from exc
        out["upload_url"] = f"{sb.base_url(NETWORK)}/upload/?upload_id={publish_id}"
    elif source.get("source") == "PULL_FROM_URL":
        url = str(source.get("video_url", ""))
        if not url.startswith(("http://", "https://")):
            raise errors.tiktok_error(400, "invalid_params", "video_url is invalid")
        record["status"] = "PROCESSING_DOWNLOAD"
        record["digest"] = f"url:{url}"
    else:
        raise errors.tiktok_error(400, "invalid_params", "source_info.source is invalid")
    _publishes(sb)[publish_id] = record
    return ok(out)


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
    return Response(status_code=201)


@router.post("/v2/post/publish/status/fetch/")
async def status_fetch(request: Request) -> Response:
    sb = sandbox_of(request)
    account = _auth(sb, request)
    body = await json_body(request) or {}
    record = _publishes(sb).get(str(body.get("publish_id", "")))
    if record is None or record["account_id"] != account.id:
        raise errors.tiktok_error(400, "invalid_publish_id", "publish_id does not exist")
    if record["status"] == "PROCESSING_DOWNLOAD":
        record["polls"] += 1
        if record["polls"] > sb.settings.processing_polls:
            _finish(sb, account, record)
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
    sb.state.add_post(Post(
        network=NETWORK, id=video_id, account_id=account.id, text=str(info.get("title", "")),
        created_at=time.time(),
        media=[{"id": video_id, "kind": "video", "digest": record["digest"]}],
        url=f"https://www.tiktok.com/@{account.username}/video/{video_id}",
        author_id=account.id, author_name=account.name, author_username=account.username,
        visibility=str(info.get("privacy_level")), extra={"privacy": info.get("privacy_level")},
    ))
    record["post_id"] = video_id
    record["status"] = "PUBLISH_COMPLETE"


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
