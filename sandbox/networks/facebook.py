"""Facebook Pages (Graph API): ``https://graph.facebook.com`` ↔ ``{public_url}/facebook``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from sandbox import errors
from sandbox.core import Sandbox
from sandbox.http import json
from sandbox.media import sniff
from sandbox.networks import meta
from sandbox.networks.common import expires_at
from sandbox.state import Account, Post

NETWORK = "facebook"
MAX_CHARS = 63206
UPLOAD_VERSION = "v21.0"
MESSAGING_WINDOW = 24 * 3600
INSIGHTS = {
    "post_media_view": "views",
    "post_impressions": "views",
    "post_impressions_unique": "reach",
    "post_total_media_view_unique": "reach",
    "post_engaged_users": "likes",
    "post_clicks": "clicks",
    "post_reactions_like_total": "likes",
    "post_reactions_by_type_total": "reactions",
}


def make_account(sb: Sandbox, name: str | None) -> Account:
    n = sb.state.seq()
    return sb.state.add_account(Account(
        network=NETWORK, id=sb.state.numeric_id("10"), name=name or f"Sandbox Page {n}",
        username=f"sandboxpage{n}", created_at=time.time(),
    ))


def external_id(account: Account) -> str:
    return account.id


def credentials(sb: Sandbox, account: Account) -> dict[str, Any]:
    issued = meta.issue(sb, NETWORK, account)
    return {"access_token": issued["access_token"], "page_id": account.id,
            "expires_at": expires_at(issued["expires_in"])}


def _comment_payload(page: Account, post: Post, comment: Post) -> dict[str, Any]:
    now = int(time.time())
    return {"object": "page", "entry": [{"id": page.id, "time": now, "changes": [{
        "field": "feed",
        "value": {
            "from": {"id": comment.author_id, "name": comment.author_name},
            "post": {"id": post.extra.get("root", post.id), "status_type": "mobile_status_update",
                     "is_published": True},
            "message": comment.text,
            "post_id": post.extra.get("root", post.id),
            "comment_id": comment.id,
            "created_time": int(comment.created_at),
            "item": "comment",
            "parent_id": post.id,
            "verb": "add",
        },
    }]}]}


def _add_comment(sb: Sandbox, parent: Post, text: str, author_id: str, author_name: str,
                 account_id: str | None) -> Post:
    root = parent.extra.get("root", parent.id)
    comment_id = f"{root.split('_')[-1]}_{sb.state.numeric_id('1')}"
    comment = sb.state.add_post(Post(
        network=NETWORK, id=comment_id, account_id=account_id, text=text,
        created_at=time.time(), kind="comment" if account_id is None else "reply",
        reply_to=parent.id, author_id=author_id, author_name=author_name,
        url=f"https://www.facebook.com/{comment_id}", extra={"root": root},
    ))
    parent.metrics["replies"] = parent.metrics.get("replies", 0.0) + 1
    return comment


def add_comment(sb: Sandbox, post: Post, text: str, author: str) -> dict[str, Any]:
    page_id = post.account_id or post.author_id
    page = sb.state.accounts[NETWORK][page_id]
    fan = sb.state.fan(NETWORK, author)
    comment = _add_comment(sb, post, text, fan.id, fan.name, None)
    delivery = sb.deliveries.send(NETWORK, "feed", _comment_payload(page, post, comment),
                                 account_id=page.id)
    return {"id": comment.id, "text": text, "delivery_id": delivery["id"]}


def add_mention(sb: Sandbox, account: Account, text: str, author: str) -> dict[str, Any]:
    """Someone names the Page in a post of their own: the Page's `mention` field."""
    fan = sb.state.fan(NETWORK, author)
    now = time.time()
    post_id = f"{fan.id}_{sb.state.numeric_id('1')}"
    value = {"post_id": post_id, "sender_id": fan.id, "sender_name": fan.name, "item": "post",
             "verb": "add", "message": text, "created_time": int(now)}
    payload = {"object": "page", "entry": [{"id": account.id, "time": int(now),
               "changes": [{"field": "mention", "value": value}]}]}
    delivery = sb.deliveries.send(NETWORK, "mention", payload, account_id=account.id)
    return {"id": post_id, "text": text, "delivery_id": delivery["id"]}


