"""From each network's webhook payloads to the inbox's own words: items, kinds, authors.

`identify` runs in the receiver (it must be cheap: it only finds the event identity used to
deduplicate and the account that routes the receipt); `normalise` runs in the worker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

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
    return unknown_identity(body)


def normalise(network: str, payload: dict[str, Any]) -> list[Item]:
    if network == "x":
        return _x_items(payload)
    if network in META:
        return _meta_items(network, payload)
    return []


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
            events.append((account, field_name, value))
        for messaging in entry.get("messaging") or []:
            events.append((account, "messages", messaging))
    return events


def _meta_event_id(field_name: str, value: dict[str, Any]) -> str | None:
    if field_name == "messages":
        return _str((value.get("message") or {}).get("mid"))
    if field_name == "feed":
        return _str(value.get("comment_id")) if value.get("item") == "comment" else None
    return _str(value.get("id"))


HANDLED_META_FIELDS = {"feed", "comments", "mentions", "messages", "replies"}


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
