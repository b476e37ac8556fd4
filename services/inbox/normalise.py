"""From each network's webhook payloads to the inbox's own words: items, kinds, authors.

`identify` runs in the receiver (it must be cheap: it only finds the event identity used to
deduplicate and the account that routes the receipt); `normalise` runs in the worker.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

Kind = Literal["comment", "mention", "dm"]


@dataclass(frozen=True)
class Identity:
    event_key: str
    account_id: str | None
    understood: bool


@dataclass
class Item:
    """One message from the audience, in network-neutral form."""

    external_id: str
    kind: Kind
    text: str
    author_id: str
    sent_at: datetime
    author_name: str | None = None
    author_handle: str | None = None
    # The network id this message answers (a post, a comment, or nothing for a DM).
    parent_external_id: str | None = None
    # The network post the thread hangs under, when the payload says so.
    post_external_id: str | None = None
    # DMs group by the person, not by a post.
    partner_id: str | None = None
    language: str | None = None
    # When the author's account was created, on networks whose payload says so (X).
    author_created_at: datetime | None = None
    # Where the author's own words begin in `text` (after the handles X puts before a reply).
    text_start: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


def unknown_identity(body: bytes, account_id: str | None = None) -> Identity:
    # A shape we do not understand still has a stable identity: its bytes. A redelivery of
    # the same unknown event is then stored once too.
    return Identity("sha256:" + hashlib.sha256(body).hexdigest(), account_id, False)


def identify(network: str, payload: Any, body: bytes) -> Identity:
    if not isinstance(payload, dict):
        return unknown_identity(body)
    if network == "x":
        return _x_identify(payload, body)
    if network in META:
        return _meta_identify(network, payload, body)
    if network == "linkedin":
        return _linkedin_identify(payload, body)
    if network == "tiktok":
        return _tiktok_identify(payload, body)
    if network == "youtube":
        return _youtube_identify(payload, body)
    return unknown_identity(body)


def normalise(network: str, payload: dict[str, Any]) -> list[Item]:
    if network == "x":
        return _x_items(payload)
    if network in META:
        return _meta_items(network, payload)
    if network == "linkedin":
        return _linkedin_items(payload)
    if network == "tiktok":
        return _tiktok_items(payload)
    # YouTube pushes uploads only (no audience messages); its comments arrive by polling.
    return []


class UnreadableBody(ValueError):
    """The body is not in the format the network sends (JSON, or Atom XML for YouTube)."""


def decode(network: str, body: bytes) -> Any:
    """The payload of a webhook body, in the format its network uses."""
    if network == "youtube":
        return parse_atom(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnreadableBody("not valid JSON") from exc


META = ("facebook", "instagram", "threads")

# --- X (Account Activity API, v1.1 objects) ---------------------------------------------------

X_TIME = "%a %b %d %H:%M:%S %z %Y"


def _x_identify(payload: dict[str, Any], body: bytes) -> Identity:
    account = _str(payload.get("for_user_id"))
    tweets = payload.get("tweet_create_events")
    if isinstance(tweets, list) and tweets:
        ids = [_str(t.get("id_str") or t.get("id")) for t in tweets if isinstance(t, dict)]
        if ids and all(ids):
            return Identity("tweet:" + ",".join(sorted(ids)), account, True)  # type: ignore[arg-type]
    dms = payload.get("direct_message_events")
    if isinstance(dms, list) and dms:
        ids = [_str(e.get("id")) for e in dms if isinstance(e, dict)]
        if ids and all(ids):
            return Identity("dm:" + ",".join(sorted(ids)), account, True)  # type: ignore[arg-type]
    return unknown_identity(body, account)


def _x_time(tweet: dict[str, Any]) -> datetime:
    ms = tweet.get("timestamp_ms")
    if ms:
        try:
            return datetime.fromtimestamp(int(ms) / 1000, UTC)
        except (TypeError, ValueError):
            pass
    try:
        return datetime.strptime(str(tweet.get("created_at")), X_TIME).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)


def _x_account_time(user: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(str(user.get("created_at")), X_TIME).astimezone(UTC)
    except ValueError:
        return None


def _x_text_start(tweet: dict[str, Any], text: str) -> int:
    shown = (tweet.get("extended_tweet") or {}).get("display_text_range") or tweet.get(
        "display_text_range")
    try:
        start = int(shown[0])
    except (TypeError, ValueError, IndexError, KeyError):
        return 0
    return start if 0 <= start <= len(text) else 0


def _x_items(payload: dict[str, Any]) -> list[Item]:
    account = _str(payload.get("for_user_id"))
    items: list[Item] = []
    for tweet in payload.get("tweet_create_events") or []:
        user = tweet.get("user") or {}
        author = _str(user.get("id_str") or user.get("id"))
        if not author or author == account:
            # Our own tweets and replies echo back through the same webhook; they are not
            # audience messages (outbound replies are recorded when they are requested).
            continue
        parent = _str(tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id"))
        to_us = _str(tweet.get("in_reply_to_user_id_str")) == account
        text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("text") or ""
        items.append(
            Item(
                external_id=_str(tweet.get("id_str") or tweet.get("id")) or "",
                kind="comment" if parent and to_us else "mention",
                text=text,
                author_id=author,
                author_name=user.get("name"),
                author_handle=user.get("screen_name"),
                sent_at=_x_time(tweet),
                parent_external_id=parent,
                post_external_id=parent if parent and to_us else None,
                language=tweet.get("lang") if tweet.get("lang") not in (None, "und") else None,
                author_created_at=_x_account_time(user),
                text_start=_x_text_start(tweet, text),
                raw=tweet,
            )
        )
    users = payload.get("users") or {}
    for event in payload.get("direct_message_events") or []:
        if event.get("type") != "message_create":
            continue
        create = event.get("message_create") or {}
        sender = _str(create.get("sender_id"))
        if not sender or sender == account:
            continue
        user = users.get(sender) or {}
        try:
            sent_at = datetime.fromtimestamp(int(event.get("created_timestamp")) / 1000, UTC)
        except (TypeError, ValueError):
            sent_at = datetime.now(UTC)
        items.append(
            Item(
                external_id=_str(event.get("id")) or "",
                kind="dm",
                text=(create.get("message_data") or {}).get("text") or "",
                author_id=sender,
                author_name=user.get("name"),
                author_handle=user.get("screen_name"),
                sent_at=sent_at,
                partner_id=sender,
                raw=event,
            )
        )
    return [i for i in items if i.external_id]


# --- Meta (Facebook Page, Instagram, Threads) -------------------------------------------------


def _meta_changes(entry: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    # Instagram puts `field`/`value` on the entry itself in some deliveries and inside
    # `changes` in others; both are accepted.
    out = [
        (str(c.get("field")), c.get("value") or {})
        for c in entry.get("changes") or []
        if isinstance(c, dict)
    ]
    if "field" in entry and isinstance(entry.get("value"), dict):
        out.append((str(entry["field"]), entry["value"]))
    return out


def _meta_events(network: str, payload: dict[str, Any]) -> list[tuple[str | None, str, Any]]:
    """(account, kind of event, the event) for everything a Meta delivery carries."""
    if network == "threads":
        values = payload.get("values")
        values = values if isinstance(values, list) else [values] if values else []
        account = _str(payload.get("target_id"))
        return [(account, str(v.get("field")), v.get("value") or {})
                for v in values if isinstance(v, dict)]
    events: list[tuple[str | None, str, Any]] = []
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        account = _str(entry.get("id"))
        for field_name, value in _meta_changes(entry):
            if (isinstance(value, dict) and entry.get("time")
                    and not (value.get("timestamp") or value.get("created_time"))):
                # Instagram's comment events carry no time of their own; the entry's time is
                # when it happened (better than when it was processed, which may be late).
                value = {**value, "timestamp": entry["time"]}
            events.append((account, field_name, value))
        for messaging in entry.get("messaging") or []:
            events.append((account, "messages", messaging))
    return events


def _meta_event_id(field_name: str, value: dict[str, Any]) -> str | None:
    if field_name == "messages":
        return _str((value.get("message") or {}).get("mid"))
    if field_name == "feed":
        return _str(value.get("comment_id")) if value.get("item") == "comment" else None
    if field_name == "mention":
        return _str(value.get("comment_id") or value.get("post_id"))
    return _str(value.get("id"))


# `mention` is the Page's: someone named the Page in their own post or comment.
HANDLED_META_FIELDS = {"feed", "comments", "mentions", "mention", "messages", "replies"}


def _meta_identify(network: str, payload: dict[str, Any], body: bytes) -> Identity:
    events = _meta_events(network, payload)
    account = events[0][0] if events else None
    ids = [
        f"{f}:{_meta_event_id(f, v)}"
        for _, f, v in events
        if f in HANDLED_META_FIELDS and isinstance(v, dict) and _meta_event_id(f, v)
    ]
    if not ids:
        return unknown_identity(body, account)
    return Identity(",".join(sorted(ids)), account, True)


def _epoch(value: Any) -> datetime:
    try:
        number = float(value)
    except (TypeError, ValueError):
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return datetime.now(UTC)
    # Meta mixes seconds (changes) and milliseconds (messaging).
    return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)


def _meta_items(network: str, payload: dict[str, Any]) -> list[Item]:
    items: list[Item] = []
    for account, field_name, value in _meta_events(network, payload):
        if not isinstance(value, dict):
            continue
        item = _meta_item(network, account, field_name, value)
        if item is not None and item.external_id and item.author_id != account:
            items.append(item)
    return items


def _meta_item(
    network: str, account: str | None, field_name: str, value: dict[str, Any]
) -> Item | None:
    if field_name == "messages":
        message = value.get("message") or {}
        if message.get("is_echo"):
            return None
        sender = _str((value.get("sender") or {}).get("id")) or ""
        return Item(
            external_id=_str(message.get("mid")) or "", kind="dm",
            text=message.get("text") or "", author_id=sender, partner_id=sender,
            sent_at=_epoch(value.get("timestamp")), raw=value,
        )
    if field_name == "feed":
        if value.get("item") != "comment" or value.get("verb") != "add":
            return None
        sender = value.get("from") or {}
        post = _str(value.get("post_id"))
        parent = _str(value.get("parent_id")) or post
        return Item(
            external_id=_str(value.get("comment_id")) or "", kind="comment",
            text=value.get("message") or "", author_id=_str(sender.get("id")) or "",
            author_name=sender.get("name"), sent_at=_epoch(value.get("created_time")),
            parent_external_id=parent, post_external_id=post, raw=value,
        )
    if field_name == "mention" and network == "facebook":
        if value.get("verb") != "add":
            return None
        return Item(
            external_id=_str(value.get("comment_id") or value.get("post_id")) or "",
            kind="mention", text=value.get("message") or "",
            author_id=_str(value.get("sender_id")) or "", author_name=value.get("sender_name"),
            sent_at=_epoch(value.get("created_time")), raw=value,
        )
    if field_name in ("comments", "mentions"):
        sender = value.get("from") or {}
        media = _str((value.get("media") or {}).get("id"))
        return Item(
            external_id=_str(value.get("id")) or "",
            kind="comment" if field_name == "comments" else "mention",
            text=value.get("text") or "", author_id=_str(sender.get("id")) or "",
            author_handle=sender.get("username"),
            sent_at=_epoch(value.get("timestamp") or value.get("created_time")),
            parent_external_id=_str(value.get("parent_id")) or media,
            post_external_id=media, raw=value,
        )
    if field_name == "replies" and network == "threads":
        root = _str((value.get("root_post") or {}).get("id"))
        username = value.get("username")
        return Item(
            external_id=_str(value.get("id")) or "", kind="comment",
            text=value.get("text") or "",
            # Threads names the replier by username only.
            author_id=username or "", author_handle=username,
            sent_at=_epoch(value.get("timestamp")),
            parent_external_id=_str((value.get("replied_to") or {}).get("id")) or root,
            post_external_id=root, raw=value,
        )
    return None


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


# --- LinkedIn (organization social action notifications) --------------------------------------

LINKEDIN_KINDS: dict[str, Kind] = {"COMMENT": "comment", "SHARE_MENTION": "mention",
                                   "COMMENT_MENTION": "mention"}


def _linkedin_notifications(payload: dict[str, Any]) -> list[dict[str, Any]]:
    notes = payload.get("notifications")
    return [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []


def _linkedin_identify(payload: dict[str, Any], body: bytes) -> Identity:
    notes = _linkedin_notifications(payload)
    account = _str(notes[0].get("organizationalEntity")) if notes else None
    ids = [
        f"{n.get('action')}:{_str(n.get('generatedActivity'))}"
        for n in notes
        if n.get("action") in LINKEDIN_KINDS and _str(n.get("generatedActivity"))
    ]
    if not ids:
        return unknown_identity(body, account)
    return Identity(",".join(sorted(ids)), account, True)


def _linkedin_items(payload: dict[str, Any]) -> list[Item]:
    items: list[Item] = []
    for note in _linkedin_notifications(payload):
        kind = LINKEDIN_KINDS.get(str(note.get("action")))
        external_id = _str(note.get("generatedActivity"))
        if kind is None or external_id is None:
            continue
        decorated = note.get("decoratedGeneratedActivity") or {}
        detail = decorated.get("comment") or decorated.get("share") or {}
        author = _str(note.get("actor") or detail.get("owner")) or ""
        if author == _str(note.get("organizationalEntity")):
            continue
        post = _str(note.get("sourcePost") or detail.get("entity"))
        items.append(
            Item(
                external_id=external_id, kind=kind, text=detail.get("text") or "",
                author_id=author, author_name=detail.get("fullName"),
                sent_at=_epoch(note.get("lastModifiedAt")),
                parent_external_id=_str(detail.get("parentComment")) or post,
                post_external_id=post if kind == "comment" else None, raw=note,
            )
        )
    return items


# --- TikTok ------------------------------------------------------------------------------------


def _tiktok_content(payload: dict[str, Any]) -> dict[str, Any]:
    # `content` is a JSON document inside a string.
    content = payload.get("content")
    if isinstance(content, str):
        try:
            content = orjson.loads(content)
        except orjson.JSONDecodeError:
            return {}
    return content if isinstance(content, dict) else {}


# TikTok's webhook events are about the app and the account (authorization.removed,
# video.upload.failed, video.publish.completed, portability.download.ready): none carries a
# comment or a message, and its API offers no comment listing to an account's app. They are
# kept as receipts and counted, and make no messages.
TIKTOK_MESSAGE_EVENTS: frozenset[str] = frozenset()


def _tiktok_identify(payload: dict[str, Any], body: bytes) -> Identity:
    account = _str(payload.get("user_openid"))
    event_name = _str(payload.get("event"))
    content = _tiktok_content(payload)
    comment = _str(content.get("comment_id"))
    if event_name in TIKTOK_MESSAGE_EVENTS and comment:
        return Identity(f"{event_name}:{comment}", account, True)
    if event_name and payload.get("create_time") is not None:
        # No event id exists: the event, its account, its time and its content identify it,
        # and stay the same across TikTok's retries.
        digest = hashlib.sha256(str(payload.get("content")).encode()).hexdigest()[:32]
        key = f"{event_name}:{account}:{payload.get('create_time')}:{digest}"
        return Identity(key, account, False)
    return unknown_identity(body, account)


def _tiktok_items(payload: dict[str, Any]) -> list[Item]:
    if payload.get("event") not in TIKTOK_MESSAGE_EVENTS:
        return []
    content = _tiktok_content(payload)
    user = content.get("user") or {}
    external_id = _str(content.get("comment_id"))
    author = _str(user.get("open_id"))
    if not external_id or not author or author == _str(payload.get("user_openid")):
        return []
    video = _str(content.get("video_id"))
    return [
        Item(
            external_id=external_id, kind="comment", text=content.get("text") or "",
            author_id=author, author_name=user.get("display_name"),
            sent_at=_epoch(content.get("create_time") or payload.get("create_time")),
            parent_external_id=_str(content.get("parent_comment_id")) or video,
            post_external_id=video, raw=content,
        )
    ]


# --- YouTube (WebSub Atom feed of a channel's uploads) -----------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
YT = "{http://www.youtube.com/xml/schemas/2015}"
TOMBSTONE = "{http://purl.org/atompub/tombstones/1.0}"


def parse_atom(body: bytes) -> dict[str, Any]:
    """The uploads and deletions a YouTube WebSub notification announces."""
    # Entity declarations are how XML bombs work; a feed never needs them.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise UnreadableBody("document type declarations are not accepted")
    try:
        root = ET.fromstring(body)  # noqa: S314  (no DTDs reach this point)
    except ET.ParseError as exc:
        raise UnreadableBody("not well-formed XML") from exc
    if root.tag != f"{ATOM}feed":
        raise UnreadableBody("not an Atom feed")
    uploads = []
    for entry in root.findall(f"{ATOM}entry"):
        link = entry.find(f"{ATOM}link")
        uploads.append({
            "video_id": entry.findtext(f"{YT}videoId"),
            "channel_id": entry.findtext(f"{YT}channelId"),
            "title": entry.findtext(f"{ATOM}title"),
            "published": entry.findtext(f"{ATOM}published"),
            "updated": entry.findtext(f"{ATOM}updated"),
            "url": link.get("href") if link is not None else None,
        })
    deleted = []
    for gone in root.findall(f"{TOMBSTONE}deleted-entry"):
        uri = gone.findtext(f"{TOMBSTONE}by/{ATOM}uri") or ""
        deleted.append({
            "video_id": (gone.get("ref") or "").removeprefix("yt:video:"),
            "when": gone.get("when"),
            "channel_id": uri.rsplit("/", 1)[-1] or None,
        })
    return {"uploads": uploads, "deleted": deleted}


def _youtube_identify(payload: dict[str, Any], body: bytes) -> Identity:
    uploads = [u for u in payload.get("uploads", []) if u.get("video_id")]
    deleted = [d for d in payload.get("deleted", []) if d.get("video_id")]
    account = next(
        (x.get("channel_id") for x in [*uploads, *deleted] if x.get("channel_id")), None
    )
    # The same video is announced again when its title or description changes: `updated`
    # tells those apart, while a redelivery of one notification stays one receipt.
    ids = [f"video:{u['video_id']}@{u.get('updated') or ''}" for u in uploads]
    ids += [f"deleted:{d['video_id']}" for d in deleted]
    if not ids:
        return unknown_identity(body, account)
    return Identity(",".join(sorted(ids)), account, True)


def youtube_uploads(payload: dict[str, Any]) -> list[tuple[str, datetime]]:
    """(video id, published time) of each upload a notification announces."""
    return [
        (u["video_id"], _epoch(u.get("published")))
        for u in payload.get("uploads", [])
        if u.get("video_id")
    ]
