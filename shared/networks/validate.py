"""Check one post variant against its network's rules.

The result is data, not an exception: every problem carries a stable `code`, the `field` it
is about (`text`, `media[2]`, `options.thread[1]` …) and a severity, so the API can hand the
list back as problem+json and a client can point at the right input. Warnings never make a
variant invalid.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from shared.networks.counting import (
    character_count,
    extract_hashtags,
    extract_mentions,
    grapheme_count,
    mastodon_length,
    threads_length,
    utf8_length,
    x_weighted_length,
)
from shared.networks.formats import check_format
from shared.networks.measured import Rendition, rendition_for, shape_problems
from shared.networks.rules import (
    Counting,
    MediaKind,
    MediaRules,
    Network,
    NetworkRules,
    PollRules,
    TextRules,
    rules_for,
)

__all__ = [
    "PROBLEM_CODES",
    "MediaRef",
    "Problem",
    "ProblemCode",
    "Severity",
    "VariantCheck",
    "measure_text",
    "validate_variant",
]

Severity = Literal["error", "warning"]

ProblemCode = Literal[
    "text_required",
    "text_too_long",
    "text_too_many_bytes",
    "forbidden_character",
    "too_many_hashtags",
    "too_many_mentions",
    "title_required",
    "title_too_long",
    "media_required",
    "media_not_allowed",
    "media_kind_not_supported",
    "too_many_media",
    "media_format_not_supported",
    "media_too_large",
    "video_too_short",
    "video_too_long",
    "media_url_not_public",
    "media_shape_not_supported",
    "media_rendition",
    "alt_text_missing",
    "option_required",
    "option_invalid",
    "option_not_supported",
]
PROBLEM_CODES: tuple[ProblemCode, ...] = get_args(ProblemCode)

_MEDIA_KINDS: tuple[MediaKind, ...] = ("image", "video", "gif")

# Used when a media reference carries no MIME type, so a JPEG-only network can still catch
# an obvious ".png".
_MIME_BY_EXTENSION = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaRef:
    kind: MediaKind
    url: str
    alt: str | None = None
    size_bytes: int | None = None
    mime: str | None = None
    duration_s: float | None = None
    # Measured from the bytes by the media library; `library` items can get a derived copy
    # (rendition) per network when a fix is mechanical.
    library: bool = False
    width: int | None = None
    height: int | None = None
    rotated: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MediaRef:
        """From a request body's media item; raises ValueError when it is not one."""
        kind = data.get("kind")
        url = data.get("url")
        if kind not in _MEDIA_KINDS:
            raise ValueError(f"media kind must be one of {', '.join(_MEDIA_KINDS)}")
        if not isinstance(url, str) or not url:
            raise ValueError("media url is required")
        size = data.get("size_bytes")
        duration = data.get("duration_s")
        alt = data.get("alt")
        mime = data.get("mime")
        width, height = data.get("width"), data.get("height")
        return cls(
            kind=kind,
            url=url,
            alt=alt if isinstance(alt, str) else None,
            size_bytes=size if isinstance(size, int) else None,
            mime=mime if isinstance(mime, str) else None,
            duration_s=float(duration) if isinstance(duration, int | float) else None,
            library=isinstance(data.get("media_id"), str),
            width=width if isinstance(width, int) else None,
            height=height if isinstance(height, int) else None,
            rotated=data.get("rotated") is True,
        )

    def effective_mime(self) -> str | None:
        if self.mime:
            return self.mime.lower()
        path = urlsplit(self.url).path
        extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
        return _MIME_BY_EXTENSION.get(extension)


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    code: ProblemCode
    message: str
    field: str
    severity: Severity = "error"

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "severity": self.severity,
        }


@dataclass(slots=True, kw_only=True)
class VariantCheck:
    network: Network
    # The main text as the network counts it, and the ceiling it is compared with.
    length: int
    limit: int
    counting: Counting
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "length": self.length,
            "limit": self.limit,
            "counting": self.counting,
            "valid": self.valid,
            "problems": [problem.to_dict() for problem in self.problems],
        }


