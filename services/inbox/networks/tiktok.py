"""TikTok inbound: TikTok-Signature (timestamped), app and account events."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import orjson

from services.inbox.networks.base import Inbound, Refused, parse_json
from services.inbox.normalise import Identity, Item, text_of, time_of, unknown_identity
from services.inbox.settings import InboxSettings, NetworkApp
from services.inbox.signatures import same


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
    account = text_of(payload.get("user_openid"))
    event_name = text_of(payload.get("event"))
    content = _tiktok_content(payload)
    comment = text_of(content.get("comment_id"))
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
    external_id = text_of(content.get("comment_id"))
    author = text_of(user.get("open_id"))
    if not external_id or not author or author == text_of(payload.get("user_openid")):
        return []
    video = text_of(content.get("video_id"))
    return [
        Item(
            external_id=external_id,
            kind="comment",
            text=content.get("text") or "",
            author_id=author,
            author_name=user.get("display_name"),
            sent_at=time_of(content.get("create_time") or payload.get("create_time")),
            parent_external_id=text_of(content.get("parent_comment_id")) or video,
            post_external_id=video,
            raw=content,
        )
    ]


class StaleSignature(Exception):
    """The signature's timestamp is outside the allowed tolerance (a replay, or a bad clock)."""


def tiktok_signature_ok(
    *, secret: str, body: bytes, header: str | None, now: float, tolerance: float
) -> bool:
    """TikTok-Signature: `t=<unix seconds>,s=<hex HMAC-SHA256(secret, "{t}." + raw body)>`.

    Raises StaleSignature when the signature is right but its timestamp is too far from `now`.
    """
    if not header:
        return False
    parts: dict[str, str] = {}
    for piece in header.split(","):
        key, sep, value = piece.strip().partition("=")
        if sep:
            parts.setdefault(key.strip(), value.strip())
    stamp, given = parts.get("t", ""), parts.get("s", "")
    if not stamp.isdigit() or not given:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not same(given.lower(), expected):
        return False
    if abs(now - int(stamp)) > tolerance:
        raise StaleSignature(stamp)
    return True


class TikTok(Inbound):
    network = "tiktok"

    def verify(
        self, settings: InboxSettings, app: NetworkApp, headers: Mapping[str, str], body: bytes
    ) -> Any:
        try:
            ok = tiktok_signature_ok(
                secret=app.client_secret,
                body=body,
                header=headers.get("tiktok-signature"),
                now=time.time(),
                tolerance=settings.tiktok_signature_tolerance_seconds,
            )
        except StaleSignature:
            raise Refused("The TikTok-Signature timestamp is too old.") from None
        if not ok:
            raise Refused("The TikTok-Signature is missing or wrong.")
        return parse_json(body)

    def identify(self, payload: dict[str, Any], body: bytes) -> Identity:
        return _tiktok_identify(payload, body)

    def normalise(self, payload: dict[str, Any]) -> list[Item]:
        return _tiktok_items(payload)
