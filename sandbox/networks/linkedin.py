"""LinkedIn Community Management API: ``https://api.linkedin.com`` and ``https://www.linkedin.com``
(OAuth) ↔ ``{public_url}/linkedin``."""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import errors, moderation, oauth, polls, subscriptions
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import bearer, json, json_body, params
from sandbox.media import sniff
from sandbox.networks.common import expires_at
from sandbox.state import Account, Media, Post

NETWORK = "linkedin"
MAX_COMMENTARY = 3000
REFRESH_TTL = 365 * 24 * 3600

router = APIRouter(tags=["linkedin"])
router.include_router(oauth.authorize_router(NETWORK, require_pkce=False))
router.include_router(subscriptions.linkedin_router())
router.include_router(moderation.linkedin_router())


def make_account(sb: Sandbox, name: str | None) -> Account:
    n = sb.state.seq()
    org = str(10_000_000 + n)
    person = f"p{sb.state.numeric_id('')[-9:]}"
    return sb.state.add_account(Account(
        network=NETWORK, id=org, name=name or f"Sandbox Company {n}",
        username=f"sandbox-company-{n}", created_at=time.time(),
        extra={"urn": f"urn:li:organization:{org}", "person": person,
               "person_urn": f"urn:li:person:{person}"},
    ))


def external_id(account: Account) -> str:
    urn: str = account.extra["urn"]
    return urn


def _issue(sb: Sandbox, account: Account, scope: str) -> dict[str, Any]:
    ttl = sb.settings.long_token_ttl_seconds
    access = sb.state.issue(NETWORK, account.id, ttl=ttl, prefix="AQV", scope=scope)
    refresh = sb.state.issue(NETWORK, account.id, kind="refresh", ttl=REFRESH_TTL,
                             prefix="AQX", scope=scope)
    return {"access_token": access.value, "expires_in": ttl, "refresh_token": refresh.value,
            "refresh_token_expires_in": REFRESH_TTL, "scope": scope}


def credentials(sb: Sandbox, account: Account) -> dict[str, Any]:
    issued = _issue(sb, account, "openid profile w_organization_social r_organization_social")
    return {"access_token": issued["access_token"], "refresh_token": issued["refresh_token"],
            "expires_at": expires_at(issued["expires_in"]),
            "organization_urn": account.extra["urn"], "person_urn": account.extra["person_urn"]}


def _comment_urn(post: Post, comment_id: str) -> str:
    activity = post.extra.get("activity", post.id)
    return f"urn:li:comment:({activity},{comment_id})"


def _add_comment(sb: Sandbox, post: Post, text: str, actor: str, name: str,
                 account_id: str | None) -> Post:
    comment_id = sb.state.numeric_id("7")
    comment = sb.state.add_post(Post(
        network=NETWORK, id=_comment_urn(post, comment_id), account_id=account_id, text=text,
        created_at=time.time(), kind="comment" if account_id is None else "reply",
        reply_to=post.id, author_id=actor, author_name=name, extra={"short_id": comment_id},
    ))
    post.metrics["replies"] = post.metrics.get("replies", 0.0) + 1
    return comment


def add_comment(sb: Sandbox, post: Post, text: str, author: str) -> dict[str, Any]:
    owner = sb.state.accounts[NETWORK][post.account_id or ""]
    fan = sb.state.fan(NETWORK, author)
    actor = f"urn:li:person:{fan.id}"
    comment = _add_comment(sb, post, text, actor, fan.name, None)
    now = int(time.time() * 1000)
    payload = {
        "type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
        "notifications": [{
            "action": "COMMENT",
            "organizationalEntity": owner.extra["urn"],
            "sourcePost": post.id,
            "generatedActivity": comment.id,
            "decoratedGeneratedActivity": {"comment": {
                "entity": post.id, "text": text,
                "fullName": fan.name, "owner": actor,
            }},
            "actor": actor,
            "lastModifiedAt": now,
        }],
    }
    delivery = sb.deliveries.send(NETWORK, "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", payload,
                                 account_id=owner.id)
    return {"id": comment.id, "text": text, "delivery_id": delivery["id"]}