def measure_text(
    counting: Counting, *, text: str, spoiler_text: str = "", url_length: int | None = None
) -> int:
    """A text's length as one counting method measures it."""
    if counting == "x_weighted":
        return x_weighted_length(text)
    if counting == "mastodon":
        if url_length is None:
            return mastodon_length(text, spoiler_text=spoiler_text)
        return mastodon_length(text, spoiler_text=spoiler_text, url_length=url_length)
    if counting == "threads":
        return threads_length(text)
    if counting == "graphemes":
        return grapheme_count(text)
    if counting == "utf8_bytes":
        return utf8_length(text)
    return character_count(text)


_UNITS: dict[Counting, str] = {
    "x_weighted": "weighted characters",
    "graphemes": "characters",
    "mastodon": "characters",
    "threads": "characters",
    "characters": "characters",
    "utf8_bytes": "bytes",
}


def validate_variant(
    network: str,
    *,
    text: str,
    media: Sequence[MediaRef] = (),
    options: Mapping[str, Any] | None = None,
    mastodon_max_characters: int | None = None,
) -> VariantCheck:
    """Every problem with one variant (text, media, options) on one network.

    Raises `UnknownNetwork` for a name that is not a network; everything else is reported.
    """
    rules = rules_for(network, mastodon_max_characters=mastodon_max_characters)
    options = options or {}
    problems: list[Problem] = []

    spoiler_text = ""
    if rules.features.spoiler_text and "spoiler_text" in options:
        raw_spoiler = options["spoiler_text"]
        if isinstance(raw_spoiler, str):
            spoiler_text = raw_spoiler
        elif raw_spoiler is not None:
            problems.append(_not_a_string("options.spoiler_text"))

    length = measure_text(
        rules.text.counting,
        text=text,
        spoiler_text=spoiler_text,
        url_length=rules.text.url_length,
    )
    if not text.strip() and not media and rules.text.required_without_media:
        problems.append(
            Problem(
                code="text_required",
                message=f"A {rules.name} post needs text or media.",
                field="text",
            )
        )
    problems += _check_text(
        rules.text, text=text, length=length, where="text", spoiler_included=bool(spoiler_text)
    )

    photo_post = options.get("post_type") == "photo"
    problems += _check_media(
        rules,
        rules.media_for(photo_post=photo_post),
        media=media,
        where="media",
        required=True,
    )
    problems += _check_title(rules, options=options)
    problems += _check_options(rules, options=options)
    problems += _check_first_comment(rules, options=options)
    problems += _check_thread(rules, options=options, photo_post=photo_post)
    problems += _check_poll(rules, options=options, has_media=bool(media))
    problems += [
        Problem(code=r.code, message=r.message, field=r.field)
        for r in check_format(rules, text=text, media=media, options=options)
    ]

    return VariantCheck(
        network=rules.network,
        length=length,
        limit=rules.text.limit,
        counting=rules.text.counting,
        problems=problems,
    )


# --- text -----------------------------------------------------------------------------------


def _check_text(
    rules: TextRules, *, text: str, length: int, where: str, spoiler_included: bool = False
) -> list[Problem]:
    problems: list[Problem] = []
    unit = _UNITS[rules.counting]
    if length > rules.limit:
        including = " including the content warning" if spoiler_included else ""
        problems.append(
            Problem(
                code="text_too_long",
                message=f"Text is {length:,} {unit}{including}; the limit is {rules.limit:,}.",
                field=where,
            )
        )
    if rules.byte_limit is not None:
        size = utf8_length(text)
        if size > rules.byte_limit:
            problems.append(
                Problem(
                    code="text_too_many_bytes",
                    message=(
                        f"Text is {size:,} bytes in UTF-8; the limit is {rules.byte_limit:,}."
                    ),
                    field=where,
                )
            )
    problems += _check_forbidden(text, forbidden=rules.forbidden_characters, where=where)
    counted: tuple[tuple[int | None, Callable[[str], Sized], ProblemCode, str], ...] = (
        (rules.max_hashtags, extract_hashtags, "too_many_hashtags", "hashtags"),
        (rules.max_mentions, extract_mentions, "too_many_mentions", "@-mentions"),
    )
    for most, extract, code, what in counted:
        if most is None:
            continue
        count = len(extract(text))
        if count > most:
            problems.append(
                Problem(
                    code=code, message=f"{count} {what}; at most {most} are allowed.", field=where
                )
            )
    return problems


