"""Rules on what a media file measures (aspect ratio, resolution, duration), checked when the
file's facts are known: a media library item was probed from its bytes, so its width, height
and duration are facts, not claims.

Each rule names the format the network publishes the file as, so a refusal reads as the
network's own rule: "Instagram Reels need 9:16 between 3 s and 90 s; this video is 16:9, 120 s".
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from shared.networks.rules import MediaRules

if TYPE_CHECKING:
    from shared.networks.validate import MediaRef

# Aspect ratios within this relative distance count as the named one (1080×1920 and 720×1280
# are 9:16; 1080×1918 from a phone crop is too).
_RATIO_TOLERANCE = 0.02


def ratio_name(width: int, height: int) -> str:
    if width <= 0 or height <= 0:
        return "0:0"
    fraction = Fraction(width, height).limit_denominator(20)
    return f"{fraction.numerator}:{fraction.denominator}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShapeRule:
    """One network's rule for one kind of file, as its documentation states it."""

    what: str  # "Instagram Reels", "TikTok videos"…
    kind: str  # image | video
    # An exact ratio (width, height), or a range of width/height.
    ratio: tuple[int, int] | None = None
    min_ratio: float | None = None
    max_ratio: float | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None
    min_side: int | None = None
    max_width: int | None = None

    def describe(self) -> str:
        """The rule in words: "9:16 between 3 s and 90 s"."""
        parts: list[str] = []
        if self.ratio is not None:
            parts.append(f"{self.ratio[0]}:{self.ratio[1]}")
        elif self.min_ratio is not None or self.max_ratio is not None:
            parts.append(
                f"an aspect ratio between {_ratio(self.min_ratio)} and {_ratio(self.max_ratio)}"
            )
        if self.kind == "video" and (self.min_seconds is not None or self.max_seconds is not None):
            parts.append(
                f"between {_seconds(self.min_seconds or 0)} and {_seconds(self.max_seconds)}"
            )
        if self.min_side is not None:
            parts.append(f"at least {self.min_side} px on each side")
        if self.max_width is not None:
            parts.append(f"at most {self.max_width} px wide")
        return " ".join(parts[:2]) + ("" if len(parts) <= 2 else ", " + ", ".join(parts[2:]))

    def broken_by(self, item: MediaRef) -> bool:
        width, height = item.width or 0, item.height or 0
        if width <= 0 or height <= 0:
            return False
        ratio = width / height
        if self.ratio is not None:
            wanted = self.ratio[0] / self.ratio[1]
            if abs(ratio - wanted) / wanted > _RATIO_TOLERANCE:
                return True
        if self.min_ratio is not None and ratio < self.min_ratio * (1 - _RATIO_TOLERANCE):
            return True
        if self.max_ratio is not None and ratio > self.max_ratio * (1 + _RATIO_TOLERANCE):
            return True
        if self.min_side is not None and min(width, height) < self.min_side:
            return True
        if self.max_width is not None and width > self.max_width:
            return True
        duration = item.duration_s
        if duration is not None:
            if self.min_seconds is not None and duration < self.min_seconds:
                return True
            if self.max_seconds is not None and duration > self.max_seconds:
                return True
        return False

    def measured(self, item: MediaRef) -> str:
        """What the file is, in the rule's terms: "16:9, 120 s" or "1:3, 400×1200 px"."""
        parts = [ratio_name(item.width or 0, item.height or 0)]
        if self.min_side is not None or self.max_width is not None:
            parts.append(f"{item.width}×{item.height} px")
        if self.kind == "video" and item.duration_s is not None:
            parts.append(_seconds(item.duration_s))
        return ", ".join(parts)


def _seconds(value: float | None) -> str:
    if value is None:
        return "any length"
    if value >= 120 and value % 60 == 0:
        return f"{value / 60:g} min"
    return f"{value:g} s"


def _ratio(value: float | None) -> str:
    if value is None:
        return "any"
    fraction = Fraction(value).limit_denominator(100)
    if fraction.denominator <= 10:
        return f"{fraction.numerator}:{fraction.denominator}"
    return f"{value:g}:1"