def _restli(request: Request) -> None:
    if not request.headers.get("linkedin-version"):
        raise errors.linkedin_error(400, "VERSION_MISSING", "A version must be present. Please "
                                    "specify a version by adding the LinkedIn-Version header.")
    if request.headers.get("x-restli-protocol-version") != "2.0.0" and request.method != "GET":
        raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 "
                                    "is required")


@router.post("/oauth/v2/accessToken")
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
            return json(_issue(sb, account, scope))
        if grant == "refresh_token":
            # LinkedIn keeps the refresh token; only the access token is new.
            old = oauth.use_refresh(sb, NETWORK, str(form.get("refresh_token", "")),
                                    rotate=False)
            ttl = sb.settings.long_token_ttl_seconds
            access = sb.state.issue(NETWORK, old.account_id, ttl=ttl, prefix="AQV",
                                    scope=old.scope)
            remaining = int((old.expires_at or time.time()) - time.time())
            return json({"access_token": access.value, "expires_in": ttl,
                         "refresh_token": old.value, "refresh_token_expires_in": remaining,
                         "scope": old.scope})
    except oauth.OAuthFailure as exc:
        return json({"error": exc.error, "error_description": exc.description},
                    401 if exc.error == "invalid_client" else 400)
    return json({"error": "unsupported_grant_type", "error_description": "grant_type"}, 400)


@router.get("/v2/userinfo")
async def userinfo(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    first, _, last = account.name.partition(" ")
    return json({"sub": account.extra["person"], "name": account.name, "given_name": first,
                 "family_name": last or first, "email_verified": True,
                 "email": f"{account.username}@example.com", "locale": {"country": "US",
                                                                        "language": "en"}})


@router.get("/rest/organizationAcls")
@router.get("/v2/organizationAcls")
async def organization_acls(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    return json({"paging": {"count": 10, "start": 0, "total": 1}, "elements": [{
        "organization": account.extra["urn"], "role": "ADMINISTRATOR", "state": "APPROVED",
        "roleAssignee": account.extra["person_urn"]}]})


@router.get("/rest/organizations/{org_id}")
async def organization(org_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    account = sb.state.account(NETWORK, org_id)
    if account is None:
        raise errors.linkedin_error(404, "NOT_FOUND", "Organization not found")
    return json({"id": int(org_id), "localizedName": account.name,
                 "vanityName": account.username})


@router.post("/rest/posts", status_code=201)
async def create_post(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    _restli(request)
    body = await json_body(request)
    if not body:
        raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", "Request body is required")
    author = body.get("author")
    if author not in (account.extra["urn"], account.extra["person_urn"]):
        raise errors.linkedin_error(403, "ACCESS_DENIED",
                                    f"Not enough permissions to post as {author}", 100)
    for field in ("visibility", "distribution", "lifecycleState"):
        if field not in body:
            raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                        f"/{field} :: field is required but not found")
    text = str(body.get("commentary") or "")
    if len(text) > MAX_COMMENTARY:
        raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                    "/commentary :: length exceeds 3000 characters")
    last = sb.state.last_post(NETWORK, account.id)
    if last is not None and text and last.text.strip() == text.strip():
        err = errors.linkedin_error(422, "DUPLICATE_POST",
                                    f"Content is a duplicate of {last.id}")
        err.body["errorDetailType"] = "com.linkedin.common.error.BadRequest"
        raise err
    media = []
    content = body.get("content") or {}
    refs = [content["media"]] if "media" in content else (
        content.get("multiImage") or {}).get("images", [])
    for ref in refs:
        image = sb.state.media[NETWORK].get(str(ref.get("id")))
        if image is None or image.status != "succeeded":
            raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                        f"/content/media/id :: {ref.get('id')} is not ready")
        media.append({"id": image.id, "kind": image.kind, "digest": image.digest,
                      "alt": ref.get("altText", "")})
    extra: dict[str, Any] = {}
    if "article" in content:
        extra["article"] = _article(sb, content["article"])
    if "poll" in content:
        extra["poll"] = _poll(content["poll"])
    share_id = sb.state.numeric_id("7")
    urn = f"urn:li:share:{share_id}"
    sb.state.add_post(Post(
        network=NETWORK, id=urn, account_id=account.id, text=text, created_at=time.time(),
        media=media, url=f"https://www.linkedin.com/feed/update/{urn}/",
        author_id=str(author), author_name=account.name,
        visibility=str(body.get("visibility")),
        extra={"short_id": share_id, "activity": f"urn:li:activity:{share_id}", **extra},
    ))
    return Response(status_code=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})