def _check_forbidden(text: str, *, forbidden: tuple[str, ...], where: str) -> list[Problem]:
    found = [char for char in forbidden if char in text]
    if not found:
        return []
    listed = " ".join(f"'{char}'" for char in found)
    return [
        Problem(
            code="forbidden_character",
            message=f"May not contain {listed}.",
            field=where,
        )
    ]


def _check_title(rules: NetworkRules, *, options: Mapping[str, Any]) -> list[Problem]:
    title_rules = rules.title
    if title_rules is None:
        return []
    where = f"options.{title_rules.option}"
    title = options.get(title_rules.option)
    if title is None or (isinstance(title, str) and not title.strip()):
        if not title_rules.required:
            return []
        return [
            Problem(
                code="title_required",
                message=f"A {rules.name} post needs a title.",
                field=where,
            )
        ]
    if not isinstance(title, str):
        return [_not_a_string(where)]
    problems: list[Problem] = []
    length = measure_text(title_rules.counting, text=title)
    if length > title_rules.limit:
        problems.append(
            Problem(
                code="title_too_long",
                message=(
                    f"Title is {length:,} {_UNITS[title_rules.counting]}; "
                    f"the limit is {title_rules.limit:,}."
                ),
                field=where,
            )
        )
    problems += _check_forbidden(title, forbidden=title_rules.forbidden_characters, where=where)
    return problems


# --- media ----------------------------------------------------------------------------------

_KIND_NAMES: dict[MediaKind, tuple[str, str]] = {
    "image": ("image", "images"),
    "video": ("video", "videos"),
    "gif": ("GIF", "GIFs"),
}


def _check_media(
    rules: NetworkRules,
    media_rules: MediaRules,
    *,
    media: Sequence[MediaRef],
    where: str,
    required: bool,
) -> list[Problem]:
    problems: list[Problem] = []
    if not media:
        if required and media_rules.required:
            wanted = " or ".join(_KIND_NAMES[kind][0] for kind in media_rules.kinds)
            problems.append(
                Problem(
                    code="media_required",
                    message=f"A {rules.name} post needs media ({wanted}).",
                    field=where,
                )
            )
        return problems

    for index, item in enumerate(media):
        problems += _check_media_item(rules, media_rules, item=item, where=f"{where}[{index}]")

    if len(media) > media_rules.max_items:
        problems.append(
            Problem(
                code="too_many_media",
                message=(
                    f"{len(media)} media items; {rules.name} takes at most {media_rules.max_items}."
                ),
                field=where,
            )
        )
    caps: dict[MediaKind, int] = {
        "image": media_rules.max_images,
        "video": media_rules.max_videos,
        "gif": media_rules.max_gifs,
    }
    present: list[MediaKind] = []
    for kind in _MEDIA_KINDS:
        count = sum(1 for item in media if item.kind == kind)
        if count == 0 or kind not in media_rules.kinds:
            continue
        present.append(kind)
        cap = caps[kind]
        # Stay quiet when the total already failed against the same ceiling.
        if count > cap and not (
            len(media) > media_rules.max_items and cap >= media_rules.max_items
        ):
            singular, plural = _KIND_NAMES[kind]
            problems.append(
                Problem(
                    code="too_many_media",
                    message=(
                        f"{count} {plural}; {rules.name} takes at most {cap} "
                        f"{singular if cap == 1 else plural} per post."
                    ),
                    field=where,
                )
            )
    if len(present) > 1 and not media_rules.mixed_kinds:
        listed = " and ".join(_KIND_NAMES[kind][1] for kind in present)
        problems.append(
            Problem(
                code="media_not_allowed",
                message=f"{rules.name} cannot mix {listed} in one post.",
                field=where,
            )
        )
    return problems