# Per network, the rules a probed file must meet. Sources: Meta's content publishing guide
# (Reels 9:16, 3–90 s; feed images 4:5 to 1.91:1; Threads images up to 1440 px wide, video up
# to 5 min), TikTok's Content Posting API (3 s to 10 min, 360 px minimum), LinkedIn's video
# API (3 s to 30 min), Bluesky's video limit (3 min, unconfirmed).
SHAPE_RULES: dict[str, tuple[ShapeRule, ...]] = {
    "instagram": (
        ShapeRule(
            what="Instagram Reels", kind="video", ratio=(9, 16), min_seconds=3, max_seconds=90
        ),
        ShapeRule(what="Instagram feed images", kind="image", min_ratio=4 / 5, max_ratio=1.91),
    ),
    "facebook": (
        ShapeRule(what="Facebook videos", kind="video", min_seconds=1, max_seconds=240 * 60),
    ),
    "tiktok": (
        ShapeRule(what="TikTok videos", kind="video", min_seconds=3, max_seconds=600, min_side=360),
    ),
    "threads": (
        ShapeRule(
            what="Threads videos", kind="video", min_ratio=0.01, max_ratio=10, max_seconds=300
        ),
        ShapeRule(what="Threads images", kind="image", min_ratio=0.1, max_ratio=10, max_width=1440),
    ),
    "linkedin": (ShapeRule(what="LinkedIn videos", kind="video", min_seconds=3, max_seconds=1800),),
    "bluesky": (ShapeRule(what="Bluesky videos", kind="video", max_seconds=180),),
    "x": (ShapeRule(what="X videos", kind="video", min_seconds=0.5, max_seconds=140),),
}


def shape_problems(network: str, item: MediaRef) -> list[tuple[str, str]]:
    """(code, message) for each rule of the network the measured file breaks."""
    found: list[tuple[str, str]] = []
    for rule in SHAPE_RULES.get(network, ()):
        if rule.kind != item.kind or not rule.broken_by(item):
            continue
        noun = "video" if rule.kind == "video" else "image"
        found.append(
            (
                "media_shape_not_supported",
                f"{rule.what} need {rule.describe()}; this {noun} is {rule.measured(item)}.",
            )
        )
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendition:
    """The mechanical fixes an image needs before a network takes it."""

    upright: bool = False
    to_jpeg: bool = False
    max_bytes: int | None = None

    @property
    def needed(self) -> bool:
        return self.upright or self.to_jpeg or self.max_bytes is not None

    @property
    def key(self) -> str:
        parts = (["upright"] if self.upright else []) + (["jpeg"] if self.to_jpeg else [])
        if self.max_bytes is not None:
            parts.append(f"max{self.max_bytes}")
        return "-".join(parts) or "original"

    def describe(self, network_name: str, mime: str | None) -> str:
        steps: list[str] = []
        if self.upright:
            steps.append("turned upright as its EXIF orientation says")
        if self.to_jpeg:
            steps.append(f"converted from {mime or 'its format'} to JPEG")
        if self.max_bytes is not None:
            steps.append(f"made smaller to fit {self.max_bytes:,} bytes")
        return f"{network_name} gets a copy of this image {' and '.join(steps)}."


def rendition_for(media_rules: MediaRules, item: MediaRef) -> Rendition:
    """What must be done to a library image for it to pass `media_rules`; nothing for a video
    (never transcoded) or a URL Herald does not hold."""
    if not item.library or item.kind != "image":
        return Rendition()
    mime = item.effective_mime()
    allowed = media_rules.image_mime_types
    to_jpeg = (
        allowed is not None and mime is not None and mime not in allowed and "image/jpeg" in allowed
    )
    cap = media_rules.max_image_bytes
    too_large = cap is not None and item.size_bytes is not None and item.size_bytes > cap
    return Rendition(upright=item.rotated, to_jpeg=to_jpeg, max_bytes=cap if too_large else None)