def _article(sb: Any, article: Any) -> dict[str, Any]:
    """Posts API article content: `source` (an http(s) URL) and `title` are required, a
    `thumbnail` must be an image uploaded through the Images API."""
    if not isinstance(article, dict):
        raise errors.linkedin_error(400, "BAD_REQUEST", "/content/article :: not a record")
    source = str(article.get("source") or "")
    if not source.startswith(("http://", "https://")):
        raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                    "/content/article/source :: a URL is required")
    if not str(article.get("title") or "").strip():
        raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                    "/content/article/title :: field is required")
    thumbnail = article.get("thumbnail")
    if thumbnail is not None:
        image = sb.state.media[NETWORK].get(str(thumbnail))
        if image is None or image.status != "succeeded":
            raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                        f"/content/article/thumbnail :: {thumbnail} is not ready")
    return {k: article[k] for k in ("source", "title", "description", "thumbnail")
            if article.get(k) is not None}


POLL_DAYS = {"ONE_DAY": 1, "THREE_DAYS": 3, "SEVEN_DAYS": 7, "FOURTEEN_DAYS": 14}


def _poll(poll: Any) -> dict[str, Any]:
    """Posts API poll content: a question of at most 140 characters, 2 to 4 options of at
    most 30, and one of four durations."""
    if not isinstance(poll, dict):
        raise errors.linkedin_error(400, "BAD_REQUEST", "/content/poll :: not a record")
    question = str(poll.get("question") or "")
    if not question.strip() or len(question) > 140:
        raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                    "/content/poll/question :: 1 to 140 characters")
    options = [str((o or {}).get("text") or "") for o in poll.get("options") or []]
    if not 2 <= len(options) <= 4 or any(not o.strip() or len(o) > 30 for o in options):
        raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                    "/content/poll/options :: 2 to 4 options of 1 to 30 characters")
    duration = str((poll.get("settings") or {}).get("duration") or "")
    if duration not in POLL_DAYS:
        raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                    f"/content/poll/settings/duration :: {duration!r} is not one "
                                    "of ONE_DAY, THREE_DAYS, SEVEN_DAYS, FOURTEEN_DAYS")
    held = polls.new_poll(options, minutes=POLL_DAYS[duration] * 24 * 60)
    held["question"] = question
    return held


