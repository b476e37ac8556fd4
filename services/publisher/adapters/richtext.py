"""Bluesky rich text: the facets that make links, mentions and hashtags clickable.

A facet names a span of the text by UTF-8 byte offsets (`index.byteStart`/`byteEnd`), never
by characters: "café @ana.bsky.social" puts the mention at byte 6, not character 5. The
patterns follow the official client's (`@atproto/api` RichText.detectFacets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import regex

# A URL up to whitespace, without the punctuation that usually ends a sentence after it.
LINK = regex.compile(r"(?:^|(?<=[\s(]))(https?://[^\s]+?)(?=[.,;:!?\"')\]]*(?:\s|$))")
# A handle is a domain name; the "@" must not follow a word character (e-mail addresses).
MENTION = regex.compile(
    r"(?:^|(?<=[\s(]))@((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]"
    r"(?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)"
)
# A tag is not all digits; trailing punctuation is not part of it.
TAG = regex.compile(
    r"(?:^|(?<=\s))[#＃]((?!\ufe0f)[^\s#＃]*[^\d\s\p{P}][^\s#＃]*?)(?=\p{P}*(?:\s|$))"
)
MAX_TAG_GRAPHEMES = 64


@dataclass(frozen=True, slots=True)
class Span:
    kind: Literal["link", "mention", "tag"]
    start: int  # byte offsets into the UTF-8 text
    end: int
    value: str  # the URL, the handle, or the tag without "#"


def _byte_span(text: str, start: int, end: int) -> tuple[int, int]:
    begin = len(text[:start].encode())
    return begin, begin + len(text[start:end].encode())


def detect(text: str) -> list[Span]:
    """Links, mentions and tags in the text, in order, with their byte offsets."""
    spans: list[Span] = []
    for match in LINK.finditer(text):
        spans.append(Span("link", *_byte_span(text, *match.span(1)), match.group(1)))
    for match in MENTION.finditer(text):
        # The facet covers the "@" too, as the official client's does.
        spans.append(
            Span(
                "mention",
                *_byte_span(text, match.start(1) - 1, match.end(1)),
                match.group(1).lower(),
            )
        )
    for match in TAG.finditer(text):
        tag = match.group(1)
        if len(regex.findall(r"\X", tag)) <= MAX_TAG_GRAPHEMES:
            spans.append(Span("tag", *_byte_span(text, match.start(1) - 1, match.end(1)), tag))
    spans.sort(key=lambda s: s.start)
    # A mention or tag inside a link (https://x.com/@a#b) belongs to the link.
    kept: list[Span] = []
    for span in spans:
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def facets(spans: list[Span], *, dids: dict[str, str]) -> list[dict[str, Any]]:
    """The record's `facets`; a mention whose handle did not resolve stays plain text."""
    out: list[dict[str, Any]] = []
    for span in spans:
        if span.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
        elif span.kind == "tag":
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
        elif span.value in dids:
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": dids[span.value]}
        else:
            continue
        out.append({"index": {"byteStart": span.start, "byteEnd": span.end}, "features": [feature]})
    return out
