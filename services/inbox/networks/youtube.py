"""YouTube inbound: WebSub (hub.challenge, X-Hub-Signature) notifications of a channel's
uploads, as Atom. They carry no audience messages: comments are polled."""

from __future__ import annotations

import hmac
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.inbox.networks.base import Inbound, Refused
from services.inbox.normalise import Identity, UnreadableBody, time_of, unknown_identity
from services.inbox.settings import InboxSettings, NetworkApp
from services.inbox.signatures import same
from shared.errors import BadRequest

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
        uploads.append(
            {
                "video_id": entry.findtext(f"{YT}videoId"),
                "channel_id": entry.findtext(f"{YT}channelId"),
                "title": entry.findtext(f"{ATOM}title"),
                "published": entry.findtext(f"{ATOM}published"),
                "updated": entry.findtext(f"{ATOM}updated"),
                "url": link.get("href") if link is not None else None,
            }
        )
    deleted = []
    for gone in root.findall(f"{TOMBSTONE}deleted-entry"):
        uri = gone.findtext(f"{TOMBSTONE}by/{ATOM}uri") or ""
        deleted.append(
            {
                "video_id": (gone.get("ref") or "").removeprefix("yt:video:"),
                "when": gone.get("when"),
                "channel_id": uri.rsplit("/", 1)[-1] or None,
            }
        )
    return {"uploads": uploads, "deleted": deleted}


def _youtube_identify(payload: dict[str, Any], body: bytes) -> Identity:
    uploads = [u for u in payload.get("uploads", []) if u.get("video_id")]
    deleted = [d for d in payload.get("deleted", []) if d.get("video_id")]
    account = next((x.get("channel_id") for x in [*uploads, *deleted] if x.get("channel_id")), None)
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
        (u["video_id"], time_of(u.get("published")))
        for u in payload.get("uploads", [])
        if u.get("video_id")
    ]


def websub_signature_ok(*, secret: str, body: bytes, header: str | None) -> bool:
    """WebSub's X-Hub-Signature: `<sha1|sha256|sha384|sha512>=<hex HMAC(hub.secret, body)>`."""
    if not header:
        return False
    method, sep, given = header.strip().partition("=")
    if not sep or method not in ("sha1", "sha256", "sha384", "sha512"):
        return False
    expected = hmac.new(secret.encode(), body, method).hexdigest()
    return same(given.lower(), expected)


class YouTube(Inbound):
    network = "youtube"

    def verify(
        self, settings: InboxSettings, app: NetworkApp, headers: Mapping[str, str], body: bytes
    ) -> Any:
        # `client_secret` is the hub.secret Herald subscribed with; the hub signs every
        # notification with it. WebSub asks subscribers to answer 2xx to a bad signature and
        # ignore the body; we answer 401 instead, like every other receiver here, so a forged
        # delivery is visible in the hub's and our own logs. Nothing is stored either way.
        if not websub_signature_ok(
            secret=app.client_secret, body=body, header=headers.get("x-hub-signature")
        ):
            raise Refused("The X-Hub-Signature is missing or wrong.")
        try:
            return parse_atom(body)
        except UnreadableBody as exc:
            raise BadRequest(
                f"The notification is not a YouTube Atom feed: {exc}.", field="body"
            ) from exc

    def identify(self, payload: dict[str, Any], body: bytes) -> Identity:
        return _youtube_identify(payload, body)

    def decode(self, body: bytes) -> Any:
        return parse_atom(body)
