"""Meta inbound (Facebook Page, Instagram, Threads): the hub.verify_token handshake, events
signed with X-Hub-Signature-256, comments, mentions and messages."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from services.inbox.networks.base import Inbound, Refused, parse_json
from services.inbox.normalise import Identity, Item, text_of, time_of, unknown_identity
from services.inbox.settings import InboxSettings, NetworkApp
from services.inbox.signatures import same

META = ("facebook", "instagram", "threads")


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
        account = text_of(payload.get("target_id"))
        return [
            (account, str(v.get("field")), v.get("value") or {})
            for v in values
            if isinstance(v, dict)
        ]
    events: list[tuple[str | None, str, Any]] = []
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        account = text_of(entry.get("id"))
        for field_name, value in _meta_changes(entry):
            if (
                isinstance(value, dict)
                and entry.get("time")
                and not (value.get("timestamp") or value.get("created_time"))
            ):
                # Instagram's comment events carry no time of their own; the entry's time is
                # when it happened (better than when it was processed, which may be late).
                value = {**value, "timestamp": entry["time"]}
            events.append((account, field_name, value))
        for messaging in entry.get("messaging") or []:
            events.append((account, "messages", messaging))
    return events


def _meta_event_id(field_name: str, value: dict[str, Any]) -> str | None:
    if field_name == "messages":
        return text_of((value.get("message") or {}).get("mid"))
    if field_name == "feed":
        return text_of(value.get("comment_id")) if value.get("item") == "comment" else None
    if field_name == "mention":
        return text_of(value.get("comment_id") or value.get("post_id"))
    return text_of(value.get("id"))


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
        sender = text_of((value.get("sender") or {}).get("id")) or ""
        return Item(
            external_id=text_of(message.get("mid")) or "",
            kind="dm",
            text=message.get("text") or "",
            author_id=sender,
            partner_id=sender,
            sent_at=time_of(value.get("timestamp")),
            raw=value,
        )
    if field_name == "feed":
        if value.get("item") != "comment" or value.get("verb") != "add":
            return None
        sender = value.get("from") or {}
        post = text_of(value.get("post_id"))
        parent = text_of(value.get("parent_id")) or post
        return Item(
            external_id=text_of(value.get("comment_id")) or "",
            kind="comment",
            text=value.get("message") or "",
            author_id=text_of(sender.get("id")) or "",
            author_name=sender.get("name"),
            sent_at=time_of(value.get("created_time")),
            parent_external_id=parent,
            post_external_id=post,
            raw=value,
        )
    if field_name == "mention" and network == "facebook":
        if value.get("verb") != "add":
            return None
        return Item(
            external_id=text_of(value.get("comment_id") or value.get("post_id")) or "",
            kind="mention",
            text=value.get("message") or "",
            author_id=text_of(value.get("sender_id")) or "",
            author_name=value.get("sender_name"),
            sent_at=time_of(value.get("created_time")),
            raw=value,
        )
    if field_name in ("comments", "mentions"):
        sender = value.get("from") or {}
        media = text_of((value.get("media") or {}).get("id"))
        return Item(
            external_id=text_of(value.get("id")) or "",
            kind="comment" if field_name == "comments" else "mention",
            text=value.get("text") or "",
            author_id=text_of(sender.get("id")) or "",
            author_handle=sender.get("username"),
            sent_at=time_of(value.get("timestamp") or value.get("created_time")),
            parent_external_id=text_of(value.get("parent_id")) or media,
            post_external_id=media,
            raw=value,
        )
    if field_name == "replies" and network == "threads":
        root = text_of((value.get("root_post") or {}).get("id"))
        username = value.get("username")
        return Item(
            external_id=text_of(value.get("id")) or "",
            kind="comment",
            text=value.get("text") or "",
            # Threads names the replier by username only.
            author_id=username or "",
            author_handle=username,
            sent_at=time_of(value.get("timestamp")),
            parent_external_id=text_of((value.get("replied_to") or {}).get("id")) or root,
            post_external_id=root,
            raw=value,
        )
    return None


def meta_signature_ok(*, secret: str, body: bytes, header: str | None) -> bool:
    """Meta's X-Hub-Signature-256: `sha256=<hex HMAC-SHA256(app secret, raw body)>`."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return same(header[len("sha256=") :].strip().lower(), expected)


class Meta(Inbound):
    """One of Meta's networks: the same signature, each its own payload shapes."""

    def __init__(self, network: str) -> None:
        self.network = network  # type: ignore[misc]

    def verify(
        self, settings: InboxSettings, app: NetworkApp, headers: Mapping[str, str], body: bytes
    ) -> Any:
        if not meta_signature_ok(
            secret=app.client_secret, body=body, header=headers.get("x-hub-signature-256")
        ):
            raise Refused("The X-Hub-Signature-256 is missing or wrong.")
        return parse_json(body)

    def identify(self, payload: dict[str, Any], body: bytes) -> Identity:
        return _meta_identify(self.network, payload, body)

    def normalise(self, payload: dict[str, Any]) -> list[Item]:
        return _meta_items(self.network, payload)