def _check_media_item(
    rules: NetworkRules, media_rules: MediaRules, *, item: MediaRef, where: str
) -> list[Problem]:
    if item.kind not in media_rules.kinds:
        return [_kind_refused(rules, media_rules, item=item, where=where)]
    rendition = rendition_for(media_rules, item)
    problems: list[Problem] = []
    if rendition.needed:
        problems.append(
            Problem(
                code="media_rendition",
                message=rendition.describe(rules.name, item.effective_mime()),
                field=where,
                severity="warning",
            )
        )
    problems += _file_problems(rules, media_rules, item=item, rendition=rendition, where=where)
    problems += _shape_and_length_problems(rules, media_rules, item=item, where=where)
    singular = _KIND_NAMES[item.kind][0]
    if media_rules.alt_text_expected and item.kind != "video" and not (item.alt or "").strip():
        problems.append(
            Problem(
                code="alt_text_missing",
                message=f"Add a description (alt text) to this {singular}.",
                field=where,
                severity="warning",
            )
        )
    # A library item is served by Herald on its public URL, signed for the network.
    if media_rules.public_url_required and not item.library and not _looks_public(item.url):
        problems.append(
            Problem(
                code="media_url_not_public",
                message=f"{rules.name} fetches media itself; this URL does not look public.",
                field=where,
                # A warning: the sandbox serves media from localhost in development.
                severity="warning",
            )
        )
    return problems


def _kind_refused(
    rules: NetworkRules, media_rules: MediaRules, *, item: MediaRef, where: str
) -> Problem:
    # A kind the network has elsewhere (TikTok video vs photo posts) is a mode mismatch,
    # not a missing capability.
    other_mode = rules.media if media_rules is not rules.media else rules.photo_media
    code: ProblemCode = (
        "media_not_allowed"
        if other_mode is not None and item.kind in other_mode.kinds
        else "media_kind_not_supported"
    )
    accepted = ", ".join(_KIND_NAMES[kind][1] for kind in media_rules.kinds)
    plural = _KIND_NAMES[item.kind][1]
    return Problem(
        code=code,
        message=f"{rules.name} does not take {plural} here; it takes {accepted}.",
        field=where,
    )


def _file_problems(
    rules: NetworkRules,
    media_rules: MediaRules,
    *,
    item: MediaRef,
    rendition: Rendition,
    where: str,
) -> list[Problem]:
    """The file's type and size, unless the rendition Herald makes for the network fixes them."""
    singular = _KIND_NAMES[item.kind][0]
    problems: list[Problem] = []
    allowed_types = {
        "image": media_rules.image_mime_types,
        "video": media_rules.video_mime_types,
        "gif": None,
    }[item.kind]
    mime = item.effective_mime()
    if (
        allowed_types is not None
        and mime is not None
        and mime not in allowed_types
        and not rendition.to_jpeg
    ):
        problems.append(
            Problem(
                code="media_format_not_supported",
                message=(
                    f"{rules.name} takes {singular} files of type {', '.join(allowed_types)}, "
                    f"not {mime}."
                ),
                field=where,
            )
        )
    max_bytes = {
        "image": media_rules.max_image_bytes,
        "video": media_rules.max_video_bytes,
        "gif": media_rules.max_gif_bytes,
    }[item.kind]
    if (
        max_bytes is not None
        and item.size_bytes is not None
        and item.size_bytes > max_bytes
        and rendition.max_bytes is None
    ):
        problems.append(
            Problem(
                code="media_too_large",
                message=(
                    f"The {singular} is {item.size_bytes:,} bytes; {rules.name} takes at most "
                    f"{max_bytes:,}."
                ),
                field=where,
            )
        )
    return problems


def _shape_and_length_problems(
    rules: NetworkRules, media_rules: MediaRules, *, item: MediaRef, where: str
) -> list[Problem]:
    shape = shape_problems(rules.network, item)
    problems = [
        Problem(code="media_shape_not_supported", message=message, field=where)
        for _code, message in shape
    ]
    # A broken shape rule already names the duration it wants.
    if item.kind != "video" or item.duration_s is None or shape:
        return problems
    low, high = media_rules.min_video_seconds, media_rules.max_video_seconds
    if low is not None and item.duration_s < low:
        problems.append(
            Problem(
                code="video_too_short",
                message=f"The video lasts {item.duration_s:g} s; the minimum is {low:g} s.",
                field=where,
            )
        )
    if high is not None and item.duration_s > high:
        problems.append(
            Problem(
                code="video_too_long",
                message=f"The video lasts {item.duration_s:g} s; the maximum is {high:g} s.",
                field=where,
            )
        )
    return problems


