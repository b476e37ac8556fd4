"""The inbox's own words for what the networks send: items, kinds, authors, identities.

Each network's reading of its payloads is in its pack (services/inbox/networks/); what is
here is what they all share.
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
    # When the author's account was created, on networks whose payload says so (X).
    author_created_at: datetime | None = None
    # Where the author's own words begin in `text` (after the handles X puts before a reply).
    text_start: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


def unknown_identity(body: bytes, account_id: str | None = None) -> Identity:
    # A shape we do not understand still has a stable identity: its bytes. A redelivery of
    # the same unknown event is then stored once too.
    return Identity("sha256:" + hashlib.sha256(body).hexdigest(), account_id, False)


class UnreadableBody(ValueError):
    """The body is not in the format the network sends (JSON, or Atom XML for YouTube)."""


def text_of(value: Any) -> str | None:
    """An id the networks give as a number or a string; None when absent or empty."""
    if value is None or value == "":
        return None
    return str(value)


def time_of(value: Any) -> datetime:
    """A time the networks give as epoch seconds or milliseconds, or ISO 8601."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return datetime.now(UTC)
    # Meta mixes seconds (changes) and milliseconds (messaging).
    return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
