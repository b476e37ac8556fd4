"""Threads API: ``https://graph.threads.net`` ↔ ``{public_url}/threads``."""

from __future__ import annotations

import time
import unicodedata
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from sandbox import errors, polls
from sandbox.core import Sandbox
from sandbox.http import json
from sandbox.networks import meta
from sandbox.networks.common import expires_at, slug
from sandbox.state import Account, Post

NETWORK = "threads"
MAX_CHARS = 500
POLL_OPTION_CHARS = 25
POST_LIMIT = 250
REPLY_LIMIT = 1000
# What a published container is called in listings.
LISTED_TYPES = {
    "TEXT": "TEXT_POST",
    "IMAGE": "IMAGE",
    "VIDEO": "VIDEO",
    "CAROUSEL": "CAROUSEL_ALBUM",
}
INSIGHTS = {
    "views": "views",
    "likes": "likes",
    "replies": "replies",
    "reposts": "shares",
    "quotes": "quotes",
    "shares": "shares",
}


def make_account(sb: Sandbox, name: str | None) -> Account:
    n = sb.state.seq()
    display = name or f"Sandbox Threads {n}"
    return sb.state.add_account(
        Account(
            network=NETWORK,
            id=sb.state.numeric_id("26"),
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
        "user_id": account.id,
        "expires_at": expires_at(issued["expires_in"]),
    }


def _root(sb: Sandbox, post: Post) -> Post:
    posts = sb.state.posts[NETWORK]
    while post.reply_to and post.reply_to in posts:
        post = posts[post.reply_to]
    return post


def add_comment(sb: Sandbox, post: Post, text: str, author: str) -> dict[str, Any]:
    root = _root(sb, post)
    fan = sb.state.fan(NETWORK, author)
    reply = sb.state.add_post(
        Post(
            network=NETWORK,
            id=sb.state.numeric_id("18"),
            account_id=None,
            text=text,
            created_at=time.time(),
            kind="comment",
            reply_to=post.id,
            author_id=fan.id,
            author_name=fan.name,
            author_username=fan.username,
            url=f"https://www.threads.net/@{fan.username}/post/",
        )
    )
    reply.url += reply.id
    post.metrics["replies"] = post.metrics.get("replies", 0.0) + 1
    payload = {
        "app_id": sb.state.apps[NETWORK].client_id,
        "topic": "moderate",
        "target_id": root.account_id,
        "time": int(time.time()),
        "values": {
            "field": "replies",
            "value": {
                "id": reply.id,
                "username": fan.username,
                "text": text,
                "media_type": "TEXT_POST",
                "permalink": reply.url,
                "replied_to": {"id": post.id},
                "root_post": {
                    "id": root.id,
                    "owner_id": root.account_id,
                    "username": root.author_username,
                },
                "shortcode": reply.id[-11:],
                "timestamp": meta.graph_time(reply.created_at),
            },
        },
    }
    delivery = sb.deliveries.send(NETWORK, "replies", payload, account_id=root.account_id)
    return {"id": reply.id, "text": text, "delivery_id": delivery["id"]}


def _containers(sb: Sandbox) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = sb.state.kv[NETWORK].setdefault("containers", {})
    return found


def text_length(text: str) -> int:
    """Threads' count: an emoji costs its UTF-8 bytes, any other code point one."""
    total = 0
    for char in text:
        emoji = unicodedata.category(char) == "So" or 0x1F000 <= ord(char) <= 0x1FAFF
        total += len(char.encode("utf-8")) if emoji else 1
    return total


def _create(sb: Sandbox, account: Account, p: dict[str, Any]) -> Response:
    media_type = str(p.get("media_type", "TEXT")).upper()
    text = str(p.get("text", ""))
    carousel_item = str(p.get("is_carousel_item", "false")).lower() == "true"
    if text_length(text) > MAX_CHARS:
        raise errors.graph_error("Param text must be at most 500 characters long.", 100)
    media: list[dict[str, Any]] = []
    error = None
    extra_polls = 0
    if media_type in ("IMAGE", "VIDEO"):
        url = p.get("image_url") if media_type == "IMAGE" else p.get("video_url")
        if not url:
            raise errors.graph_error(
                f"(#100) The parameter {media_type.lower()}_url is required.", 100
            )
        fetched, mime = meta.sample_mime(str(url))
        # Threads fetches the media after the container is made; a failure shows in the
        # container's status (unconfirmed: the exact error_message wording).
        if not fetched:
            error = f"FAILED_DOWNLOADING_{media_type}"
        elif mime is not None and not mime.startswith(media_type.lower() + "/"):
            error = f"FAILED_PROCESSING_{media_type}"
        if media_type == "VIDEO":
            extra_polls = meta.VIDEO_EXTRA_POLLS
        media.append(
            {
                "id": sb.state.numeric_id("17"),
                "kind": media_type.lower(),
                "url": url,
                "digest": f"url:{url}",
                **({"alt": p["alt_text"]} if p.get("alt_text") else {}),
            }
        )
    elif media_type == "CAROUSEL":
        children = [c for c in str(p.get("children", "")).split(",") if c]
        if not 2 <= len(children) <= 20:
            raise errors.graph_error("A carousel needs 2 to 20 children", 100)
        for child in children:
            item = _containers(sb).get(child)
            if item is None or item["account_id"] != account.id or not item["carousel_item"]:
                raise errors.graph_error(f"Invalid child {child}", 100)
            media.extend(item["media"])
    elif media_type != "TEXT":
        raise errors.graph_error("(#100) Invalid media_type", 100)
    elif not text:
        raise errors.graph_error("(#100) The parameter text is required.", 100)
    reply_to = p.get("reply_to_id")
    if reply_to and str(reply_to) not in sb.state.posts[NETWORK]:
        raise errors.graph_error("Invalid reply_to_id", 100)
    poll = _poll(p.get("poll_attachment"), media_type=media_type)
    container_id = sb.state.numeric_id("17")
    _containers(sb)[container_id] = {
        "account_id": account.id,
        "status": "IN_PROGRESS",
        "polls": 0,
        "text": text,
        "media": media,
        "media_type": media_type,
        "reply_to": reply_to,
        "published": None,
        "error": error,
        "extra_polls": extra_polls,
        "carousel_item": carousel_item,
        "poll": poll,
    }
    return json({"id": container_id})


def _poll(raw: Any, *, media_type: str) -> dict[str, Any] | None:
    """`poll_attachment` = {"option_a", "option_b", "option_c"?, "option_d"?}: a text post
    only, each option at most 25 characters; the poll is open for 24 hours."""
    if raw is None or raw == "":
        return None
    if media_type != "TEXT":
        raise errors.graph_error("(#100) A poll can only be attached to a text post.", 100)
    try:
        value = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    except orjson.JSONDecodeError:
        raise errors.graph_error("(#100) Param poll_attachment must be JSON", 100) from None
    if not isinstance(value, dict):
        raise errors.graph_error("(#100) Param poll_attachment must be an object", 100)
    names = [f"option_{c}" for c in "abcd"]
    unknown = set(value) - set(names)
    options = [value[n] for n in names if n in value]
    present = [n in value for n in names]
    if unknown or len(options) < 2 or present != sorted(present, reverse=True):
        raise errors.graph_error(
            "(#100) poll_attachment takes option_a and option_b, then option_c, option_d", 100
        )
    if any(not isinstance(o, str) or not o.strip() or len(o) > POLL_OPTION_CHARS
           for o in options):
        raise errors.graph_error(
            f"(#100) Each poll option is 1 to {POLL_OPTION_CHARS} characters", 100
        )
    return polls.new_poll(options, minutes=24 * 60)


def _publish(sb: Sandbox, account: Account, p: dict[str, Any]) -> Response:
    creation_id = str(p.get("creation_id", ""))
    container = _containers(sb).get(creation_id)
    if container is None or container["account_id"] != account.id:
        raise errors.graph_error("Media ID is not available", 24, subcode=4279009)
    if container["published"]:
        raise errors.graph_error("The media has already been published", 24, subcode=4279009)
    if container["status"] != "FINISHED":
        raise errors.graph_error(
            "The media is not ready for publishing, please wait for a moment", 24, subcode=4279009
        )
    if container["carousel_item"]:
        raise errors.graph_error("A carousel item cannot be published on its own", 100)
    reply_to = container["reply_to"]
    kind = "reply" if reply_to else "post"
    limit = REPLY_LIMIT if reply_to else POST_LIMIT
    if meta.day_usage(sb, NETWORK, account.id, kind) >= limit:
        raise errors.graph_error("Application request limit reached", 9, subcode=2207042)
    media_id = sb.state.numeric_id("18")
    parent = sb.state.posts[NETWORK].get(str(reply_to)) if reply_to else None
    if parent is not None:
        parent.metrics["replies"] = parent.metrics.get("replies", 0.0) + 1
    sb.state.add_post(
        Post(
            network=NETWORK,
            id=media_id,
            account_id=account.id,
            text=container["text"],
            created_at=time.time(),
            media=container["media"],
            url=f"https://www.threads.net/@{account.username}/post/{media_id[-11:]}",
            reply_to=parent.id if parent else None,
            author_id=account.id,
            author_name=account.name,
            author_username=account.username,
            extra={
                "media_type": LISTED_TYPES.get(container["media_type"], "TEXT_POST"),
                **({"poll": container["poll"]} if container.get("poll") else {}),
            },
        )
    )
    container["published"] = media_id
    container["status"] = "PUBLISHED"
    return json({"id": media_id})


def top_level_fields(raw: str) -> set[str]:
    """`id,poll_attachment{option_a,total_votes}` → {"id", "poll_attachment"}: Graph's field
    list, whose nested lists name a field's own fields."""
    names, depth, current = set(), 0, ""
    for char in raw + ",":
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            if current.strip():
                names.add(current.strip())
            current = ""
        elif depth == 0:
            current += char
    return names


def _poll_view(poll: dict[str, Any]) -> dict[str, Any]:
    """`poll_attachment` as Threads shows it: the options, each one's share of the votes (a
    fraction), the total and when it closes."""
    total = polls.total(poll)
    out: dict[str, Any] = {"total_votes": total,
                           "expiration_timestamp": meta.graph_time(float(poll["closes"]))}
    for letter, option in zip("abcd", poll["options"], strict=False):
        out[f"option_{letter}"] = option["label"]
        out[f"option_{letter}_votes_percentage"] = option["votes"] / total if total else 0.0
    return out


def _thread_view(sb: Sandbox, post: Post, fields: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "text": post.text,
        "media_type": post.extra.get("media_type", "TEXT_POST"),
        "permalink": post.url,
        "timestamp": meta.graph_time(post.created_at),
        "username": post.author_username,
        "is_reply": post.reply_to is not None,
        "shortcode": post.id[-11:],
        "hide_status": post.extra.get("hide_status", "NOT_HUSHED"),
    }
    if post.extra.get("poll"):
        values["poll_attachment"] = _poll_view(post.extra["poll"])
    if post.reply_to is not None:
        values["replied_to"] = {"id": post.reply_to}
        values["root_post"] = {"id": _root(sb, post).id}
    out: dict[str, Any] = {"id": post.id}
    for name in fields:
        if name in values:
            out[name] = values[name]
    return out


async def handle(
    sb: Sandbox, request: Request, method: str, segments: list[str], p: dict[str, Any]
) -> Response:
    account = meta.auth(sb, NETWORK, request, p)
    node = account.id if segments[0] == "me" else segments[0]
    edge = segments[1] if len(segments) > 1 else None
    fields = top_level_fields(str(p.get("fields", "")))

    if node == account.id:
        if edge is None and method == "GET":
            out: dict[str, Any] = {"id": account.id, "username": account.username}
            if "name" in fields:
                out["name"] = account.name
            return json(out)
        if edge == "threads" and method == "POST":
            return _create(sb, account, p)
        if edge == "threads_publish" and method == "POST":
            return _publish(sb, account, p)
        if edge in ("threads", "replies") and method == "GET":
            want_replies = edge == "replies"
            mine = [
                x
                for x in reversed(sb.state.account_posts(NETWORK, account.id))
                if not x.deleted and (x.reply_to is not None) == want_replies
            ]
            return meta.page_of(request, p, mine, lambda x: _thread_view(sb, x, fields))
        if edge == "threads_publishing_limit" and method == "GET":
            return json(
                {
                    "data": [
                        {
                            "quota_usage": meta.day_usage(sb, NETWORK, account.id),
                            "config": {"quota_total": POST_LIMIT, "quota_duration": 86400},
                            "reply_quota_usage": meta.day_usage(sb, NETWORK, account.id, "reply"),
                            "reply_config": {"quota_total": REPLY_LIMIT, "quota_duration": 86400},
                        }
                    ]
                }
            )
        raise meta.unsupported(method, segments)

    container = _containers(sb).get(node)
    if container is not None and container["account_id"] == account.id and edge is None:
        status = meta.container_status(sb, container)
        return json(
            {
                "id": node,
                "status": status,
                "status_code": status,
                **({"error_message": container["error"]} if container["error"] else {}),
            }
        )

    post = sb.state.posts[NETWORK].get(node)
    if post is None or post.deleted:
        raise meta.unsupported(method, segments)
    root = _root(sb, post)
    if root.account_id != account.id:
        raise meta.unsupported(method, segments)
    if edge is None:
        if method == "DELETE":
            post.deleted = True
            return json({"success": True})
        return json(_thread_view(sb, post, fields or {"text"}))
    if edge == "insights":
        return meta.insights_response(post, meta.metric_list(p, segments), INSIGHTS)
    if edge in ("replies", "conversation") and method == "GET":
        posts = sb.state.posts[NETWORK].values()
        if edge == "replies":
            items = [x for x in posts if x.reply_to == post.id and not x.deleted]
        else:
            items = [
                x for x in posts if x.reply_to and not x.deleted and _root(sb, x).id == post.id
            ]
        return json(
            {
                "data": [
                    _thread_view(sb, x, fields or {"text", "username", "timestamp"}) for x in items
                ],
                "paging": {},
            }
        )
    if edge == "manage_reply" and method == "POST":
        hide = str(p.get("hide", "true")).lower() == "true"
        post.extra["hide_status"] = "HIDDEN" if hide else "UNHUSHED"
        return json({"success": True})
    raise meta.unsupported(method, segments)


router = meta.graph_router(NETWORK, handle)