def _looks_public(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return address.is_global


# --- options --------------------------------------------------------------------------------


def _not_a_string(where: str) -> Problem:
    return Problem(code="option_invalid", message="Must be a string.", field=where)


def _check_options(rules: NetworkRules, *, options: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for rule in rules.options:
        where = f"options.{rule.name}"
        value = options.get(rule.name)
        if value is None:
            if rule.required:
                choices = f" (one of {', '.join(rule.values)})" if rule.values else ""
                problems.append(
                    Problem(
                        code="option_required",
                        message=f"{rules.name} needs `{rule.name}`{choices}.",
                        field=where,
                    )
                )
            continue
        if rule.values is not None and value not in rule.values:
            problems.append(
                Problem(
                    code="option_invalid",
                    message=f"`{rule.name}` must be one of {', '.join(rule.values)}.",
                    field=where,
                )
            )
    if "spoiler_text" in options and not rules.features.spoiler_text:
        problems.append(_unsupported(rules, option="spoiler_text", what="content warnings"))
    return problems


def _unsupported(rules: NetworkRules, *, option: str, what: str) -> Problem:
    return Problem(
        code="option_not_supported",
        message=f"{rules.name} does not support {what}.",
        field=f"options.{option}",
    )


def _check_first_comment(rules: NetworkRules, *, options: Mapping[str, Any]) -> list[Problem]:
    comment = options.get("first_comment")
    if comment is None:
        return []
    where = "options.first_comment"
    if not rules.features.first_comment:
        return [_unsupported(rules, option="first_comment", what="a first comment")]
    if not isinstance(comment, str):
        return [_not_a_string(where)]
    if not comment.strip():
        return [Problem(code="option_invalid", message="The first comment is empty.", field=where)]
    length = measure_text(rules.text.counting, text=comment, url_length=rules.text.url_length)
    return _check_text(rules.text, text=comment, length=length, where=where)


def _check_thread(
    rules: NetworkRules, *, options: Mapping[str, Any], photo_post: bool
) -> list[Problem]:
    parts = options.get("thread")
    if parts is None:
        return []
    if not rules.features.thread:
        return [_unsupported(rules, option="thread", what="threads")]
    if not isinstance(parts, list):
        return [
            Problem(
                code="option_invalid",
                message="A thread is a list of parts (text, or {text, media}).",
                field="options.thread",
            )
        ]
    problems: list[Problem] = []
    for index, part in enumerate(parts):
        where = f"options.thread[{index}]"
        part_text, part_media, part_problems = _read_thread_part(part, where=where)
        problems += part_problems
        if part_text is None:
            continue
        if not part_text.strip() and not part_media:
            problems.append(
                Problem(code="text_required", message="This part is empty.", field=where)
            )
        length = measure_text(rules.text.counting, text=part_text, url_length=rules.text.url_length)
        problems += _check_text(rules.text, text=part_text, length=length, where=where)
        problems += _check_media(
            rules,
            rules.media_for(photo_post=photo_post),
            media=part_media,
            where=f"{where}.media",
            required=False,
        )
    return problems


def _read_thread_part(
    part: object, *, where: str
) -> tuple[str | None, list[MediaRef], list[Problem]]:
    if isinstance(part, str):
        return part, [], []
    if not isinstance(part, Mapping) or not isinstance(part.get("text", ""), str):
        message = "A thread part is a string or an object with `text` and `media`."
        return None, [], [Problem(code="option_invalid", message=message, field=where)]
    raw_media = part.get("media") or []
    if not isinstance(raw_media, list):
        message = "`media` must be a list."
        return None, [], [Problem(code="option_invalid", message=message, field=f"{where}.media")]
    media: list[MediaRef] = []
    problems: list[Problem] = []
    for index, raw in enumerate(raw_media):
        try:
            if not isinstance(raw, Mapping):
                raise ValueError("a media item is an object with `kind` and `url`")
            media.append(MediaRef.from_mapping(raw))
        except ValueError as exc:
            problems.append(
                Problem(code="option_invalid", message=str(exc), field=f"{where}.media[{index}]")
            )
    return str(part.get("text", "")), media, problems


# --- polls ----------------------------------------------------------------------------------


def _check_poll(
    rules: NetworkRules, *, options: Mapping[str, Any], has_media: bool
) -> list[Problem]:
    """`options.poll` = {"options": [...], "duration_minutes": n, "multiple"?: bool,
    "question"?: str (where the network asks for one)}."""
    poll = options.get("poll")
    if poll is None:
        return []
    limits = rules.features.poll
    if limits is None:
        return [_unsupported(rules, option="poll", what="polls")]
    where = "options.poll"
    if not isinstance(poll, Mapping):
        message = "A poll is an object with `options` and `duration_minutes`."
        return [Problem(code="option_invalid", message=message, field=where)]
    problems: list[Problem] = []
    choices = poll.get("options")
    if not isinstance(choices, list) or not (
        limits.min_options <= len(choices) <= limits.max_options
    ):
        message = (
            f"A {rules.name} poll has {limits.min_options} to {limits.max_options} options."
        )
        problems.append(Problem(code="option_invalid", message=message, field=f"{where}.options"))
        choices = choices if isinstance(choices, list) else []
    for index, choice in enumerate(choices):
        at = f"{where}.options[{index}]"
        if not isinstance(choice, str) or not choice.strip():
            problems.append(Problem(code="option_invalid", message="An option is text.", field=at))
        elif len(choice) > limits.max_option_length:
            message = (
                f"Option is {len(choice)} characters; {rules.name} takes at most "
                f"{limits.max_option_length}."
            )
            problems.append(Problem(code="option_invalid", message=message, field=at))
    if len({c.strip().casefold() for c in choices if isinstance(c, str)}) < len(choices):
        message = "Two options are the same."
        problems.append(Problem(code="option_invalid", message=message, field=f"{where}.options"))
    problems += _check_poll_duration(rules, limits, poll.get("duration_minutes"))
    problems += _check_poll_question(rules, limits, poll.get("question"))
    if poll.get("multiple") and not limits.multiple:
        message = f"{rules.name} polls take one answer per voter."
        problems.append(Problem(code="option_invalid", message=message, field=f"{where}.multiple"))
    if has_media and not limits.with_media:
        message = f"A {rules.name} post cannot carry both a poll and media."
        problems.append(Problem(code="option_invalid", message=message, field=where))
    return problems


def _check_poll_question(rules: NetworkRules, limits: PollRules, value: Any) -> list[Problem]:
    where = "options.poll.question"
    if limits.question_length is None:
        if value is None:
            return []
        message = f"A {rules.name} poll's question is the post's text; it takes no other."
        return [Problem(code="option_invalid", message=message, field=where)]
    if not isinstance(value, str) or not value.strip():
        message = f"A {rules.name} poll needs its question (`options.poll.question`)."
        return [Problem(code="option_invalid", message=message, field=where)]
    if len(value) > limits.question_length:
        message = (
            f"The question is {len(value)} characters; {rules.name} takes at most "
            f"{limits.question_length}."
        )
        return [Problem(code="option_invalid", message=message, field=where)]
    return []


def _check_poll_duration(rules: NetworkRules, limits: PollRules, value: Any) -> list[Problem]:
    where = "options.poll.duration_minutes"
    if limits.allowed_minutes is not None and value is None:
        return []  # the network has one duration; nothing to choose
    if isinstance(value, bool) or not isinstance(value, int):
        message = "How long the poll stays open, in whole minutes."
        return [Problem(code="option_invalid", message=message, field=where)]
    if limits.allowed_minutes is not None and value not in limits.allowed_minutes:
        allowed = ", ".join(f"{m:,}" for m in limits.allowed_minutes)
        message = f"{rules.name} polls stay open for {allowed} minutes."
        return [Problem(code="option_invalid", message=message, field=where)]
    if not limits.min_minutes <= value <= limits.max_minutes:
        message = (
            f"{rules.name} polls stay open {limits.min_minutes:,} to {limits.max_minutes:,} "
            f"minutes; this one is {value:,}."
        )
        return [Problem(code="option_invalid", message=message, field=where)]
    return []
