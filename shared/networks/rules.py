"""What each network accepts: text limits and how they are counted, media, options, features.

One table for the whole platform: the scheduler validates against it when a post is saved,
the publisher again before it publishes, and `GET /v1/networks` shows it. Values come from
NETWORKS.md; the few it does not give are marked "unconfirmed" so they are easy to correct.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "NETWORKS",
    "Counting",
    "Features",
    "PollRules",
    "MediaKind",
    "MediaRules",
    "Network",
    "NetworkRules",
    "OptionRule",
    "TextRules",
    "TitleRules",
    "UnknownNetwork",
    "capabilities",
    "rules_for",
]

Network = Literal[
    "facebook",
    "instagram",
    "threads",
    "x",
    "linkedin",
    "tiktok",
    "youtube",
    "mastodon",
    "bluesky",
]
NETWORKS: tuple[Network, ...] = (
    "facebook",
    "instagram",
    "threads",
    "x",
    "linkedin",
    "tiktok",
    "youtube",
    "mastodon",
    "bluesky",
)

MediaKind = Literal["image", "video", "gif"]

# How a text's length is measured; each value maps to one counter in `counting.py`.
Counting = Literal[
    "x_weighted",  # twitter-text v3 weights, URLs 23, emoji 2
    "graphemes",  # extended grapheme clusters
    "mastodon",  # graphemes, URLs reserved, remote mentions without @domain, spoiler added
    "threads",  # emoji at their UTF-8 byte length, other code points 1
    "characters",  # code points
    "utf8_bytes",
]

MB = 1024 * 1024


class UnknownNetwork(ValueError):
    def __init__(self, network: str) -> None:
        super().__init__(f"unknown network {network!r}; expected one of {', '.join(NETWORKS)}")
        self.network = network


@dataclass(frozen=True, slots=True, kw_only=True)
class TextRules:
    limit: int
    counting: Counting
    # A second, independent ceiling in UTF-8 bytes (Bluesky: 300 graphemes *and* 3000 bytes).
    byte_limit: int | None = None
    # What one link counts as where the network shortens or reserves links; None = as typed.
    url_length: int | None = None
    # Text may be left empty when the post carries media.
    required_without_media: bool = True
    forbidden_characters: tuple[str, ...] = ()
    max_hashtags: int | None = None
    max_mentions: int | None = None
    # Mastodon: each instance sets its own `max_characters`.
    limit_per_instance: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TitleRules:
    option: str
    required: bool
    limit: int
    counting: Counting
    forbidden_characters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaRules:
    kinds: tuple[MediaKind, ...]
    required: bool = False
    max_items: int
    max_images: int = 0
    max_videos: int = 0
    max_gifs: int = 0
    # Whether images, videos and GIFs may share one post.
    mixed_kinds: bool = False
    # Multi-item posts (carousel / multi-image) where the network has a floor and ceiling; a
    # single item is then posted as a plain image or video post instead.
    carousel_min: int | None = None
    carousel_max: int | None = None
    # None: any type of that kind the network takes; otherwise an allow-list of MIME types.
    image_mime_types: tuple[str, ...] | None = None
    video_mime_types: tuple[str, ...] | None = None
    max_image_bytes: int | None = None
    max_video_bytes: int | None = None
    max_gif_bytes: int | None = None
    min_video_seconds: float | None = None
    max_video_seconds: float | None = None
    alt_text_expected: bool = False
    # The network fetches media itself, so a URL only we can reach makes publishing fail.
    public_url_required: bool = False
    aspect_ratio: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionRule:
    name: str
    values: tuple[str, ...] | None = None
    required: bool = False
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PollRules:
    """A poll the network's API can attach to a post (`options.poll`)."""

    min_options: int = 2
    max_options: int = 4
    max_option_length: int
    min_minutes: int
    max_minutes: int
    # None: any whole number of minutes in range; otherwise only these (Threads: 24 h).
    allowed_minutes: tuple[int, ...] | None = None
    # Several answers per voter (Mastodon's `multiple`).
    multiple: bool = False
    # Whether the post may also carry media.
    with_media: bool = False
    # The poll's own question (`options.poll.question`), required up to this many characters;
    # None: the post's text is the question (X, Mastodon, Threads).
    question_length: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Features:
    first_comment: bool
    # A chain of self-replies published as one post (`options.thread`).
    thread: bool
    direct_messages: bool
    # How comments and mentions reach the inbox.
    inbound: Literal["webhooks", "polling"]
    # What makes a publish retry safe on the network's side; None = nothing, so the publisher
    # must look before it retries.
    idempotency: Literal["idempotency_key", "rkey"] | None
    # Mastodon's content warning (`options.spoiler_text`).
    spoiler_text: bool = False
    # None: the network's API has no polls.
    poll: PollRules | None = None
    # What of a published post the network's API lets its author change afterwards
    # ("text", "title", "description"); empty: nothing (a new post is the only way).
    edit_after_publish: tuple[str, ...] = ()
    # Whether the network's API lets its author delete a published post.
    delete_after_publish: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkRules:
    network: Network
    name: str
    text: TextRules
    media: MediaRules
    features: Features
    title: TitleRules | None = None
    # TikTok photo posts take images instead of a video (`options.post_type = "photo"`).
    photo_media: MediaRules | None = None
    options: tuple[OptionRule, ...] = ()

    def media_for(self, *, photo_post: bool) -> MediaRules:
        if photo_post and self.photo_media is not None:
            return self.photo_media
        return self.media

    def option(self, name: str) -> OptionRule | None:
        return next((rule for rule in self.options if rule.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (lists, not tuples)."""
        data = _jsonable(dataclasses.asdict(self))
        assert isinstance(data, dict)
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


_IMAGE_TYPES_COMMON = ("image/jpeg", "image/png", "image/gif", "image/webp")

# Keyed by plain str so a name from a request can be looked up before it is known valid.
_RULES: dict[str, NetworkRules] = {
    "facebook": NetworkRules(
        network="facebook",
        name="Facebook Page",
        text=TextRules(limit=63_206, counting="characters"),
        media=MediaRules(
            kinds=("image", "video", "gif"),
            max_items=10,
            max_images=10,
            max_videos=1,
            max_gifs=1,
        ),
        features=Features(
            edit_after_publish=("text",),
            delete_after_publish=True,
            first_comment=True,
            thread=False,
            direct_messages=True,
            inbound="webhooks",
            idempotency=None,
        ),
        # A feed post, or a reel (`/{page-id}/video_reels`); Page Stories are not published.
        options=(OptionRule(name="format", values=("feed", "reel"), default="feed"),),
    ),
    "instagram": NetworkRules(
        network="instagram",
        name="Instagram",
        text=TextRules(
            limit=2_200,
            counting="characters",
            required_without_media=False,
            max_hashtags=30,
            max_mentions=20,
        ),
        media=MediaRules(
            kinds=("image", "video"),
            required=True,
            max_items=10,
            max_images=10,
            max_videos=10,
            mixed_kinds=True,
            carousel_min=2,
            carousel_max=10,
            image_mime_types=("image/jpeg",),
            max_image_bytes=8 * MB,  # unconfirmed (Meta content publishing guide)
            public_url_required=True,
        ),
        features=Features(
            first_comment=True,
            thread=False,
            direct_messages=True,
            inbound="webhooks",
            idempotency=None,
        ),
        # A feed post (image, carousel, video), a story (`media_type=STORIES`) or a reel
        # (`media_type=REELS`): each its own container.
        options=(OptionRule(name="format", values=("feed", "story", "reel"), default="feed"),),
    ),
    "threads": NetworkRules(
        network="threads",
        name="Threads",
        text=TextRules(limit=500, counting="threads"),
        media=MediaRules(
            kinds=("image", "video"),
            max_items=20,
            max_images=20,
            max_videos=20,
            mixed_kinds=True,
            carousel_min=2,
            carousel_max=20,
            public_url_required=True,  # unconfirmed: containers take image_url/video_url
        ),
        features=Features(
            delete_after_publish=True,
            first_comment=True,
            thread=True,
            direct_messages=False,
            inbound="webhooks",
            idempotency=None,
            # `poll_attachment` (option_a … option_d) on a text post; open for 24 hours.
            poll=PollRules(
                max_option_length=25,
                min_minutes=24 * 60,
                max_minutes=24 * 60,
                allowed_minutes=(24 * 60,),
            ),
        ),
    ),
    "x": NetworkRules(
        network="x",
        name="X",
        text=TextRules(limit=280, counting="x_weighted", url_length=23),
        media=MediaRules(
            kinds=("image", "video", "gif"),
            max_items=4,
            max_images=4,
            max_videos=1,
            max_gifs=1,
            max_image_bytes=5 * MB,
            max_video_bytes=512 * MB,
            max_gif_bytes=15 * MB,  # unconfirmed
            min_video_seconds=0.5,
            max_video_seconds=140,
        ),
        features=Features(
            delete_after_publish=True,
            first_comment=True,
            thread=True,
            direct_messages=True,
            inbound="webhooks",
            idempotency=None,
            # POST /2/tweets `poll`: 2-4 options of 25 characters, 5 minutes to 7 days.
            poll=PollRules(max_option_length=25, min_minutes=5, max_minutes=7 * 24 * 60),
        ),
    ),
    "linkedin": NetworkRules(
        network="linkedin",
        name="LinkedIn",
        text=TextRules(limit=3_000, counting="characters"),
        media=MediaRules(
            kinds=("image", "video"),
            max_items=20,
            max_images=20,
            max_videos=1,
            carousel_min=2,
            carousel_max=20,
        ),
        features=Features(
            edit_after_publish=("text",),
            delete_after_publish=True,
            first_comment=True,
            thread=False,
            direct_messages=False,
            inbound="webhooks",
            idempotency=None,
            # Posts API `content.poll`: a question of 140 characters, 2-4 options of 30, open
            # one, three, seven or fourteen days.
            poll=PollRules(
                max_option_length=30,
                min_minutes=24 * 60,
                max_minutes=14 * 24 * 60,
                allowed_minutes=(24 * 60, 3 * 24 * 60, 7 * 24 * 60, 14 * 24 * 60),
                question_length=140,
            ),
        ),
    ),
    "tiktok": NetworkRules(
        network="tiktok",
        name="TikTok",
        text=TextRules(limit=2_200, counting="characters", required_without_media=False),
        media=MediaRules(
            kinds=("video",),
            required=True,
            max_items=1,
            max_videos=1,
            video_mime_types=("video/mp4", "video/quicktime", "video/webm"),  # unconfirmed
            max_video_bytes=4 * 1024 * MB,  # unconfirmed
            aspect_ratio="9:16",
        ),
        photo_media=MediaRules(
            kinds=("image",),
            required=True,
            max_items=35,  # unconfirmed
            max_images=35,
            image_mime_types=("image/jpeg", "image/webp"),  # unconfirmed
            public_url_required=True,  # photo posts are pulled from a URL
            aspect_ratio="9:16",
        ),
        features=Features(
            first_comment=False,
            thread=False,
            direct_messages=False,
            inbound="webhooks",
            idempotency=None,
        ),
        options=(
            # Must be one the creator-info query offers; this is the full set it can offer.
            OptionRule(
                name="privacy_level",
                values=(
                    "PUBLIC_TO_EVERYONE",
                    "MUTUAL_FOLLOW_FRIENDS",
                    "FOLLOWER_OF_CREATOR",
                    "SELF_ONLY",
                ),
                required=True,
            ),
            OptionRule(name="post_type", values=("video", "photo"), default="video"),
        ),
    ),
    "youtube": NetworkRules(
        network="youtube",
        name="YouTube",
        # The variant text is the video description.
        text=TextRules(
            limit=5_000,
            counting="utf8_bytes",
            required_without_media=False,
            forbidden_characters=("<", ">"),
        ),
        title=TitleRules(
            option="title",
            required=True,
            limit=100,
            counting="characters",
            forbidden_characters=("<", ">"),
        ),
        media=MediaRules(kinds=("video",), required=True, max_items=1, max_videos=1),
        features=Features(
            edit_after_publish=("title", "description"),
            delete_after_publish=True,
            first_comment=True,
            thread=False,
            direct_messages=False,
            # WebSub only announces uploads; comments have to be polled.
            inbound="polling",
            idempotency=None,
        ),
        options=(
            OptionRule(
                name="privacy_status", values=("public", "unlisted", "private"), default="public"
            ),
        ),
    ),
    "mastodon": NetworkRules(
        network="mastodon",
        name="Mastodon",
        text=TextRules(limit=500, counting="mastodon", url_length=23, limit_per_instance=True),
        media=MediaRules(
            kinds=("image", "video", "gif"),
            max_items=4,
            max_images=4,
            max_videos=1,
            max_gifs=1,
            # Instances and their moderators widely expect image descriptions.
            alt_text_expected=True,
        ),
        features=Features(
            edit_after_publish=("text",),
            delete_after_publish=True,
            first_comment=True,
            thread=True,
            direct_messages=True,
            inbound="polling",
            idempotency="idempotency_key",
            spoiler_text=True,
            # The instance's `configuration.polls` (mastodon.social's defaults).
            poll=PollRules(
                max_option_length=50, min_minutes=5, max_minutes=30 * 24 * 60, multiple=True
            ),
        ),
        options=(
            OptionRule(
                name="visibility",
                values=("public", "unlisted", "private", "direct"),
                default="public",
            ),
        ),
    ),
    "bluesky": NetworkRules(
        network="bluesky",
        name="Bluesky",
        text=TextRules(limit=300, counting="graphemes", byte_limit=3_000),
        media=MediaRules(
            kinds=("image", "video"),
            max_items=4,
            max_images=4,
            max_videos=1,
            image_mime_types=_IMAGE_TYPES_COMMON,
            video_mime_types=("video/mp4",),
            max_image_bytes=2_000_000,
            max_video_bytes=300 * MB,
            alt_text_expected=True,
        ),
        features=Features(
            delete_after_publish=True,
            first_comment=True,
            thread=True,
            direct_messages=False,
            inbound="polling",
            idempotency="rkey",
        ),
    ),
}


def rules_for(network: str, *, mastodon_max_characters: int | None = None) -> NetworkRules:
    """The rules of one network; for Mastodon, with the instance's own limit if known."""
    try:
        rules = _RULES[network]
    except KeyError:
        raise UnknownNetwork(network) from None
    if network == "mastodon" and mastodon_max_characters is not None:
        if mastodon_max_characters <= 0:
            raise ValueError("mastodon_max_characters must be positive")
        text = dataclasses.replace(rules.text, limit=mastodon_max_characters)
        rules = dataclasses.replace(rules, text=text)
    return rules


def capabilities() -> list[dict[str, Any]]:
    """Every network's rules, JSON-ready, for `GET /v1/networks`."""
    return [_RULES[network].to_dict() for network in NETWORKS]
