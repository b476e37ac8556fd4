"""Polls as the networks hold them: options with vote counts, open until they expire.

Each network checks its own limits before calling `new_poll` (the sizes differ); what is kept
is one shape, shown as `poll` in `GET /_sandbox/{network}/posts` and turned into each
network's own answer by its module.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.networks.common import iso


def new_poll(options: list[str], *, minutes: int, multiple: bool = False) -> dict[str, Any]:
    closes = time.time() + minutes * 60
    return {
        "options": [{"label": label, "votes": 0} for label in options],
        "duration_minutes": minutes,
        "multiple": multiple,
        "expires_at": iso(closes),
        "closes": closes,
    }


def is_open(poll: dict[str, Any]) -> bool:
    return time.time() < float(poll["closes"])


def total(poll: dict[str, Any]) -> int:
    return sum(int(o["votes"]) for o in poll["options"])


def view(poll: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the control API shows (without the internal close time)."""
    if poll is None:
        return None
    return {k: v for k, v in poll.items() if k != "closes"}
