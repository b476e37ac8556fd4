"""Small pieces several fake networks share."""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from datetime import UTC, datetime

from sandbox.media import kind_from_url, sniff
from sandbox.state import Media

URL_RE = re.compile(r"https?://[^\s]+", re.IGNORECASE)


def iso(ts: float, *, ms: bool = False) -> str:
    spec = "milliseconds" if ms else "seconds"
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def iso_offset(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def expires_at(ttl: float) -> int:
    return int(time.time() + ttl)


def slug(name: str, fallback: str) -> str:
    s = "".join(c for c in unicodedata.normalize("NFKD", name.lower()) if c.isalnum() or c == "_")
    return s[:15] or fallback


def x_weighted_length(text: str) -> int:
    """twitter-text v3: light ranges weigh 1, everything else 2, each URL 23."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    pos = 0
    for m in URL_RE.finditer(text):
        total += _weigh(text[pos : m.start()]) + 23
        pos = m.end()
    return total + _weigh(text[pos:])


def _weigh(chunk: str) -> int:
    n = 0
    for ch in chunk:
        cp = ord(ch)
        light = (
            cp <= 4351 or 8192 <= cp <= 8205 or 8208 <= cp <= 8223 or 8242 <= cp <= 8247
        )
        n += 1 if light else 2
    return n


def media_from_bytes(
    media_id: str, network: str, account_id: str, data: bytes, declared: str | None = None
) -> Media | None:
    found = sniff(data)
    if found is None:
        return None
    kind, mime = found
    return Media(
        id=media_id,
        network=network,
        account_id=account_id,
        kind=kind,
        mime=mime,
        size=len(data),
        digest=hashlib.sha256(data).hexdigest(),
        status="pending" if kind == "video" else "succeeded",
    )


def media_from_url(
    media_id: str, network: str, account_id: str, url: str, kind: str
) -> Media:
    return Media(
        id=media_id,
        network=network,
        account_id=account_id,
        kind=kind,
        mime=kind_from_url(url) or "",
        size=0,
        digest="url:" + url,
        url=url,
        status="pending",
    )


def media_ref(media: Media) -> dict[str, object]:
    ref: dict[str, object] = {"id": media.id, "kind": media.kind, "mime": media.mime,
                              "digest": media.digest}
    if media.url:
        ref["url"] = media.url
    if media.alt:
        ref["alt"] = media.alt
    return ref
