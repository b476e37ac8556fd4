"""How each network measures text, and the entities (URLs, hashtags, mentions) it sees in it.

Counts follow what the networks document (see NETWORKS.md, "Text length rules"), so a post
that passes here is not refused for length by the network. The scheduler and the publisher
both count through this module; nothing else should.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

import regex

from shared.networks.tlds import COUNTRY_CODE_TLDS, GENERIC_TLDS

__all__ = [
    "MASTODON_URL_LENGTH",
    "X_URL_LENGTH",
    "Entity",
    "character_count",
    "extract_hashtags",
    "extract_mentions",
    "extract_scheme_links",
    "extract_urls",
    "grapheme_count",
    "graphemes",
    "is_emoji",
    "mastodon_length",
    "threads_length",
    "utf8_length",
    "utf8_offsets",
    "x_weighted_length",
]

# What a link costs after the network's shortener rewrites it (t.co on X; Mastodon's
# `characters_reserved_per_url` default).
X_URL_LENGTH = 23
MASTODON_URL_LENGTH = 23

# twitter-text v3 (config/v3.json): weight 100 per "unit", scale 100, so 1 or 2 per code point.
_X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_DEFAULT_WEIGHT = 2
_X_EMOJI_WEIGHT = 2


@dataclass(frozen=True, slots=True)
class Entity:
    """A URL, hashtag or mention found in a text.

    `start`/`end` are code point offsets into the text as given (Python string indices);
    `value` is the part without the sigil (`#`, `@`), or the URL itself.
    """

    kind: Literal["url", "hashtag", "mention"]
    text: str
    value: str
    start: int
    end: int


# --- graphemes, bytes, code points ----------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> list[str]:
    """Extended grapheme clusters: what a reader sees as one character."""
    clusters: list[str] = _GRAPHEME.findall(text)
    return clusters


def grapheme_count(text: str) -> int:
    return len(graphemes(text))


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def character_count(text: str) -> int:
    """Code points, for the networks that only say "characters"."""
    return len(text)


def utf8_offsets(text: str, *, start: int, end: int) -> tuple[int, int]:
    """Byte offsets of a code point span, as Bluesky facets want them."""
    byte_start = utf8_length(text[:start])
    return byte_start, byte_start + utf8_length(text[start:end])


# --- emoji ----------------------------------------------------------------------------------

# A cluster is an emoji when it would be drawn as one: an emoji-presentation character, a
# pictograph forced into emoji presentation (FE0F) or carrying a skin tone, ZWJ or tag
# sequence, a regional-indicator flag, or a keycap. A bare text-presentation symbol such as
# "©" is not, which matches how twemoji (used by twitter-text) treats it.
_EMOJI_START = regex.compile(
    r"\p{Emoji_Presentation}"
    r"|\p{Extended_Pictographic}[\uFE0F\U0001F3FB-\U0001F3FF\u200D\U000E0020-\U000E007F]"
    r"|\p{Regional_Indicator}"
    r"|[0-9#*]\uFE0F?\u20E3"
)


def is_emoji(cluster: str) -> bool:
    """Whether one grapheme cluster is an emoji (sequence)."""
    return _EMOJI_START.match(cluster) is not None


# --- URLs -----------------------------------------------------------------------------------

# Longest first, so that "example.community" is not read as "example.com" + "munity".
_TLD_ALTERNATION = "|".join(
    sorted(COUNTRY_CODE_TLDS | GENERIC_TLDS, key=lambda tld: (-len(tld), tld))
)
_TLD = rf"(?:{_TLD_ALTERNATION}|xn--[a-z0-9-]+)(?![a-z0-9@+-])"
_ASCII_LABEL = r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?"
# With a scheme the host may be an internationalised name; without one twitter-text only
# accepts ASCII hosts, so "café.com" typed bare is not a link.
_UNICODE_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}_-]*[\p{L}\p{M}\p{N}])?"
_PORT = r"(?::[0-9]{1,5})?"
# twitter-text's path and query characters: Latin (with accents), Cyrillic, digits and URL
# punctuation. A URL therefore ends at a space, a quote, CJK text or an emoji.
_PATH = r"(?P<path>[/?#][\p{Latin}\p{Cyrillic}0-9!?*';:=+,.$/%#\[\]\-\u2013_~&|@()]*)?"
_URL = regex.compile(
    # Letters, digits, "@", "$" and "#" right before would make it part of a word, an email
    # address, a cashtag or a hashtag.
    r"(?<![A-Za-z0-9@\uFF20$#\uFF03])"
    r"(?:"
    rf"(?P<scheme>https?://)(?:{_UNICODE_LABEL}\.)+{_TLD}"
    r"|"
    rf"(?<![-_./])(?P<host>(?P<first>{_ASCII_LABEL})\.(?:{_ASCII_LABEL}\.)*(?P<tld>{_TLD}))"
    r")"
    rf"{_PORT}{_PATH}",
    regex.IGNORECASE,
)
# A path may end in these; anything else at the end is sentence punctuation.
_PATH_END = regex.compile(r"[\p{L}\p{N}=_#/+\-&]")
# "example.io" or "file.py" typed bare are far more often not links; twitter-text only takes a
# single label under a country code when a path follows, except for these (t.co, *.tv).
_SPECIAL_SHORT_CCTLDS = frozenset({"co", "tv"})


def _trim_path(path: str) -> str:
    while path:
        last = path[-1]
        if last == ")" and path.count("(") >= path.count(")"):
            return path
        if last != ")" and _PATH_END.fullmatch(last):
            return path
        path = path[:-1]
    return path


def extract_urls(text: str, *, bare_domains: bool = True) -> list[Entity]:
    """Links as twitter-text finds them: with an http(s) scheme, or bare with a known TLD.

    `bare_domains=False` is Mastodon's reading, which only links (and so only discounts) URLs
    written with their scheme.
    """
    found: list[Entity] = []
    for match in _URL.finditer(text):
        path = _trim_path(match.group("path") or "")
        end = match.end() - (len(match.group("path") or "") - len(path))
        if match.group("scheme") is None:
            if not bare_domains:
                continue
            host: str = match.group("host")
            tld = match.group("tld").lower()
            single_label = host.lower() == f"{match.group('first').lower()}.{tld}"
            if (
                not path
                and single_label
                and tld in COUNTRY_CODE_TLDS
                and tld not in _SPECIAL_SHORT_CCTLDS
            ):
                continue
        url = text[match.start() : end]
        found.append(Entity(kind="url", text=url, value=url, start=match.start(), end=end))
    return found


# Bluesky's client (`RichText.detectFacets`) links any http(s) URL up to whitespace, host
# names without a known TLD and IP addresses included, leaving out the sentence punctuation
# right after it; the publisher's facets and link cards follow the same rule.
_SCHEME_LINK = regex.compile(r"(?:^|(?<=[\s(]))(https?://[^\s]+?)(?=[.,;:!?\"')\]]*(?:\s|$))")


def extract_scheme_links(text: str) -> list[Entity]:
    """Links written with their scheme, as Bluesky finds them."""
    return [
        Entity(kind="url", text=m.group(1), value=m.group(1), start=m.start(1), end=m.end(1))
        for m in _SCHEME_LINK.finditer(text)
    ]


# --- hashtags and mentions ------------------------------------------------------------------

# twitter-text's hashtag alphabet: letters and marks of any script (so Hebrew with niqqud and
# Icelandic both work), digits, and joiners and punctuation that belong inside words in some
# scripts (ZWNJ/ZWJ, Hebrew maqaf and geresh/gershayim, Japanese middle dot, Tibetan tsheg…).
_HASHTAG_SPECIALS = (
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c"
    "\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)
_HASHTAG_CHARS = rf"\p{{L}}\p{{M}}\p{{Nd}}{_HASHTAG_SPECIALS}"
_HASHTAG = regex.compile(
    rf"(?<![&{_HASHTAG_CHARS}])[#\uFF03](?![\uFE0F\u20E3])"
    # Atomic, so a tag followed by "#" or "://" is dropped rather than shortened to fit.
    rf"(?>(?P<tag>[{_HASHTAG_CHARS}]*[\p{{L}}\p{{M}}][{_HASHTAG_CHARS}]*))"
    r"(?![#\uFF03]|://)"
)

# A handle: X/Instagram/Mastodon usernames, or a Bluesky domain handle (dots inside), with an
# optional "@domain" for a remote Mastodon account.
_MENTION = regex.compile(
    r"(?<![\p{L}\p{N}_!#$%&*@\uFF20/=.+~-])[@\uFF20]"
    r"(?P<user>[A-Za-z0-9_]+(?:[.-]+[A-Za-z0-9_]+)*)"
    r"(?:@(?P<domain>[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]+)+))?"
)


def extract_hashtags(text: str) -> list[Entity]:
    return [
        Entity(kind="hashtag", text=m.group(0), value=m.group("tag"), start=m.start(), end=m.end())
        for m in _HASHTAG.finditer(text)
    ]


def extract_mentions(text: str) -> list[Entity]:
    """Mentions; `value` is `user` or `user@domain` for a remote (fediverse) account."""
    found: list[Entity] = []
    for m in _MENTION.finditer(text):
        value = m.group("user")
        if m.group("domain"):
            value = f"{value}@{m.group('domain')}"
        found.append(
            Entity(kind="mention", text=m.group(0), value=value, start=m.start(), end=m.end())
        )
    return found


# --- per-network counters -------------------------------------------------------------------


def _x_weight(code_point: int) -> int:
    for low, high in _X_LIGHT_RANGES:
        if low <= code_point <= high:
            return 1
    return _X_DEFAULT_WEIGHT


def _x_plain_length(text: str) -> int:
    total = 0
    for cluster in graphemes(text):
        if is_emoji(cluster):
            total += _X_EMOJI_WEIGHT
        else:
            total += sum(_x_weight(ord(char)) for char in cluster)
    return total


def x_weighted_length(text: str) -> int:
    """X's weighted length (twitter-text v3), the number compared with 280."""
    normalized = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for url in extract_urls(normalized):
        total += _x_plain_length(normalized[position : url.start]) + X_URL_LENGTH
        position = url.end
    return total + _x_plain_length(normalized[position:])


