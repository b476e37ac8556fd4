"""X (Twitter) API v2: ``https://api.x.com`` ↔ ``{public_url}/x``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import blocks, errors, moderation, oauth, polls, subscriptions
from sandbox.core import Sandbox, sandbox_of
from sandbox.http import Part, bearer, json, json_body, params
from sandbox.networks.common import iso, media_from_bytes, media_ref, slug, x_weighted_length
from sandbox.state import Account, Media, Post

NETWORK = "x"
MAX_WEIGHTED = 280
REFRESH_TTL = 180 * 24 * 3600

router = APIRouter(tags=["x"])
router.include_router(oauth.authorize_router(NETWORK, require_pkce=True))
router.include_router(subscriptions.x_router())
router.include_router(blocks.x_router())
router.include_router(moderation.x_router())


# control-API hooks -------------------------------------------------------------------------------


def make_account(sb: Sandbox, name: str | None) -> Account:
    n = sb.state.seq()
    display = name or f"Sandbox X {n}"
    return sb.state.add_account(
        Account(
            network=NETWORK,
            id=sb.state.snowflake(),
            name=display,
            username=f"{slug(display, 'user')[:10]}_{n}",
            created_at=time.time(),
        )
    )


def external_id(account: Account) -> str:
    return account.id


def _issue(sb: Sandbox, account: Account, scope: str, client_id: str) -> dict[str, Any]:
    ttl = sb.settings.token_ttl_seconds
    access = sb.state.issue(NETWORK, account.id, ttl=ttl, scope=scope, client_id=client_id)
    out: dict[str, Any] = {
        "token_type": "bearer",
        "expires_in": ttl,
        "access_token": access.value,
        "scope": scope,
    }
    if "offline.access" in scope.split():
        refresh = sb.state.issue(NETWORK, account.id, kind="refresh", ttl=REFRESH_TTL,
                                 scope=scope, client_id=client_id)
        out["refresh_token"] = refresh.value
    return out


def credentials(sb: Sandbox, account: Account) -> dict[str, Any]:
    scope = (
        "tweet.read tweet.write users.read dm.read dm.write media.write block.read block.write "
        "offline.access"
    )
    issued = _issue(sb, account, scope, sb.state.apps[NETWORK].client_id)
    return {
        "access_token": issued["access_token"],
        "refresh_token": issued["refresh_token"],
        "expires_at": int(time.time() + issued["expires_in"]),
        "scope": scope,
        "token_type": "bearer",
    }


def v1_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%a %b %d %H:%M:%S +0000 %Y")


def v1_user(account: Account) -> dict[str, Any]:
    return {
        "id": int(account.id),
        "id_str": account.id,
        "name": account.name,
        "screen_name": account.username,
        "protected": False,
        "verified": False,
        "followers_count": 0,
        "created_at": v1_time(account.created_at),
        "profile_image_url_https": "https://abs.twimg.com/sticky/default_profile_images/"
        "default_profile_normal.png",
    }


def add_comment(sb: Sandbox, post: Post, text: str, author: str) -> dict[str, Any]:
    owner = sb.state.account(NETWORK, post.account_id or "") if post.account_id else None
    if owner is None:
        owner = sb.state.account(NETWORK, post.author_id)
    fan = sb.state.fan(NETWORK, author)
    prefix = f"@{owner.username} " if owner else ""
    full = prefix + text
    reply = sb.state.add_post(
        Post(
            network=NETWORK,
            id=sb.state.snowflake(),
            account_id=None,
            text=full,
            created_at=time.time(),
            kind="comment",
            reply_to=post.id,
            author_id=fan.id,
            author_name=fan.name,
            author_username=fan.username,
            url=f"https://x.com/{fan.username}/status/",
            extra={
                "conversation_id": post.extra.get("conversation_id", post.id),
                "in_reply_to_user_id": post.author_id,
            },
        )
    )
    reply.url += reply.id
    post.metrics["replies"] = post.metrics.get("replies", 0.0) + 1
    if owner is not None:
        sb.state.kv[NETWORK].setdefault(("mentions", owner.id), []).append(reply.id)
    tweet = {
        "created_at": v1_time(reply.created_at),
        "id": int(reply.id),
        "id_str": reply.id,
        "text": full,
        "display_text_range": [len(prefix), len(full)],
        "source": '<a href="https://x.com" rel="nofollow">X Web App</a>',
        "truncated": False,
        "in_reply_to_status_id": int(post.id),
        "in_reply_to_status_id_str": post.id,
        "in_reply_to_user_id": int(post.author_id) if post.author_id else None,
        "in_reply_to_user_id_str": post.author_id or None,
        "in_reply_to_screen_name": owner.username if owner else None,
        "user": v1_user(fan),
        "is_quote_status": False,
        "entities": {
            "hashtags": [],
            "urls": [],
            "symbols": [],
            "user_mentions": (
                [{"screen_name": owner.username, "name": owner.name, "id": int(owner.id),
                  "id_str": owner.id, "indices": [0, len(prefix) - 1]}]
                if owner
                else []
            ),
        },
        "favorite_count": 0,
        "retweet_count": 0,
        "lang": "en",
        "timestamp_ms": str(int(reply.created_at * 1000)),
    }
    delivery = None
    if owner is not None:
        delivery = sb.deliveries.send(
            NETWORK,
            "tweet_create_events",
            {"for_user_id": owner.id, "user_has_blocked": "false", "tweet_create_events": [tweet]},
            account_id=owner.id,
        )
    return {"id": reply.id, "text": full, "author": fan.username,
            "delivery_id": delivery["id"] if delivery else None}


def add_message(sb: Sandbox, account: Account, text: str, author: str) -> dict[str, Any]:
    fan = sb.state.fan(NETWORK, author)
    event_id = sb.state.snowflake()
    now = time.time()
    event = {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": str(int(now * 1000)),
        "message_create": {
            "target": {"recipient_id": account.id},
            "sender_id": fan.id,
            "message_data": {"text": text, "entities": {"hashtags": [], "symbols": [],
                                                        "user_mentions": [], "urls": []}},
        },
    }
    sb.state.kv[NETWORK].setdefault(("dms", account.id), []).append(
        {"id": event_id, "text": text, "sender_id": fan.id, "created_at": now,
         "dm_conversation_id": f"{min(fan.id, account.id)}-{max(fan.id, account.id)}"}
    )
    users = {u.id: v1_user(u) for u in (fan, account)}
    delivery = sb.deliveries.send(
        NETWORK,
        "direct_message_events",
        {"for_user_id": account.id, "direct_message_events": [event], "users": users},
        account_id=account.id,
    )
    return {"id": event_id, "text": text, "author": fan.username, "delivery_id": delivery["id"]}


# OAuth 2 -----------------------------------------------------------------------------------------


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json({"error": error, "error_description": description}, status)


@router.post("/2/oauth2/token")
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
            return json(_issue(sb, account, scope, client_id))
        if grant == "client_credentials":
            # App-only bearer token: what the webhook registration endpoints take.
            app_token = sb.state.issue(NETWORK, "", kind="app", ttl=None, client_id=client_id)
            return json({"token_type": "bearer", "access_token": app_token.value})
        if grant == "refresh_token":
            old = oauth.use_refresh(sb, NETWORK, str(form.get("refresh_token", "")), rotate=True)
            account = sb.state.accounts[NETWORK][old.account_id]
            return json(_issue(sb, account, old.scope, client_id))
    except oauth.OAuthFailure as exc:
        status = 401 if exc.error == "invalid_client" else 400
        return _oauth_error(exc.error, exc.description, status)
    return _oauth_error("unsupported_grant_type", "grant_type is not supported")


@router.post("/2/oauth2/revoke")
async def revoke(request: Request) -> Response:
    sb = sandbox_of(request)
    form = await params(request)
    tok = sb.state.tokens.get(str(form.get("token", "")))
    if tok is not None and tok.network == NETWORK:
        tok.revoked = True
    return json({"revoked": True})


# users -------------------------------------------------------------------------------------------


def _user(sb: Sandbox, account: Account, fields: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": account.id, "name": account.name, "username": account.username}
    if "created_at" in fields:
        out["created_at"] = iso(account.created_at, ms=True)
    if "public_metrics" in fields:
        out["public_metrics"] = {
            "followers_count": int(account.extra.get("followers", 0)),
            "following_count": 0,
            "tweet_count": len(sb.state.by_account.get((NETWORK, account.id), ())),
            "listed_count": 0,
            "like_count": 0,
        }
    if "profile_image_url" in fields:
        out["profile_image_url"] = (
            "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
        )
    if "verified" in fields:
        out["verified"] = False
    return out


def _fields(request: Request, name: str) -> set[str]:
    raw = request.query_params.get(name, "")
    return {f.strip() for f in raw.split(",") if f.strip()}


def _not_found(kind: str, value: str, parameter: str = "id") -> dict[str, Any]:
    return {
        "value": value,
        "detail": f"Could not find {kind} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": kind,
        "parameter": parameter,
        "resource_id": value,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


@router.get("/2/users/me")
async def users_me(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    return json({"data": _user(sb, account, _fields(request, "user.fields"))})


@router.get("/2/users/by/username/{username}")
async def user_by_username(username: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    for account in sb.state.accounts[NETWORK].values():
        if account.username.lower() == username.lower():
            return json({"data": _user(sb, account, _fields(request, "user.fields"))})
    return json({"errors": [_not_found("user", username, "username")]})


@router.get("/2/users/{user_id}")
async def user_by_id(user_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    account = sb.state.account(NETWORK, user_id)
    if account is None:
        return json({"errors": [_not_found("user", user_id)]})
    return json({"data": _user(sb, account, _fields(request, "user.fields"))})


# tweets ------------------------------------------------------------------------------------------


def _tweet(post: Post, fields: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
    if "author_id" in fields:
        out["author_id"] = post.author_id
    if "created_at" in fields:
        out["created_at"] = iso(post.created_at, ms=True)
    if "conversation_id" in fields:
        out["conversation_id"] = post.extra.get("conversation_id", post.id)
    if "in_reply_to_user_id" in fields and post.extra.get("in_reply_to_user_id"):
        out["in_reply_to_user_id"] = post.extra["in_reply_to_user_id"]
    if "referenced_tweets" in fields and post.reply_to:
        out["referenced_tweets"] = [{"type": "replied_to", "id": post.reply_to}]
    if "attachments" in fields and post.media:
        out["attachments"] = {"media_keys": [m["key"] for m in post.media]}
    if "attachments" in fields and post.extra.get("poll"):
        out.setdefault("attachments", {})["poll_ids"] = [post.extra["poll_id"]]
    if "public_metrics" in fields:
        out["public_metrics"] = {
            "retweet_count": post.count("shares"),
            "reply_count": post.count("replies"),
            "like_count": post.count("likes"),
            "quote_count": post.count("quotes"),
            "bookmark_count": post.count("bookmarks"),
            "impression_count": post.count("views"),
        }
    if "non_public_metrics" in fields and post.account_id is not None:
        out["non_public_metrics"] = {
            "impression_count": post.count("views"),
            "url_link_clicks": post.count("clicks"),
            "user_profile_clicks": 0,
        }
    return out


def _poll(raw: Any, *, with_media: bool) -> dict[str, Any] | None:
    """X's poll rules: 2-4 options of 1-25 characters, 5 to 10,080 minutes, never with media."""
    if raw is None:
        return None
    if with_media:
        raise errors.x_invalid("Only one of [media.media_ids, poll.options] can be specified")
    if not isinstance(raw, dict):
        raise errors.x_invalid("$.poll: expected an object")
    options = raw.get("options")
    if not isinstance(options, list) or not 2 <= len(options) <= 4:
        raise errors.x_invalid("$.poll.options: size must be between 2 and 4")
    for option in options:
        if not isinstance(option, str) or not 1 <= len(option) <= 25:
            raise errors.x_invalid("$.poll.options: each option is 1 to 25 characters")
    minutes = raw.get("duration_minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 5 <= minutes <= 10080:
        raise errors.x_invalid("$.poll.duration_minutes: must be between 5 and 10080")
    return polls.new_poll(options, minutes=minutes)


@router.post("/2/tweets", status_code=201)
async def create_tweet(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    body = await json_body(request)
    if body is None:
        raise errors.x_invalid("Request body is not valid JSON")
    text = body.get("text") or ""
    if not isinstance(text, str):
        raise errors.x_invalid("$.text: expected a string")
    media_ids = (body.get("media") or {}).get("media_ids") or []
    reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
    if not text and not media_ids:
        raise errors.x_invalid("Tweet text and media cannot both be empty")
    poll = _poll(body.get("poll"), with_media=bool(media_ids))
    if x_weighted_length(text) > MAX_WEIGHTED:
        # Unconfirmed wording; X answers 403 for an over-long tweet on v2.
        raise errors.x_problem(403, "Forbidden", "Tweet needs to be a bit shorter.")
    media: list[dict[str, Any]] = []
    if media_ids:
        if len(media_ids) > 4:
            raise errors.x_invalid("$.media.media_ids: size must be between 1 and 4")
        store = sb.state.media[NETWORK]
        for mid in media_ids:
            item = store.get(str(mid))
            if item is None or item.account_id != account.id or item.status != "succeeded":
                raise errors.x_invalid(f"Your media IDs are invalid: [{mid}]")
            ref = media_ref(item)
            ref["key"] = _media_key(item)
            media.append(ref)
        kinds = {m["kind"] for m in media}
        if ("video" in kinds or "gif" in kinds) and len(media) > 1:
            raise errors.x_invalid("Your media IDs are invalid: a video or GIF must be alone.")
    parent = None
    if reply_to is not None:
        parent = sb.state.posts[NETWORK].get(str(reply_to))
        if parent is None or parent.deleted:
            raise errors.x_problem(
                403, "Forbidden",
                "You attempted to reply to a Tweet that is deleted or not visible to you.",
            )
    if sb.state.is_repeat(NETWORK, account.id, text, parent.id if parent else None):
        raise errors.x_problem(403, "Forbidden",
                               "You are not allowed to create a Tweet with duplicate content.")
    tweet_id = sb.state.snowflake()
    extra: dict[str, Any] = {
        "conversation_id": parent.extra.get("conversation_id", parent.id) if parent else tweet_id
    }
    if parent is not None:
        extra["in_reply_to_user_id"] = parent.author_id
        parent.metrics["replies"] = parent.metrics.get("replies", 0.0) + 1
    if poll is not None:
        extra["poll"] = poll
        extra["poll_id"] = sb.state.snowflake()
    sb.state.add_post(
        Post(
            network=NETWORK,
            id=tweet_id,
            account_id=account.id,
            text=text,
            created_at=time.time(),
            media=media,
            url=f"https://x.com/{account.username}/status/{tweet_id}",
            reply_to=parent.id if parent else None,
            author_id=account.id,
            author_name=account.name,
            author_username=account.username,
            extra=extra,
        )
    )
    return json({"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}},
                201)


@router.delete("/2/tweets/{tweet_id}")
async def delete_tweet(tweet_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    post = sb.state.posts[NETWORK].get(tweet_id)
    if post is None or post.deleted:
        return json({"errors": [_not_found("tweet", tweet_id)]})
    if post.account_id != account.id:
        raise errors.x_problem(403, "Forbidden",
                               "You are not authorized to delete this Tweet.")
    post.deleted = True
    return json({"data": {"deleted": True}})


@router.get("/2/tweets/{tweet_id}")
async def get_tweet(tweet_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    post = sb.state.posts[NETWORK].get(tweet_id)
    if post is None or post.deleted:
        return json({"errors": [_not_found("tweet", tweet_id)]})
    return json({"data": _tweet(post, _fields(request, "tweet.fields"))})


@router.get("/2/tweets")
async def get_tweets(request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids or len(ids) > 100:
        raise errors.x_invalid("The `ids` query parameter value must be 1 to 100 ids")
    fields = _fields(request, "tweet.fields")
    data, errs = [], []
    for tid in ids:
        post = sb.state.posts[NETWORK].get(tid)
        if post is None or post.deleted:
            errs.append(_not_found("tweet", tid))
        else:
            data.append(_tweet(post, fields))
    out: dict[str, Any] = {}
    if data:
        out["data"] = data
    expansions = set(request.query_params.get("expansions", "").split(","))
    if "attachments.poll_ids" in expansions:
        found = [sb.state.posts[NETWORK][d["id"]] for d in data]
        held = [_poll_object(p) for p in found if p.extra.get("poll")]
        if held:
            out["includes"] = {"polls": held}
    if errs:
        out["errors"] = errs
    return json(out)


def _poll_object(post: Post) -> dict[str, Any]:
    poll = post.extra["poll"]
    return {
        "id": post.extra["poll_id"],
        "options": [
            {"position": i + 1, "label": o["label"], "votes": o["votes"]}
            for i, o in enumerate(poll["options"])
        ],
        "duration_minutes": poll["duration_minutes"],
        "end_datetime": poll["expires_at"],
        "voting_status": "open" if polls.is_open(poll) else "closed",
    }


def _timeline(request: Request, posts: list[Post]) -> Response:
    q = request.query_params
    try:
        max_results = min(100, max(5, int(q.get("max_results", "10"))))
    except ValueError as exc:
        raise errors.x_invalid("max_results must be a number") from exc
    posts = [p for p in posts if not p.deleted]
    posts.sort(key=lambda p: int(p.id), reverse=True)
    if q.get("since_id"):
        posts = [p for p in posts if int(p.id) > int(q["since_id"])]
    if q.get("until_id"):
        posts = [p for p in posts if int(p.id) < int(q["until_id"])]
    token = q.get("pagination_token")
    if token:
        posts = [p for p in posts if int(p.id) < int(token)]
    page = posts[:max_results]
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta["newest_id"] = page[0].id
        meta["oldest_id"] = page[-1].id
        if len(posts) > max_results:
            meta["next_token"] = page[-1].id
    out: dict[str, Any] = {"meta": meta}
    if page:
        out["data"] = [_tweet(p, _fields(request, "tweet.fields")) for p in page]
    return json(out)


@router.get("/2/users/{user_id}/tweets")
async def user_tweets(user_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    return _timeline(request, sb.state.account_posts(NETWORK, user_id))


@router.get("/2/users/{user_id}/mentions")
async def user_mentions(user_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    sb.authenticate(NETWORK, bearer(request))
    ids = sb.state.kv[NETWORK].get(("mentions", user_id), [])
    posts = [sb.state.posts[NETWORK][i] for i in ids if i in sb.state.posts[NETWORK]]
    return _timeline(request, posts)


# direct messages ---------------------------------------------------------------------------------


@router.post("/2/dm_conversations/with/{participant_id}/messages", status_code=201)
async def send_dm(participant_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    body = await json_body(request)
    if not body or not (body.get("text") or body.get("attachments")):
        raise errors.x_invalid("text or attachments is required")
    event_id = sb.state.snowflake()
    conv = f"{min(participant_id, account.id)}-{max(participant_id, account.id)}"
    sb.state.kv[NETWORK].setdefault(("dms", account.id), []).append(
        {"id": event_id, "text": body.get("text", ""), "sender_id": account.id,
         "created_at": time.time(), "dm_conversation_id": conv, "to": participant_id}
    )
    return json({"data": {"dm_conversation_id": conv, "dm_event_id": event_id}}, 201)


@router.get("/2/dm_events")
async def dm_events(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    events = sb.state.kv[NETWORK].get(("dms", account.id), [])
    data = [
        {"id": e["id"], "event_type": "MessageCreate", "text": e["text"],
         "sender_id": e["sender_id"], "dm_conversation_id": e["dm_conversation_id"],
         "created_at": iso(e["created_at"], ms=True)}
        for e in reversed(events)
    ]
    return json({"data": data, "meta": {"result_count": len(data)}})


# media upload ------------------------------------------------------------------------------------


def _media_key(item: Media) -> str:
    prefix = {"image": "3", "gif": "16", "video": "7"}.get(item.kind, "3")
    return f"{prefix}_{item.id}"


def _media_view(sb: Sandbox, item: Media, *, poll: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "media_key": _media_key(item),
        "size": item.size,
        "expires_after_secs": 86400,
    }
    if item.kind in ("video", "gif"):
        if poll and item.status in ("pending", "in_progress"):
            item.polls += 1
            if item.polls > sb.settings.processing_polls:
                item.status = "succeeded"
            else:
                item.status = "in_progress"
        info: dict[str, Any] = {"state": item.status}
        if item.status in ("pending", "in_progress"):
            info["check_after_secs"] = 1
            info["progress_percent"] = 50 if item.status == "in_progress" else 0
        else:
            info["progress_percent"] = 100
        out["processing_info"] = info
    return out


def _upload_store(sb: Sandbox) -> dict[str, Any]:
    uploads: dict[str, Any] = sb.state.kv[NETWORK].setdefault("uploads", {})
    return uploads


def _init_upload(sb: Sandbox, account: Account, p: dict[str, Any]) -> dict[str, Any]:
    try:
        total = int(p.get("total_bytes", 0))
    except (TypeError, ValueError) as exc:
        raise errors.x_invalid("total_bytes must be an integer") from exc
    mtype = str(p.get("media_type", ""))
    if not mtype or total <= 0:
        raise errors.x_invalid("media_type and total_bytes are required")
    limit = 512 * 1024 * 1024 if mtype.startswith("video/") else 5 * 1024 * 1024
    if total > limit:
        raise errors.x_invalid(f"total_bytes exceeds the limit for {mtype}")
    media_id = sb.state.snowflake()
    _upload_store(sb)[media_id] = {
        "account_id": account.id, "total": total, "media_type": mtype,
        "category": p.get("media_category"), "chunks": {},
    }
    return {"id": media_id, "media_key": f"3_{media_id}", "expires_after_secs": 86400}


def _append(sb: Sandbox, account: Account, media_id: str, p: dict[str, Any]) -> None:
    upload = _upload_store(sb).get(media_id)
    if upload is None or upload["account_id"] != account.id:
        raise errors.x_invalid(f"Invalid media_id: {media_id}")
    chunk = p.get("media")
    if isinstance(chunk, Part):
        data = chunk.data
    elif p.get("media_data"):
        import base64

        data = base64.b64decode(str(p["media_data"]))
    elif isinstance(chunk, str):
        data = chunk.encode("latin-1")
    else:
        raise errors.x_invalid("media is required")
    try:
        index = int(p.get("segment_index", 0))
    except (TypeError, ValueError) as exc:
        raise errors.x_invalid("segment_index must be an integer") from exc
    upload["chunks"][index] = data


def _finalize(sb: Sandbox, account: Account, media_id: str) -> dict[str, Any]:
    upload = _upload_store(sb).get(media_id)
    if upload is None or upload["account_id"] != account.id:
        raise errors.x_invalid(f"Invalid media_id: {media_id}")
    data = b"".join(upload["chunks"][i] for i in sorted(upload["chunks"]))
    if len(data) != upload["total"]:
        raise errors.x_invalid(
            f"File size mismatch: expected {upload['total']} bytes, got {len(data)}"
        )
    item = media_from_bytes(media_id, NETWORK, account.id, data)
    if item is None:
        raise errors.x_invalid("media type unrecognized.")
    del _upload_store(sb)[media_id]
    sb.state.media[NETWORK][media_id] = item
    return _media_view(sb, item, poll=False)


@router.post("/2/media/upload/initialize")
async def media_initialize(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    return json({"data": _init_upload(sb, account, await params(request))})


@router.post("/2/media/upload/{media_id}/append")
async def media_append(media_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    _append(sb, account, media_id, await params(request))
    return json({"data": {"expires_at": int(time.time()) + 86400}})


@router.post("/2/media/upload/{media_id}/finalize")
async def media_finalize(media_id: str, request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    return json({"data": _finalize(sb, account, media_id)})


@router.post("/2/media/upload")
@router.post("/1.1/media/upload.json")
async def media_upload_command(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    p = await params(request)
    command = str(p.get("command", "")).upper()
    legacy = request.url.path.endswith(".json")
    if command == "INIT":
        data = _init_upload(sb, account, p)
    elif command == "APPEND":
        _append(sb, account, str(p.get("media_id", "")), p)
        return Response(status_code=204)
    elif command == "FINALIZE":
        data = _finalize(sb, account, str(p.get("media_id", "")))
    elif not command and isinstance(p.get("media"), Part):
        # One-shot upload of a small image.
        media_id = sb.state.snowflake()
        part = p["media"]
        assert isinstance(part, Part)
        item = media_from_bytes(media_id, NETWORK, account.id, part.data)
        if item is None:
            raise errors.x_invalid("media type unrecognized.")
        sb.state.media[NETWORK][media_id] = item
        data = _media_view(sb, item, poll=False)
    else:
        raise errors.x_invalid("command must be INIT, APPEND or FINALIZE")
    if legacy:
        data = {"media_id": int(data["id"]), "media_id_string": data["id"],
                **{k: v for k, v in data.items() if k not in ("id", "media_key")}}
        return json(data, 201 if command == "INIT" else 200)
    return json({"data": data})


@router.get("/2/media/upload")
@router.get("/1.1/media/upload.json")
async def media_status(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    media_id = request.query_params.get("media_id", "")
    item = sb.state.media[NETWORK].get(media_id)
    if item is None or item.account_id != account.id:
        raise errors.x_invalid(f"Invalid media_id: {media_id}")
    data = _media_view(sb, item, poll=True)
    if request.url.path.endswith(".json"):
        return json({"media_id": int(item.id), "media_id_string": item.id,
                     **{k: v for k, v in data.items() if k not in ("id", "media_key")}})
    return json({"data": data})


@router.post("/2/media/metadata")
async def media_metadata(request: Request) -> Response:
    sb = sandbox_of(request)
    account = sb.authenticate(NETWORK, bearer(request))
    body = await json_body(request) or {}
    media_id = str(body.get("id") or body.get("media_id") or "")
    item = sb.state.media[NETWORK].get(media_id)
    if item is None or item.account_id != account.id:
        raise errors.x_invalid(f"Invalid media_id: {media_id}")
    alt = (body.get("metadata") or {}).get("alt_text") or body.get("alt_text") or {}
    item.alt = str(alt.get("text", "")) if isinstance(alt, dict) else str(alt)
    return json({"data": {"id": media_id, "associated_metadata": True}})
