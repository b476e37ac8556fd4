"""Instagram (Graph API with Instagram Login): ``https://graph.instagram.com`` (and
``graph.facebook.com`` for Business accounts) ↔ ``{public_url}/instagram``."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from sandbox import errors
from sandbox.core import Sandbox
from sandbox.http import json
from sandbox.networks import meta
from sandbox.networks.common import expires_at, slug
from sandbox.state import Account, Post

NETWORK = "instagram"
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
DAILY_LIMIT = 50
MESSAGING_WINDOW = 24 * 3600
VIDEO_TYPES = ("REELS", "VIDEO")
INSIGHTS = {
    "views": "views",
    "impressions": "views",
    "reach": "reach",
    "likes": "likes",
    "comments": "replies",
    "shares": "shares",
    "saved": "saves",
    "total_interactions": "likes",
}


def make_account(sb: Sandbox, name: str | None) -> Account:
    n = sb.state.seq()
    display = name or f"Sandbox Instagram {n}"
    return sb.state.add_account(
        Account(
            network=NETWORK,
            id=sb.state.numeric_id("178414"),
            name=display,
            username=f"{slug(display, 'user')[:12]}{n}",
            created_at=time.time(),
        )
    )


def external_id(account: Account) -> str:
    return account.id


def credentials(sb: Sandbox, account: Account) -> dict[str, Any]:
    issued = meta.issue(sb, NETWORK, account)
    return {
        "access_token": issued["access_token"],
        "ig_user_id": account.id,
        "expires_at": expires_at(issued["expires_in"]),
    }


def add_comment(sb: Sandbox, post: Post, text: str, author: str) -> dict[str, Any]:
    top = post if post.kind == "post" else None
    media_post = top or sb.state.posts[NETWORK][post.extra["media_id"]]
    owner = sb.state.accounts[NETWORK][media_post.account_id or ""]
    fan = sb.state.fan(NETWORK, author)
    comment = _comment(sb, media_post, None if top else post, text, fan.id, fan.username)
    value: dict[str, Any] = {
        "from": {"id": fan.id, "username": fan.username},
        "media": {
            "id": media_post.id,
            "media_product_type": media_post.extra.get("product", "FEED"),
        },
        "id": comment.id,
        "text": text,
    }
    if not top:
        value["parent_id"] = post.id
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": owner.id,
                "time": int(time.time()),
                "changes": [{"field": "comments", "value": value}],
            }
        ],
    }
    delivery = sb.deliveries.send(NETWORK, "comments", payload, account_id=owner.id)
    return {"id": comment.id, "text": text, "delivery_id": delivery["id"]}


def add_message(sb: Sandbox, account: Account, text: str, author: str) -> dict[str, Any]:
    fan = sb.state.fan(NETWORK, author)
    igsid = "9" + fan.id[1:]
    now = time.time()
    mid = f"aWdfZAG1faXRlbToxOk{sb.state.numeric_id('')}"
    sb.state.kv[NETWORK][("inbound", account.id, igsid)] = now
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": account.id,
                "time": int(now * 1000),
                "messaging": [
                    {
                        "sender": {"id": igsid},
                        "recipient": {"id": account.id},
                        "timestamp": int(now * 1000),
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }
    delivery = sb.deliveries.send(NETWORK, "messages", payload, account_id=account.id)
    return {"id": mid, "sender": igsid, "text": text, "delivery_id": delivery["id"]}


def _comment(
    sb: Sandbox,
    media_post: Post,
    parent: Post | None,
    text: str,
    author_id: str,
    username: str,
    account_id: str | None = None,
) -> Post:
    comment = sb.state.add_post(
        Post(
            network=NETWORK,
            id=sb.state.numeric_id("179"),
            account_id=account_id,
            text=text,
            created_at=time.time(),
            kind="comment" if account_id is None else "reply",
            reply_to=(parent or media_post).id,
            author_id=author_id,
            author_username=username,
            author_name=username,
            extra={"media_id": media_post.id},
        )
    )
    media_post.metrics["replies"] = media_post.metrics.get("replies", 0.0) + 1
    return comment


def _containers(sb: Sandbox) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = sb.state.kv[NETWORK].setdefault("containers", {})
    return found


def _format_settings(media_type: str, p: dict[str, Any]) -> dict[str, Any]:
    """What a story or reel container keeps of its settings, as Instagram shows them: a
    reel's feed sharing (on unless `share_to_feed=false`) and its cover (an image URL, or the
    frame `thumb_offset` ms in)."""
    if media_type == "STORIES":
        return {"product": "STORY"}
    if media_type != "REELS":
        return {"product": "FEED"}
    settings: dict[str, Any] = {
        "product": "REELS",
        "share_to_feed": str(p.get("share_to_feed", "true")).lower() != "false",
    }
    cover = p.get("cover_url")
    if cover:
        fetched, mime = meta.sample_mime(str(cover))
        if not fetched or mime not in (None, "image/jpeg"):
            raise errors.graph_error(
                "The cover image could not be fetched or is not a JPEG.", 100, subcode=2207052
            )
        settings["cover_url"] = str(cover)
    offset = p.get("thumb_offset")
    if offset is not None:
        if not str(offset).isdigit():
            raise errors.graph_error("(#100) Param thumb_offset must be an integer", 100)
        settings["thumb_offset"] = int(str(offset))
    return settings


def _create_container(sb: Sandbox, account: Account, p: dict[str, Any]) -> Response:
    caption = str(p.get("caption", ""))
    # Caption refusals are invalid parameters (code 100); 2207004 is Instagram's "image too
    # large", so it is not used here (unconfirmed: the exact caption subcode).
    if len(caption) > MAX_CAPTION:
        raise errors.graph_error("The caption is too long.", 100)
    if len(re.findall(r"#\w+", caption)) > MAX_HASHTAGS:
        raise errors.graph_error("Too many hashtags.", 100)
    if len(re.findall(r"@\w+", caption)) > MAX_MENTIONS:
        raise errors.graph_error("Too many mentions.", 100)
    media_type = str(p.get("media_type", "IMAGE")).upper()
    carousel_item = str(p.get("is_carousel_item", "false")).lower() == "true"
    error = None
    extra_polls = 0
    media: list[dict[str, Any]] = []
    if media_type == "CAROUSEL":
        children = [c for c in str(p.get("children", "")).split(",") if c]
        if not 2 <= len(children) <= 10:
            raise errors.graph_error(
                "Carousel must have between 2 and 10 children", 100, subcode=2207030
            )
        for child in children:
            item = _containers(sb).get(child)
            if item is None or not item["carousel_item"] or item["account_id"] != account.id:
                raise errors.graph_error(f"Invalid child {child}", 100, subcode=2207031)
            media.extend(item["media"])
    else:
        video = media_type in VIDEO_TYPES or (media_type == "STORIES" and bool(p.get("video_url")))
        url = p.get("video_url") if video else p.get("image_url")
        if not url:
            name = "video_url" if video else "image_url"
            raise errors.graph_error(f"(#100) The parameter {name} is required.", 100)
        kind = "video" if video else "image"
        fetched, mime = meta.sample_mime(str(url))
        if not fetched and kind == "image":
            # Images are downloaded while the container is created.
            raise errors.graph_error(
                "Only photo or video can be accepted as media type.",
                9004,
                subcode=2207052,
            )
        if not fetched:
            # Videos are downloaded afterwards: the failure shows when the container is polled.
            error = "2207052: The media could not be fetched from the URI provided."
        elif kind == "image" and mime not in (None, "image/jpeg"):
            # Instagram takes JPEG only; the failure surfaces when the container is polled.
            error = "2207083: Only JPEG images are supported."
        elif kind == "video" and mime is not None and not mime.startswith("video/"):
            error = "2207026: The video format is not supported."
        if kind == "video":
            extra_polls = meta.VIDEO_EXTRA_POLLS
        media.append(
            {
                "id": sb.state.numeric_id("178"),
                "kind": kind,
                "url": url,
                "mime": mime or "",
                "digest": f"url:{url}",
            }
        )
    container_id = sb.state.numeric_id("180")
    _containers(sb)[container_id] = {
        "account_id": account.id,
        "status": "IN_PROGRESS",
        "polls": 0,
        # A Story has no caption: whatever was sent is not shown anywhere.
        "caption": "" if media_type == "STORIES" else caption,
        "format": _format_settings(media_type, p),
        "media": media,
        "media_type": media_type,
        "carousel_item": carousel_item,
        "error": error,
        "published": None,
        "extra_polls": extra_polls,
    }
    return json({"id": container_id})


def _publish(sb: Sandbox, account: Account, p: dict[str, Any]) -> Response:
    creation_id = str(p.get("creation_id", ""))
    container = _containers(sb).get(creation_id)
    if container is None or container["account_id"] != account.id:
        raise errors.graph_error("Media ID is not available", 9007, subcode=2207027)
    if container["published"]:
        raise errors.graph_error("The media has already been published", 9007, subcode=2207027)
    if container["status"] != "FINISHED":
        raise errors.graph_error(
            "The media is not ready for publishing, please wait for a moment", 9007, subcode=2207027
        )
    if container["carousel_item"]:
        raise errors.graph_error(
            "A carousel item cannot be published on its own", 100, subcode=2207028
        )
    if meta.day_usage(sb, NETWORK, account.id) >= DAILY_LIMIT:
        raise errors.graph_error(
            "You reached maximum number of posts that is allowed to be published by Content "
            "Publishing API.",
            9,
            subcode=2207042,
        )
    media_id = sb.state.numeric_id("179")
    product = container["format"]["product"]
    # What the media listing calls it: IMAGE, VIDEO (reels included) or CAROUSEL_ALBUM.
    if container["media_type"] == "CAROUSEL":
        listed_type = "CAROUSEL_ALBUM"
    else:
        listed_type = "VIDEO" if container["media"][0]["kind"] == "video" else "IMAGE"
    sb.state.add_post(
        Post(
            network=NETWORK,
            id=media_id,
            account_id=account.id,
            text=container["caption"],
            created_at=time.time(),
            media=container["media"],
            url=f"https://www.instagram.com/p/{media_id[-11:]}/",
            author_id=account.id,
            author_name=account.name,
            author_username=account.username,
            extra={"product": product, "media_type": listed_type, "format": container["format"]},
        )
    )
    container["published"] = media_id
    container["status"] = "PUBLISHED"
    return json({"id": media_id})


def _media_view(post: Post, fields: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": post.id}
    values = {
        "caption": post.text,
        "media_type": post.extra.get("media_type", "IMAGE"),
        "media_product_type": post.extra.get("product", "FEED"),
        "permalink": post.url,
        "timestamp": meta.graph_time(post.created_at),
        "like_count": post.count("likes"),
        "comments_count": post.count("replies"),
        "username": post.author_username,
        "media_url": post.media[0].get("url") if post.media else None,
    }
    for name in fields or {"id"}:
        if name in values:
            out[name] = values[name]
    return out


def _listing(
    sb: Sandbox,
    request: Request,
    account: Account,
    p: dict[str, Any],
    fields: set[str],
    *,
    stories: bool,
) -> Response:
    """`GET /{ig}/media` lists the account's posts and reels; its stories are only in
    `GET /{ig}/stories`."""
    mine = [
        x
        for x in reversed(sb.state.account_posts(NETWORK, account.id))
        if not x.deleted and x.kind == "post" and (x.extra.get("product") == "STORY") == stories
    ]
    return meta.page_of(request, p, mine, lambda x: _media_view(x, fields))


async def handle(
    sb: Sandbox, request: Request, method: str, segments: list[str], p: dict[str, Any]
) -> Response:
    account = meta.auth(sb, NETWORK, request, p)
    node = account.id if segments[0] == "me" else segments[0]
    edge = segments[1] if len(segments) > 1 else None
    fields = {f.strip() for f in str(p.get("fields", "")).split(",") if f.strip()}

    if node == account.id:
        if edge is None and method == "GET":
            out: dict[str, Any] = {"id": account.id, "username": account.username}
            if not fields or "user_id" in fields:
                out["user_id"] = account.id
            if "name" in fields:
                out["name"] = account.name
            if "followers_count" in fields:
                out["followers_count"] = int(account.extra.get("followers", 0))
            if "media_count" in fields:
                out["media_count"] = len(sb.state.by_account.get((NETWORK, account.id), ()))
            return json(out)
        if edge == "media" and method == "POST":
            return _create_container(sb, account, p)
        if edge in ("media", "stories") and method == "GET":
            return _listing(sb, request, account, p, fields, stories=edge == "stories")
        if edge == "media_publish" and method == "POST":
            return _publish(sb, account, p)
        if edge == "content_publishing_limit" and method == "GET":
            return json(
                {
                    "data": [
                        {
                            "quota_usage": meta.day_usage(sb, NETWORK, account.id),
                            "config": {"quota_total": DAILY_LIMIT, "quota_duration": 86400},
                        }
                    ]
                }
            )
        if edge == "messages" and method == "POST":
            return _send_message(sb, account, p)
        raise meta.unsupported(method, segments)

    container = _containers(sb).get(node)
    if container is not None and container["account_id"] == account.id and edge is None:
        status = meta.container_status(sb, container)
        out = {"id": node, "status_code": status}
        if "status" in fields:
            out["status"] = container["error"] and f"Error: {container['error']}" or status
        return json(out)

    post = sb.state.posts[NETWORK].get(node)
    if post is None or post.deleted:
        raise meta.unsupported(method, segments)
    media_post = post if post.kind == "post" else sb.state.posts[NETWORK][post.extra["media_id"]]
    if media_post.account_id != account.id:
        raise meta.unsupported(method, segments)
    if edge is None:
        if post.kind != "post":
            return json(
                {
                    "id": post.id,
                    "text": post.text,
                    "timestamp": meta.graph_time(post.created_at),
                    "from": {"id": post.author_id, "username": post.author_username},
                }
            )
        return json(_media_view(post, fields))
    if edge == "insights" and post.kind == "post":
        return meta.insights_response(
            post, meta.metric_list(p, segments), INSIGHTS, empty_until_measured=True
        )
    if edge in ("comments", "replies") and method == "GET":
        # A media's comments are its top-level comments; a comment's replies hang under it.
        if (edge == "comments") != (post.kind == "post"):
            raise meta.unsupported(method, segments)
        items = [
            x for x in sb.state.posts[NETWORK].values() if x.reply_to == post.id and not x.deleted
        ]
        return json(
            {
                "data": [
                    {
                        "id": x.id,
                        "text": x.text,
                        "username": x.author_username,
                        "from": {"id": x.author_id, "username": x.author_username},
                        "timestamp": meta.graph_time(x.created_at),
                    }
                    for x in items
                ]
            }
        )
    if edge in ("comments", "replies") and method == "POST":
        message = str(p.get("message", ""))
        if not message:
            raise errors.graph_error("(#100) The parameter message is required", 100)
        if edge == "replies" and (post.kind == "post" or post.reply_to != media_post.id):
            raise errors.graph_error("Replies are allowed on top-level comments only", 100)
        parent = None if post.kind == "post" else post
        reply = _comment(sb, media_post, parent, message, account.id, account.username, account.id)
        return json({"id": reply.id})
    raise meta.unsupported(method, segments)


def _send_message(sb: Sandbox, account: Account, p: dict[str, Any]) -> Response:
    """A reply to someone who wrote to the account within the standard messaging window."""

    def obj(value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                return {}
        return value if isinstance(value, dict) else {}

    recipient = str(obj(p.get("recipient")).get("id", ""))
    message = obj(p.get("message"))
    if not recipient or not message.get("text"):
        raise errors.graph_error("(#100) The parameter recipient is required", 100)
    last = sb.state.kv[NETWORK].get(("inbound", account.id, recipient))
    if last is None or time.time() - last > MESSAGING_WINDOW:
        raise errors.graph_error(
            "(#10) This message is sent outside of allowed window.", 10, subcode=2534022
        )
    mid = f"aWdfZAG1faXRlbToxOk{sb.state.numeric_id('')}"
    sb.state.kv[NETWORK].setdefault(("sent", account.id), []).append(
        {"mid": mid, "to": recipient, "text": message["text"], "at": time.time()}
    )
    return json({"recipient_id": recipient, "message_id": mid})


router = meta.graph_router(NETWORK, handle)