def _post_view(post: Post) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": post.id, "author": post.author_id, "commentary": post.text,
        "visibility": post.visibility, "lifecycleState": "PUBLISHED",
        "createdAt": int(post.created_at * 1000),
        "publishedAt": int(post.created_at * 1000),
        "lastModifiedAt": int((post.edited_at or post.created_at) * 1000),
        "distribution": {"feedDistribution": "MAIN_FEED"},
    }
    refs = [{"id": m["id"], "altText": m.get("alt", "")} for m in post.media]
    if len(refs) == 1:
        view["content"] = {"media": refs[0]}
    elif refs:
        view["content"] = {"multiImage": {"images": refs}}
    elif "article" in post.extra:
        view["content"] = {"article": post.extra["article"]}
    elif "poll" in post.extra:
        poll = post.extra["poll"]
        days = {v: k for k, v in POLL_DAYS.items()}[poll["duration_minutes"] // (24 * 60)]
        view["content"] = {"poll": {
            "question": poll["question"],
            "options": [{"text": o["label"], "voteCount": o["votes"]} for o in poll["options"]],
            "settings": {"duration": days},
        }}
    return view


@router.get("/rest/posts")
async def find_posts(request: Request) -> Response:
    """Posts API "find by author": the author's posts, newest first."""
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    _restli(request)
    q = request.query_params
    if q.get("q") != "author":
        raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", "Finder q=author is required")
    author = unquote(q.get("author", ""))
    if author not in (account.extra["urn"], account.extra["person_urn"]):
        raise errors.linkedin_error(403, "ACCESS_DENIED",
                                    f"Not enough permissions to read posts of {author}", 100)
    try:
        start = max(0, int(q.get("start", 0)))
        count = min(100, max(1, int(q.get("count", 10))))
    except ValueError as exc:
        raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", "start/count") from exc
    posts = [p for p in sb.state.account_posts(NETWORK, account.id)
             if p.kind == "post" and not p.deleted and p.author_id == author]
    posts.sort(key=lambda p: p.created_at, reverse=True)
    page = posts[start : start + count]
    return json({"paging": {"start": start, "count": count, "total": len(posts), "links": []},
                 "elements": [_post_view(p) for p in page]})


# What a partial update of a post may set (Posts API); anything else is refused.
EDITABLE = frozenset({"commentary", "contentCallToActionLabel", "contentLandingPage",
                      "lifecycleStateInfo", "adContext"})


@router.api_route("/rest/posts/{urn:path}", methods=["GET", "POST", "DELETE"])
async def post_by_urn(urn: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    _restli(request)
    post = sb.state.posts[NETWORK].get(unquote(urn))
    if post is None or post.deleted or post.account_id != account.id:
        raise errors.linkedin_error(404, "NOT_FOUND", f"Post {urn} not found")
    if request.method == "DELETE":
        post.deleted = True
        return Response(status_code=204)
    if request.method == "POST":
        return await _partial_update(request, post)
    return json(_post_view(post))


async def _partial_update(request: Request, post: Post) -> Response:
    if request.headers.get("x-restli-method", "").upper() != "PARTIAL_UPDATE":
        raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT",
                                    "POST on an entity needs X-RestLi-Method: PARTIAL_UPDATE")
    body = await json_body(request) or {}
    changes = (body.get("patch") or {}).get("$set")
    if not isinstance(changes, dict) or not changes:
        raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", "/patch/$set :: is required")
    for field in sorted(set(changes) - EDITABLE):
        raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                    f"/patch/$set/{field} :: field cannot be updated")
    if "commentary" in changes:
        text = str(changes["commentary"] or "")
        if len(text) > MAX_COMMENTARY:
            raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                        "/commentary :: length exceeds 3000 characters")
        post.edit(text)
    return Response(status_code=204)


