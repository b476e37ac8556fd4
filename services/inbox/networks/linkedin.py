"""LinkedIn inbound: the challengeCode validation, X-LI-Signature, organization social
action notifications (comments and mentions)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from typing import Any

from services.inbox.networks.base import Inbound, Refused, parse_json
from services.inbox.normalise import Identity, Item, Kind, text_of, time_of, unknown_identity
from services.inbox.settings import InboxSettings, NetworkApp
from services.inbox.signatures import BadChallenge, same

LINKEDIN_KINDS: dict[str, Kind] = {
    "COMMENT": "comment",
    "SHARE_MENTION": "mention",
    "COMMENT_MENTION": "mention",
}


def _linkedin_notifications(payload: dict[str, Any]) -> list[dict[str, Any]]:
    notes = payload.get("notifications")
    return [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []


def _linkedin_identify(payload: dict[str, Any], body: bytes) -> Identity:
    notes = _linkedin_notifications(payload)
    account = text_of(notes[0].get("organizationalEntity")) if notes else None
    ids = [
        f"{n.get('action')}:{text_of(n.get('generatedActivity'))}"
        for n in notes
        if n.get("action") in LINKEDIN_KINDS and text_of(n.get("generatedActivity"))
    ]
    if not ids:
        return unknown_identity(body, account)
    return Identity(",".join(sorted(ids)), account, True)


def _linkedin_items(payload: dict[str, Any]) -> list[Item]:
    items: list[Item] = []
    for note in _linkedin_notifications(payload):
        kind = LINKEDIN_KINDS.get(str(note.get("action")))
        external_id = text_of(note.get("generatedActivity"))
        if kind is None or external_id is None:
            continue
        decorated = note.get("decoratedGeneratedActivity") or {}
        detail = decorated.get("comment") or decorated.get("share") or {}
        author = text_of(note.get("actor") or detail.get("owner")) or ""
        if author == text_of(note.get("organizationalEntity")):
            continue
        post = text_of(note.get("sourcePost") or detail.get("entity"))
        items.append(
            Item(
                external_id=external_id,
                kind=kind,
                text=detail.get("text") or "",
                author_id=author,
                author_name=detail.get("fullName"),
                sent_at=time_of(note.get("lastModifiedAt")),
                parent_external_id=text_of(detail.get("parentComment")) or post,
                post_external_id=post if kind == "comment" else None,
                raw=note,
            )
        )
    return items


def check_linkedin_challenge(value: str) -> str:
    """LinkedIn's challengeCode is a UUID in its usual text form; raises BadChallenge."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise BadChallenge("must be a UUID") from None
    if str(parsed) != value.lower():
        raise BadChallenge("must be a UUID")
    return value


def linkedin_challenge_response(*, secret: str, challenge_code: str) -> str:
    """LinkedIn's endpoint validation: hex HMAC-SHA256 of the challengeCode."""
    check_linkedin_challenge(challenge_code)
    return hmac.new(secret.encode(), challenge_code.encode(), hashlib.sha256).hexdigest()


LINKEDIN_PREFIX = "hmacsha256="


def linkedin_signature_ok(*, secret: str, body: bytes, header: str | None) -> bool:
    """X-LI-Signature: hex HMAC-SHA256(client secret, raw body).

    LinkedIn's documentation shows the value both with and without the `hmacsha256=` prefix,
    so both forms are accepted; the HMAC itself always covers the body alone.
    """
    if not header:
        return False
    given = header.strip()
    if given[: len(LINKEDIN_PREFIX)].lower() == LINKEDIN_PREFIX:
        given = given[len(LINKEDIN_PREFIX) :]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return same(given.lower(), expected)


class LinkedIn(Inbound):
    network = "linkedin"

    def verify(
        self, settings: InboxSettings, app: NetworkApp, headers: Mapping[str, str], body: bytes
    ) -> Any:
        # With or without the `hmacsha256=` prefix: LinkedIn's docs show both.
        if not linkedin_signature_ok(
            secret=app.client_secret, body=body, header=headers.get("x-li-signature")
        ):
            raise Refused("The X-LI-Signature is missing or wrong.")
        return parse_json(body)

    def identify(self, payload: dict[str, Any], body: bytes) -> Identity:
        return _linkedin_identify(payload, body)

    def normalise(self, payload: dict[str, Any]) -> list[Item]:
        return _linkedin_items(payload)
