"""The route table: which service owns which public path, and how callers prove who they are.

One place to read when a path answers 404 at the gateway. The most specific route that matches
wins, whatever the order of the table: the one with more literal path segments (so the
scheduler's `/v1/channels/{id}/queue` beats the publisher's `/v1/channels/...`), then an exact
pattern before one that takes any rest of the path. The merged OpenAPI refuses to build when a
service documents a path this table sends elsewhere (`openapi.UnroutablePaths`).
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

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Larger is narrower: literal segments, exactness, then literal characters."""
        literal = self.pattern
        for wildcard, mark in ((_REST, "/\x00"), (_SEG, "\x00"), (".+", "\x00")):
            literal = literal.replace(wildcard, mark)
        literal = literal.replace("\\", "")
        segments = [s for s in literal.split("/") if s and "\x00" not in s]
        exact = 0 if _REST in self.pattern or self.pattern.endswith(".+") else 1
        return len(segments), exact, len(literal.replace("\x00", ""))


_SEG = r"[^/]+"
_REST = r"(?:/.*)?"

ROUTES: tuple[Route, ...] = (
    # A campaign's report is built by metrics from the numbers it holds; campaigns themselves
    # are the scheduler's.
    Route(rf"/v1/campaigns/{_SEG}/report", "metrics"),
    # scheduler
    Route(rf"/v1/campaigns{_REST}", "scheduler"),
    Route(rf"/v1/channels/{_SEG}/slots{_REST}", "scheduler"),
    Route(rf"/v1/channels/{_SEG}/queue{_REST}", "scheduler"),
    Route(rf"/v1/channels/{_SEG}/pacing{_REST}", "scheduler"),
    # A calendar app subscribes to the secret feed URL and has no API key to send.
    Route(r"/v1/calendar\.ics", "scheduler", auth="none"),
    Route(rf"/v1/calendar{_REST}", "scheduler"),
    # An external reviewer has no API key: the token in the URL is the credential (the
    # scheduler checks it and rate limits each link).
    Route(r"/v1/review/.+", "scheduler", auth="none"),
    Route(rf"/v1/posts{_REST}", "scheduler"),
    Route(rf"/v1/scheduler{_REST}", "scheduler"),
    Route(rf"/v1/media{_REST}", "scheduler"),
    # Media library files behind signed, expiring URLs, fetched by the networks that pull
    # media from a URL: the signature is the permission.
    Route(r"/media/.+", "scheduler", auth="none"),
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


# Narrowest first; a stable sort keeps the table's order between equals.
_BY_SPECIFICITY: tuple[Route, ...] = tuple(
    sorted(ROUTES, key=lambda route: route.specificity, reverse=True)
)


def resolve(path: str) -> Route | None:
    for route in _BY_SPECIFICITY:
        if route.matches(path):
            return route
    return None