def add_message(sb: Sandbox, account: Account, text: str, author: str) -> dict[str, Any]:
    fan = sb.state.fan(NETWORK, author)
    psid = "2" + fan.id[1:]
    now = time.time()
    mid = f"m_{sb.state.numeric_id('')}"
    sb.state.kv[NETWORK][("inbound", account.id, psid)] = now
    payload = {"object": "page", "entry": [{"id": account.id, "time": int(now * 1000),
               "messaging": [{"sender": {"id": psid}, "recipient": {"id": account.id},
                              "timestamp": int(now * 1000),
                              "message": {"mid": mid, "text": text}}]}]}
    delivery = sb.deliveries.send(NETWORK, "messages", payload, account_id=account.id)
    return {"id": mid, "sender": psid, "text": text, "delivery_id": delivery["id"]}


def _post_view(sb: Sandbox, post: Post, fields: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": post.id}
    wanted = fields or {"message", "created_time"}
    if "message" in wanted:
        out["message"] = post.text
    if "created_time" in wanted:
        out["created_time"] = meta.graph_time(post.created_at)
    if "permalink_url" in wanted:
        out["permalink_url"] = post.url
    if "from" in wanted:
        out["from"] = {"id": post.author_id, "name": post.author_name}
    if "shares" in wanted and post.count("shares"):
        out["shares"] = {"count": post.count("shares")}
    if "parent_id" in wanted and post.reply_to:
        out["parent_id"] = post.reply_to
    if "attachments" in wanted and post.media:
        out["attachments"] = {"data": [{"media_type": "video" if m.get("kind") == "video"
                                        else "photo", "url": m.get("url")}
                                       for m in post.media]}
    return out


def _fields(p: dict[str, Any]) -> set[str]:
    raw = str(p.get("fields", ""))
    return {f.split("{")[0].split(".")[0].strip() for f in raw.split(",") if f.strip()}


def _publish(sb: Sandbox, page: Account, text: str, media: list[dict[str, Any]],
             link: str | None, *, reel_id: str | None = None) -> Post:
    """A Page post; a reel is known by its video id and shown at `/reel/{id}`."""
    if len(text) > MAX_CHARS:
        raise errors.graph_error("(#100) Param message must be at most 63206 characters", 100)
    if not text and not media and not link:
        raise errors.graph_error("(#100) Missing message or attachment", 100)
    if sb.state.is_repeat(NETWORK, page.id, text, None):
        raise errors.graph_error("(#506) Duplicate status message", 506)
    post_id = reel_id or f"{page.id}_{sb.state.numeric_id('1')}"
    url = f"https://www.facebook.com/reel/{reel_id}" if reel_id else (
        f"https://www.facebook.com/{post_id}")
    extra: dict[str, Any] = {"link": link, "short_id": post_id.split("_")[-1]}
    if reel_id:
        extra["format"] = {"product": "REELS"}
    return sb.state.add_post(Post(
        network=NETWORK, id=post_id, account_id=page.id, text=text, created_at=time.time(),
        media=media, url=url, author_id=page.id, author_name=page.name, extra=extra,
    ))


def _reels(sb: Sandbox) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = sb.state.kv[NETWORK].setdefault("reels", {})
    return found


def _reel(sb: Sandbox, page: Account, p: dict[str, Any]) -> Response:
    """`POST /{page-id}/video_reels`: `start` opens an upload (the video id and the URL to
    upload to), `finish` with `video_state=PUBLISHED` posts the uploaded video as a reel."""
    phase = str(p.get("upload_phase", ""))
    if phase == "start":
        video_id = sb.state.numeric_id("4")
        _reels(sb)[video_id] = {"page": page.id, "url": None}
        upload_url = f"{sb.base_url(NETWORK)}/video-upload/{UPLOAD_VERSION}/{video_id}"
        return json({"video_id": video_id, "upload_url": upload_url})
    if phase != "finish":
        raise errors.graph_error("(#100) upload_phase must be one of start, finish", 100)
    video_id = str(p.get("video_id", ""))
    reel = _reels(sb).get(video_id)
    if reel is None or reel["page"] != page.id:
        raise errors.graph_error(f"(#100) Invalid video_id {video_id}", 100)
    if reel["url"] is None:
        raise errors.graph_error("(#6000) The video has not been uploaded", 6000)
    if str(p.get("video_state", "")).upper() != "PUBLISHED":
        raise errors.graph_error("(#100) video_state must be PUBLISHED for a published reel",
                                 100)
    media = [{"id": video_id, "kind": "video", "url": reel["url"],
              "digest": f"url:{reel['url']}"}]
    _publish(sb, page, str(p.get("description") or ""), media, None, reel_id=video_id)
    del _reels(sb)[video_id]
    return json({"success": True})


def _reel_upload(sb: Sandbox, page: Account, request: Request, video_id: str) -> Response:
    """`POST rupload.facebook.com/video-upload/{version}/{video-id}` with the video's URL in
    the `file_url` header: Facebook fetches it."""
    reel = _reels(sb).get(video_id)
    if reel is None or reel["page"] != page.id:
        raise errors.graph_error(f"(#100) Invalid video id {video_id}", 100)
    url = request.headers.get("file_url")
    if not url:
        raise errors.graph_error("(#100) Requires the file_url header or the file's bytes", 100)
    fetched, mime = meta.sample_mime(url)
    if not fetched or (mime is not None and not mime.startswith("video/")):
        raise errors.graph_error("(#352) The video could not be fetched or is not a video", 352)
    reel["url"] = url
    return json({"success": True})


def _as_person(sb: Sandbox, page: Account, method: str, segments: list[str]) -> Response:
    """What a person's token (from Facebook Login) reaches: the person, and the Pages they
    manage (`/me/accounts`, each with its Page token). Anything a Page does needs the Page's
    own token."""
    if segments[0] != "me" or method != "GET" or len(segments) > 2:
        raise errors.graph_error("(#200) This call needs the Page's access token "
                                 "(from /me/accounts), not a person's", 200)
    person = {"id": f"10{page.id}", "name": f"{page.name} admin"}
    if len(segments) == 1:
        return json(person)
    if segments[1] != "accounts":
        raise errors.graph_error(f"(#100) Tried accessing nonexisting field ({segments[1]}) "
                                 "on node type (User)", 100)
    token = meta.issue(sb, NETWORK, page)["access_token"]
    return json({"data": [{"id": page.id, "name": page.name, "access_token": token,
                           "category": "Brand",
                           "tasks": ["CREATE_CONTENT", "MODERATE", "MESSAGING"]}],
                 "paging": {}})


def _photo(sb: Sandbox, page: Account, p: dict[str, Any]) -> Response:
    """`POST /{page-id}/photos`: a photo post, or with `published=false` a photo that waits
    to be attached to a feed post (`attached_media`)."""
    url = p.get("url")
    if not url:
        raise errors.graph_error("(#324) Requires upload file", 324)
    photo = {"id": sb.state.numeric_id("3"), "kind": "image", "url": url,
             "digest": f"url:{url}"}
    if str(p.get("published", "true")).lower() == "false":
        _unpublished(sb)[str(photo["id"])] = (page.id, photo)
        return json({"id": photo["id"]})
    post = _publish(sb, page, str(p.get("caption") or p.get("message") or ""), [photo], None)
    return json({"id": photo["id"], "post_id": post.id})


def _sessions(sb: Sandbox) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = sb.state.kv[NETWORK].setdefault("upload_sessions", {})
    return found


def _offsets(sb: Sandbox, session: dict[str, Any]) -> dict[str, str]:
    """The next chunk Facebook wants: from what it holds to at most one chunk further."""
    start = len(session["received"])
    end = min(session["size"], start + sb.settings.facebook_chunk_bytes)
    return {"start_offset": str(start), "end_offset": str(end)}


def _resumable(sb: Sandbox, page: Account, p: dict[str, Any]) -> Response:
    """`POST /{page-id}/videos` by resumable upload: `start` with `file_size` opens a session,
    each `transfer` sends the `video_file_chunk` at `start_offset`, `finish` posts the video
    once every byte is there."""
    phase = str(p.get("upload_phase"))
    if phase == "start":
        size = str(p.get("file_size", ""))
        if not size.isdigit() or int(size) == 0:
            raise errors.graph_error("(#100) Param file_size must be a positive integer", 100)
        session_id = sb.state.numeric_id("5")
        session = {"page": page.id, "video_id": sb.state.numeric_id("4"), "size": int(size),
                   "received": bytearray(), "chunks": 0}
        _sessions(sb)[session_id] = session
        return json({"video_id": session["video_id"], "upload_session_id": session_id,
                     **_offsets(sb, session)})
    session_id = str(p.get("upload_session_id", ""))
    session = _sessions(sb).get(session_id)
    if session is None or session["page"] != page.id:
        raise errors.graph_error(f"(#100) Invalid upload_session_id {session_id}", 100)
    if phase == "transfer":
        chunk = p.get("video_file_chunk")
        if str(p.get("start_offset")) != str(len(session["received"])) or chunk is None:
            raise errors.graph_error("(#6001) The chunk does not start where the last ended",
                                     6001, subcode=1363037)
        session["received"] += bytes(getattr(chunk, "data", b""))[
            : session["size"] - len(session["received"])]
        session["chunks"] += 1
        return json(_offsets(sb, session))
    if phase != "finish":
        raise errors.graph_error("(#100) upload_phase must be start, transfer or finish", 100)
    if len(session["received"]) != session["size"]:
        raise errors.graph_error("(#6001) The upload is not complete", 6001)
    sniffed = sniff(bytes(session["received"]))
    if sniffed is None or sniffed[0] != "video":
        raise errors.graph_error("(#352) The file is not a video", 352)
    video_id = session["video_id"]
    media = [{"id": video_id, "kind": "video", "url": "", "mime": sniffed[1],
              "size": session["size"], "chunks": session["chunks"],
              "digest": f"upload:{session_id}"}]
    post = _publish(sb, page, str(p.get("description") or ""), media, None)
    post.extra["video_id"] = video_id
    del _sessions(sb)[session_id]
    return json({"success": True})


def _video(sb: Sandbox, page: Account, p: dict[str, Any]) -> Response:
    """`POST /{page-id}/videos` from a `file_url`: the video node's id; the Page post that
    shows it is `GET /{video-id}?fields=post_id`. With `upload_phase`: a resumable upload."""
    if "upload_phase" in p:
        return _resumable(sb, page, p)
    url = p.get("file_url")
    if not url:
        raise errors.graph_error("(#100) Requires upload file: file_url or source", 100)
    video_id = sb.state.numeric_id("4")
    media = [{"id": video_id, "kind": "video", "url": url, "digest": f"url:{url}"}]
    post = _publish(sb, page, str(p.get("description") or ""), media, None)
    post.extra["video_id"] = video_id
    return json({"id": video_id})


def _video_post(sb: Sandbox, video_id: str) -> Post | None:
    for post in sb.state.posts[NETWORK].values():
        if post.extra.get("video_id") == video_id and not post.deleted:
            return post
    return None


def _unpublished(sb: Sandbox) -> dict[str, tuple[str, dict[str, Any]]]:
    found: dict[str, tuple[str, dict[str, Any]]] = sb.state.kv[NETWORK].setdefault(
        "unpublished_photos", {}
    )
    return found


def _attached(sb: Sandbox, page: Account, p: dict[str, Any]) -> list[dict[str, Any]]:
    """The Page's unpublished photos a feed post names in `attached_media[i]`
    (`{"media_fbid": …}`), each usable once."""
    refs = sorted(
        ((int(key[len("attached_media["):-1]), value) for key, value in p.items()
         if key.startswith("attached_media[") and key.endswith("]")
         and key[len("attached_media["):-1].isdigit()),
    )
    waiting = _unpublished(sb)
    media = []
    for index, raw in refs:
        try:
            fbid = str(orjson.loads(raw).get("media_fbid", "")) if isinstance(raw, str) else ""
        except (orjson.JSONDecodeError, AttributeError):
            fbid = ""
        owner, photo = waiting.get(fbid, ("", {}))
        if owner != page.id:
            raise errors.graph_error(
                f"(#100) param attached_media[{index}] must be an unpublished photo of this Page",
                100,
            )
        media.append(photo)
    for photo in media:
        waiting.pop(str(photo["id"]), None)
    return media


# The Page edges that take a photo or a video.
UPLOADS: dict[str, Callable[[Sandbox, Account, dict[str, Any]], Response]] = {
    "photos": _photo, "videos": _video, "video_reels": _reel,
}


async def handle(sb: Sandbox, request: Request, method: str, segments: list[str],
                 p: dict[str, Any]) -> Response:
    account = meta.auth(sb, NETWORK, request, p)
    if meta.token_of(sb, NETWORK, request, p).person:
        return _as_person(sb, account, method, segments)
    if segments[0] == "video-upload" and method == "POST" and len(segments) == 3:
        return _reel_upload(sb, account, request, segments[2])
    node = account.id if segments[0] == "me" else segments[0]
    edge = segments[1] if len(segments) > 1 else None
    posts = sb.state.posts[NETWORK]

    if node == account.id:
        if edge is None and method == "GET":
            return json({"id": account.id, "name": account.name,
                         **({"category": "Brand"} if "category" in _fields(p) else {})})
        if edge == "feed" and method == "POST":
            media = _attached(sb, account, p)
            post = _publish(sb, account, str(p.get("message", "")), media, p.get("link"))
            return json({"id": post.id})
        if edge in UPLOADS and method == "POST":
            return UPLOADS[edge](sb, account, p)
        if edge in ("feed", "posts", "published_posts") and method == "GET":
            mine = [x for x in reversed(sb.state.account_posts(NETWORK, account.id))
                    if not x.deleted and x.kind == "post"]
            limit = int(p.get("limit", 25))
            return json({"data": [_post_view(sb, x, _fields(p)) for x in mine[:limit]],
                         "paging": {}})
        if edge == "messages" and method == "POST":
            return _send_message(sb, account, p)
        if edge == "insights" and method == "GET":
            mine = sb.state.account_posts(NETWORK, account.id)
            views = sum(x.count("views") for x in mine)
            return json({"data": [{"name": m, "period": "day", "values": [{"value": views}],
                                   "id": f"{account.id}/insights/{m}/day"}
                                  for m in meta.metric_list(p, segments)]})
        raise meta.unsupported(method, segments)

    video = _video_post(sb, node)
    if video is not None and edge is None and method == "GET" and video.account_id == account.id:
        return json({"id": node, "post_id": video.id, "description": video.text})
    post = posts.get(node)
    if post is None or post.deleted or (
        post.account_id != account.id and post.extra.get("root", "").split("_")[0] != account.id
    ):
        raise meta.unsupported(method, segments)
    if edge is None:
        if method == "DELETE":
            post.deleted = True
            return json({"success": True})
        reel = "format" in post.extra
        if method == "POST" and reel and "message" in p:
            # A reel is a video node: its words are its description.
            raise errors.graph_error("(#100) Unexpected parameter: message; a video takes "
                                     "description", 100)
        if method == "POST" and ("description" if reel else "message") in p:
            message = str(p["description" if reel else "message"])
            if len(message) > MAX_CHARS:
                raise errors.graph_error(
                    "(#100) Param message must be at most 63206 characters", 100
                )
            post.edit(message)
            return json({"success": True})
        return json(_post_view(sb, post, _fields(p)))
    if edge == "comments":
        if method == "POST":
            message = str(p.get("message", ""))
            if not message and not p.get("attachment_url"):
                raise errors.graph_error("(#100) Missing message", 100)
            comment = _add_comment(sb, post, message, account.id, account.name, account.id)
            return json({"id": comment.id})
        items = [x for x in posts.values() if x.reply_to == post.id and not x.deleted]
        out: dict[str, Any] = {"data": [
            {"id": x.id, "message": x.text, "created_time": meta.graph_time(x.created_at),
             "from": {"id": x.author_id, "name": x.author_name}} for x in items]}
        if "summary" in str(p.get("summary", "")) or p.get("summary") == "true":
            out["summary"] = {"total_count": len(items), "order": "chronological"}
        return json(out)
    if edge == "insights":
        return meta.insights_response(post, meta.metric_list(p, segments), INSIGHTS)
    if edge == "reactions":
        return json({"data": [], "summary": {"total_count": post.count("likes")}})
    raise meta.unsupported(method, segments)


def _send_message(sb: Sandbox, page: Account, p: dict[str, Any]) -> Response:
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
    last = sb.state.kv[NETWORK].get(("inbound", page.id, recipient))
    if p.get("messaging_type", "RESPONSE") == "RESPONSE" and (
        last is None or time.time() - last > MESSAGING_WINDOW
    ):
        raise errors.graph_error(
            "(#10) This message is sent outside of allowed window.", 10, subcode=2018278,
            type_="OAuthException",
        )
    mid = f"m_{sb.state.numeric_id('')}"
    sb.state.kv[NETWORK].setdefault(("sent", page.id), []).append(
        {"mid": mid, "to": recipient, "text": message["text"], "at": time.time()}
    )
    return json({"recipient_id": recipient, "message_id": mid})


router = meta.graph_router(NETWORK, handle)