def _mastodon_countable(text: str, *, url_length: int) -> str:
    # Mastodon rewrites linked URLs to a fixed placeholder and remote mentions to their local
    # part before counting graphemes (StatusLengthValidator#countable_text).
    entities = sorted(
        extract_urls(text, bare_domains=False) + extract_mentions(text),
        key=lambda entity: entity.start,
    )
    parts: list[str] = []
    position = 0
    for entity in entities:
        if entity.start < position:
            continue
        parts.append(text[position : entity.start])
        if entity.kind == "url":
            parts.append("x" * url_length)
        else:
            parts.append("@" + entity.value.split("@", 1)[0])
        position = entity.end
    parts.append(text[position:])
    return "".join(parts)


def mastodon_length(
    text: str, *, spoiler_text: str = "", url_length: int = MASTODON_URL_LENGTH
) -> int:
    """Mastodon's count: graphemes, URLs at `url_length`, `@user@domain` as `@user`, plus
    the content warning (spoiler text), which shares the same budget."""
    return grapheme_count(_mastodon_countable(spoiler_text, url_length=url_length)) + (
        grapheme_count(_mastodon_countable(text, url_length=url_length))
    )


def threads_length(text: str) -> int:
    """Threads' count: an emoji costs its UTF-8 byte length, anything else one per code point."""
    total = 0
    for cluster in graphemes(text):
        total += utf8_length(cluster) if is_emoji(cluster) else len(cluster)
    return total
