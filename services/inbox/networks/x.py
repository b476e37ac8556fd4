"""X inbound: the Account Activity API's CRC handshake, signed events (v1.1 objects) of
mentions, replies and direct messages."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.inbox.networks.base import Inbound, Refused, parse_json
from services.inbox.normalise import Identity, Item, text_of, unknown_identity
from services.inbox.settings import InboxSettings, NetworkApp
from services.inbox.signatures import check_signed_challenge, hmac_sha256, same

X_TIME = "%a %b %d %H:%M:%S %z %Y"


def _x_identify(payload: dict[str, Any], body: bytes) -> Identity:
    account = text_of(payload.get("for_user_id"))
    tweets = payload.get("tweet_create_events")
    if isinstance(tweets, list) and tweets:
        ids = [text_of(t.get("id_str") or t.get("id")) for t in tweets if isinstance(t, dict)]
        if ids and all(ids):
            return Identity("tweet:" + ",".join(sorted(ids)), account, True)  # type: ignore[arg-type]
    dms = payload.get("direct_message_events")
    if isinstance(dms, list) and dms:
        ids = [text_of(e.get("id")) for e in dms if isinstance(e, dict)]
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
        "display_text_range"
    )
    try:
        start = int(shown[0])
    except (TypeError, ValueError, IndexError, KeyError):
        return 0
    return start if 0 <= start <= len(text) else 0


def _x_items(payload: dict[str, Any]) -> list[Item]:
    account = text_of(payload.get("for_user_id"))
    items: list[Item] = []
    for tweet in payload.get("tweet_create_events") or []:
        user = tweet.get("user") or {}
        author = text_of(user.get("id_str") or user.get("id"))
        if not author or author == account:
            # Our own tweets and replies echo back through the same webhook; they are not
            # audience messages (outbound replies are recorded when they are requested).
            continue
        parent = text_of(
            tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id")
        )
        to_us = text_of(tweet.get("in_reply_to_user_id_str")) == account
        text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("text") or ""
        items.append(
            Item(
                external_id=text_of(tweet.get("id_str") or tweet.get("id")) or "",
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
        sender = text_of(create.get("sender_id"))
        if not sender or sender == account:
            continue
        user = users.get(sender) or {}
        try:
            sent_at = datetime.fromtimestamp(int(event.get("created_timestamp")) / 1000, UTC)
        except (TypeError, ValueError):
            sent_at = datetime.now(UTC)
        items.append(
            Item(
                external_id=text_of(event.get("id")) or "",
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


def x_crc_response(*, secret: str, crc_token: str) -> str:
    """X's challenge-response check: proves we hold the consumer secret."""
    check_signed_challenge(crc_token)
    return "sha256=" + base64.b64encode(hmac_sha256(secret, crc_token.encode())).decode()


def x_signature_ok(*, secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    expected = "sha256=" + base64.b64encode(hmac_sha256(secret, body)).decode()
    return same(header.strip(), expected)


class X(Inbound):
    network = "x"

    def verify(
        self, settings: InboxSettings, app: NetworkApp, headers: Mapping[str, str], body: bytes
    ) -> Any:
        if not x_signature_ok(
            secret=app.client_secret, body=body, header=headers.get("x-twitter-webhooks-signature")
        ):
            raise Refused("The x-twitter-webhooks-signature is missing or wrong.")
        return parse_json(body)

    def identify(self, payload: dict[str, Any], body: bytes) -> Identity:
        return _x_identify(payload, body)

    def normalise(self, payload: dict[str, Any]) -> list[Item]:
        return _x_items(payload)
