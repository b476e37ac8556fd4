"""The route table: which service owns which public path, and how callers prove who they are.

One place to read when a path answers 404 at the gateway. Order matters: the first match wins,
so narrower patterns come before the prefixes that contain them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Auth = Literal["key", "optional", "none"]


@dataclass(frozen=True, slots=True)
class Route:
    pattern: str
    service: str
    # "key": an API key is required and its identity is forwarded. "none": public, forwarded
    # without identity (the service proves the caller itself: a network signature, a feed
    # token). "optional": identity forwarded when a valid key comes with it.
    auth: Auth = "key"
    # Forwarded byte for byte (network webhooks: their signatures cover the exact body).
    raw: bool = False
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


_SEG = r"[^/]+"
_REST = r"(?:/.*)?"

ROUTES: tuple[Route, ...] = (
    # scheduler
    Route(rf"/v1/channels/{_SEG}/slots{_REST}", "scheduler"),
    # A calendar app subscribes to the secret feed URL and has no API key to send.
    Route(r"/v1/calendar\.ics", "scheduler", auth="none"),
    Route(rf"/v1/calendar{_REST}", "scheduler"),
    Route(rf"/v1/posts{_REST}", "scheduler"),
    Route(rf"/v1/scheduler{_REST}", "scheduler"),
    # Crisis response: the scheduler owns dispatch, so it owns the freeze.
    Route(rf"/v1/queue{_REST}", "scheduler"),
    # publisher
    # The network sends the user's browser back here after consent; the OAuth `state` names
    # the workspace. A frontend that completes the flow itself may still send its key.
    Route(rf"/v1/channels/callback/{_SEG}", "publisher", auth="optional"),
    Route(rf"/v1/channels{_REST}", "publisher"),
    Route(rf"/v1/networks{_REST}", "publisher"),
    # inbox
    Route(rf"/v1/conversations{_REST}", "inbox"),
    Route(rf"/v1/alerts{_REST}", "inbox"),
    Route(rf"/v1/saved-replies{_REST}", "inbox"),
    Route(rf"/v1/inbox{_REST}", "inbox"),
    Route(rf"/v1/contests{_REST}", "inbox"),
    Route(r"/hooks/.+", "inbox", auth="none", raw=True),
    # metrics
    Route(rf"/v1/analytics{_REST}", "metrics"),
    Route(rf"/v1/links{_REST}", "metrics"),
    Route(rf"/v1/conversions{_REST}", "metrics"),
    Route(rf"/v1/reports{_REST}", "metrics"),
    Route(r"/l/.+", "metrics", auth="none"),
    # Report downloads: the signed, expiring link is the permission.
    Route(r"/reports/.+", "metrics", auth="none"),
)


def resolve(path: str) -> Route | None:
    for route in ROUTES:
        if route.matches(path):
            return route
    return None
