"""Post formats on Instagram and Facebook (`options.format`: feed, story, reel) and the options
only a format takes (`options.share_to_feed`, `options.cover_url`, `options.thumb_offset`).

Each format has its own API call and its own media rules (Meta's content publishing guide:
Reels 9:16 and 3–90 s; Instagram Story videos 3–60 s; Facebook Reels 9:16 and 3–90 s), so a
variant is checked against the format it asks for, and an option the format cannot carry is
refused rather than dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.networks.measured import ShapeRule
from shared.networks.rules import NetworkRules

if TYPE_CHECKING:
    from shared.networks.validate import MediaRef, ProblemCode


class Refusal(NamedTuple):
    """One refusal, in the words validation reports it (`validate.Problem` carries it)."""

    code: ProblemCode
    message: str
    field: str


FEED, STORY, REEL = "feed", "story", "reel"
FORMAT_OPTIONS = ("share_to_feed", "cover_url", "thumb_offset")
# The options that belong to a reel's publishing call, per network.
REEL_OPTIONS: dict[str, tuple[str, ...]] = {"instagram": FORMAT_OPTIONS, "facebook": ()}
# Instagram Reels need no entry: `measured.SHAPE_RULES` holds every Instagram video to them.
FORMAT_SHAPES: dict[tuple[str, str], ShapeRule] = {
    ("instagram", STORY): ShapeRule(
        what="Instagram Story videos", kind="video", min_seconds=3, max_seconds=60
    ),
    ("facebook", REEL): ShapeRule(
        what="Facebook Reels", kind="video", ratio=(9, 16), min_seconds=3, max_seconds=90
    ),
}


def format_of(options: Mapping[str, Any]) -> str:
    value = options.get("format")
    return value if isinstance(value, str) else FEED


def check_format(
    rules: NetworkRules,
    *,
    text: str,
    media: Sequence[MediaRef],
    options: Mapping[str, Any],
) -> list[Refusal]:
    """Problems with the variant's format and the options that go with it. Networks without
    `options.format` only get refusals for the format options they were sent."""
    if rules.option("format") is None:
        return [
            Refusal(
                code="option_not_supported",
                message=f"{rules.name} has no `{name}`: it belongs to Instagram reels.",
                field=f"options.{name}",
            )
            for name in FORMAT_OPTIONS
            if name in options
        ]
    chosen = format_of(options)
    problems = _foreign_options(rules, chosen, options)
    if chosen == REEL:
        problems += _check_reel(rules, media=media, options=options)
    elif chosen == STORY:
        problems += _check_story(rules, text=text, media=media, options=options)
    return problems


def _foreign_options(rules: NetworkRules, chosen: str, options: Mapping[str, Any]) -> list[Refusal]:
    allowed = REEL_OPTIONS.get(rules.network, ()) if chosen == REEL else ()
    return [
        Refusal(
            code="option_not_supported",
            message=(f"`{name}` is for Instagram reels; a {rules.name} {chosen} would not use it."),
            field=f"options.{name}",
        )
        for name in FORMAT_OPTIONS
        if name in options and name not in allowed
    ]


def _one_item(
    rules: NetworkRules, chosen: str, media: Sequence[MediaRef], *, video_only: bool
) -> list[Refusal]:
    what = "one video" if video_only else "one image or one video"
    if len(media) != 1:
        return [
            Refusal(
                code="media_required" if not media else "too_many_media",
                message=f"On {rules.name}, a {chosen} carries exactly {what}.",
                field="media",
            )
        ]
    if media[0].kind not in (("video",) if video_only else ("image", "video")):
        return [
            Refusal(
                code="media_kind_not_supported",
                message=f"On {rules.name}, a {chosen} carries exactly {what}.",
                field="media[0]",
            )
        ]
    return _shape(rules, chosen, media[0])


def _shape(rules: NetworkRules, chosen: str, item: MediaRef) -> list[Refusal]:
    rule = FORMAT_SHAPES.get((rules.network, chosen))
    if rule is None or rule.kind != item.kind or not rule.broken_by(item):
        return []
    return [
        Refusal(
            code="media_shape_not_supported",
            message=f"{rule.what} need {rule.describe()}; this video is {rule.measured(item)}.",
            field="media[0]",
        )
    ]


def _check_reel(
    rules: NetworkRules, *, media: Sequence[MediaRef], options: Mapping[str, Any]
) -> list[Refusal]:
    problems = _one_item(rules, REEL, media, video_only=True)
    share = options.get("share_to_feed")
    if share is not None and not isinstance(share, bool):
        problems.append(
            Refusal(
                code="option_invalid",
                message="Must be true or false.",
                field="options.share_to_feed",
            )
        )
    cover = options.get("cover_url")
    if cover is not None and (not isinstance(cover, str) or not cover.startswith("https://")):
        problems.append(
            Refusal(
                code="option_invalid",
                message="The cover is an https URL of a JPEG Instagram can fetch.",
                field="options.cover_url",
            )
        )
    offset = options.get("thumb_offset")
    if offset is not None and (
        isinstance(offset, bool) or not isinstance(offset, int) or offset < 0
    ):
        problems.append(
            Refusal(
                code="option_invalid",
                message="The cover frame is a whole number of milliseconds from the start.",
                field="options.thumb_offset",
            )
        )
    if cover is not None and offset is not None:
        # Instagram takes the image and ignores the frame: one of them would be dropped.
        problems.append(
            Refusal(
                code="option_invalid",
                message="Give the cover as `cover_url` or `thumb_offset`, not both.",
                field="options.thumb_offset",
            )
        )
    return problems


def _check_story(
    rules: NetworkRules, *, text: str, media: Sequence[MediaRef], options: Mapping[str, Any]
) -> list[Refusal]:
    problems = _one_item(rules, STORY, media, video_only=False)
    if text.strip():
        # The Story call has no caption: text would be accepted and never shown.
        problems.append(
            Refusal(
                code="option_not_supported",
                message=(
                    f"On {rules.name}, a story shows no text (the API has no caption for it); "
                    "put the words in the image."
                ),
                field="text",
            )
        )
    if options.get("first_comment") is not None:
        problems.append(
            Refusal(
                code="option_not_supported",
                message=f"On {rules.name}, a story takes no comments.",
                field="options.first_comment",
            )
        )
    return problems