@router.api_route("/rest/socialActions/{urn:path}/comments", methods=["GET", "POST"])
async def comments(urn: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    _restli(request)
    urn = unquote(urn)
    post = sb.state.posts[NETWORK].get(urn)
    if post is None:
        for candidate in sb.state.posts[NETWORK].values():
            if candidate.extra.get("activity") == urn:
                post = candidate
                break
    if post is None or post.deleted:
        raise errors.linkedin_error(404, "NOT_FOUND", f"{urn} not found")
    if request.method == "GET":
        items = [x for x in sb.state.posts[NETWORK].values() if x.reply_to == post.id]
        return json({"paging": {"start": 0, "count": 10, "total": len(items)}, "elements": [
            {"id": x.extra["short_id"], "$URN": x.id, "actor": x.author_id,
             "message": {"text": x.text}, "object": post.id,
             "created": {"actor": x.author_id, "time": int(x.created_at * 1000)}}
            for x in items]})
    body = await json_body(request) or {}
    text = str((body.get("message") or {}).get("text", ""))
    if not text:
        raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY", "/message/text is required")
    actor = str(body.get("actor") or account.extra["urn"])
    comment = _add_comment(sb, post, text, actor, account.name, account.id)
    return json({"id": comment.extra["short_id"], "$URN": comment.id, "actor": actor,
                 "object": post.id, "message": {"text": text},
                 "created": {"actor": actor, "time": int(comment.created_at * 1000)}}, 201,
                headers={"x-restli-id": comment.id})


@router.get("/rest/organizationalEntityShareStatistics")
async def share_statistics(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    q = request.query_params
    raw = [v for k, v in q.multi_items() if k.startswith("shares") or k.startswith("ugcPosts")]
    urns: list[str] = []
    for value in raw:
        value = unquote(value)
        if value.startswith("List("):
            urns.extend(u for u in value[5:-1].split(",") if u)
        else:
            urns.append(value)
    posts = sb.state.posts[NETWORK]
    targets = [posts[u] for u in urns if u in posts] if urns else [
        p for p in sb.state.account_posts(NETWORK, account.id) if p.kind == "post"]
    elements = []
    for post in targets:
        views = post.count("views")
        engaged = post.count("likes") + post.count("replies") + post.count("shares") + \
            post.count("clicks")
        elements.append({
            "share": post.id, "organizationalEntity": account.extra["urn"],
            "totalShareStatistics": {
                "impressionCount": views, "uniqueImpressionsCount": post.count("reach"),
                "clickCount": post.count("clicks"), "likeCount": post.count("likes"),
                "commentCount": post.count("replies"), "shareCount": post.count("shares"),
                "engagement": round(engaged / views, 6) if views else 0.0,
            },
        })
    return json({"paging": {"start": 0, "count": len(elements)}, "elements": elements})


@router.post("/rest/images")
async def initialize_image(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    _restli(request)
    if request.query_params.get("action") != "initializeUpload":
        raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", "action=initializeUpload required")
    body = await json_body(request) or {}
    owner = (body.get("initializeUploadRequest") or {}).get("owner")
    if owner not in (account.extra["urn"], account.extra["person_urn"]):
        raise errors.linkedin_error(403, "ACCESS_DENIED",
                                    f"Not enough permissions to upload as {owner}", 100)
    image_id = sb.state.numeric_id("D4")
    urn = f"urn:li:image:{image_id}"
    sb.state.media[NETWORK][urn] = Media(id=urn, network=NETWORK, account_id=account.id,
                                         kind="image", mime="", size=0, digest="")
    return json({"value": {
        "uploadUrlExpiresAt": int((time.time() + 3600) * 1000),
        "uploadUrl": f"{sb.base_url(NETWORK)}/dms-uploads/{image_id}",
        "image": urn,
    }})


@router.put("/dms-uploads/{image_id}", status_code=201)
async def upload_image(image_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    item = sb.state.media[NETWORK].get(f"urn:li:image:{image_id}")
    if item is None:
        raise errors.linkedin_error(404, "NOT_FOUND", "Upload not found")
    data = await request.body()
    found = sniff(data)
    if found is None:
        raise errors.linkedin_error(400, "BAD_REQUEST", "Unsupported media")
    item.kind, item.mime = found
    item.size = len(data)
    item.digest = hashlib.sha256(data).hexdigest()
    item.status = "succeeded"
    return Response(status_code=201)


@router.get("/rest/images/{urn:path}")
async def image_status(urn: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    _restli(request)
    item = sb.state.media[NETWORK].get(unquote(urn))
    if item is None or item.account_id != account.id:
        raise errors.linkedin_error(404, "NOT_FOUND", f"Image {urn} not found")
    status = "AVAILABLE" if item.status == "succeeded" else "WAITING_UPLOAD"
    return json({"id": item.id, "status": status, "owner": account.extra["urn"]})


# Videos API: initializeUpload → PUT each part (ETag) → finalizeUpload → poll until AVAILABLE.
VIDEO_PART = 4 * 1024 * 1024


@router.post("/rest/videos")
async def video_action(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    _restli(request)
    action = request.query_params.get("action")
    body = await json_body(request) or {}
    if action == "initializeUpload":
        spec = body.get("initializeUploadRequest") or {}
        if spec.get("owner") not in (account.extra["urn"], account.extra["person_urn"]):
            raise errors.linkedin_error(403, "ACCESS_DENIED",
                                        f"Not enough permissions to upload as "
                                        f"{spec.get('owner')}", 100)
        try:
            size = int(spec["fileSizeBytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.linkedin_error(422, "UNPROCESSABLE_ENTITY",
                                        "/initializeUploadRequest/fileSizeBytes :: field is "
                                        "required but not found") from exc
        video_id = sb.state.numeric_id("D5")
        urn = f"urn:li:video:{video_id}"
        sb.state.media[NETWORK][urn] = Media(id=urn, network=NETWORK, account_id=account.id,
                                             kind="video", mime="", size=size, digest="",
                                             status="WAITING_UPLOAD")
        base = sb.base_url(NETWORK)
        instructions = [
            {"uploadUrl": f"{base}/dms-uploads/video/{video_id}/{first}",
             "firstByte": first, "lastByte": min(size, first + VIDEO_PART) - 1}
            for first in range(0, size, VIDEO_PART)
        ]
        return json({"value": {"uploadUrlsExpireAt": int((time.time() + 3600) * 1000),
                               "video": urn, "uploadInstructions": instructions,
                               "uploadToken": ""}})
    if action == "finalizeUpload":
        spec = body.get("finalizeUploadRequest") or {}
        item = sb.state.media[NETWORK].get(str(spec.get("video")))
        if item is None or item.account_id != account.id:
            raise errors.linkedin_error(404, "NOT_FOUND", f"Video {spec.get('video')} not found")
        parts = [item.chunks[k] for k in sorted(item.chunks)]
        etags = [hashlib.md5(p).hexdigest() for p in parts]  # noqa: S324 (an ETag, not security)
        if list(spec.get("uploadedPartIds") or []) != etags or sum(map(len, parts)) != item.size:
            raise errors.linkedin_error(400, "BAD_REQUEST",
                                        "Video upload is incomplete or uploadedPartIds do not "
                                        "match the uploaded parts")
        blob = b"".join(parts)
        found = sniff(blob)
        item.chunks = {}
        if found is None or found[0] != "video":
            item.status = "PROCESSING_FAILED"
            return Response(status_code=200)
        item.mime = found[1]
        item.digest = hashlib.sha256(blob).hexdigest()
        item.status = "PROCESSING"
        return Response(status_code=200)
    raise errors.linkedin_error(400, "ILLEGAL_ARGUMENT", f"Unknown action {action}")


@router.put("/dms-uploads/video/{video_id}/{first}")
async def upload_video_part(video_id: str, first: int, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    item = sb.state.media[NETWORK].get(f"urn:li:video:{video_id}")
    if item is None or item.status != "WAITING_UPLOAD":
        raise errors.linkedin_error(404, "NOT_FOUND", "Upload not found")
    data = await request.body()
    if not data or first % VIDEO_PART or len(data) > VIDEO_PART:
        raise errors.linkedin_error(400, "BAD_REQUEST", "Part does not match the instructions")
    item.chunks[first] = data
    return Response(status_code=200,
                    headers={"ETag": hashlib.md5(data).hexdigest()})  # noqa: S324


@router.get("/rest/videos/{urn:path}")
async def video_status(urn: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    _restli(request)
    item = sb.state.media[NETWORK].get(unquote(urn))
    if item is None or item.account_id != account.id:
        raise errors.linkedin_error(404, "NOT_FOUND", f"Video {urn} not found")
    if item.status == "PROCESSING":
        item.polls += 1
        if item.polls > sb.settings.processing_polls:
            item.status = "succeeded"
    status = "AVAILABLE" if item.status == "succeeded" else item.status
    return json({"id": item.id, "status": status, "owner": account.extra["urn"],
                 "duration": 1 if status == "AVAILABLE" else 0})
