"""validate_variant against each network's rules, with hand-counted texts."""

import json
from typing import Any, get_args

import pytest

from shared.networks import (
    NETWORKS,
    PROBLEM_CODES,
    MediaRef,
    Network,
    ProblemCode,
    UnknownNetwork,
    VariantCheck,
    capabilities,
    rules_for,
    validate_variant,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 25 UTF-8 bytes
JPEG = MediaRef(kind="image", url="https://cdn.example.com/a.jpg", alt="A red door")
VIDEO = MediaRef(kind="video", url="https://cdn.example.com/v.mp4", duration_s=30)


def codes(check: VariantCheck) -> list[tuple[str, str]]:
    return [(problem.code, problem.field) for problem in check.problems]


def check(network: str, text: str = "", **kwargs: Any) -> VariantCheck:
    return validate_variant(network, text=text, **kwargs)


# --- the kit as a whole ----------------------------------------------------------------------


def test_network_names_match_the_literal() -> None:
    assert get_args(Network) == NETWORKS
    assert NETWORKS == (
        "facebook", "instagram", "threads", "x", "linkedin", "tiktok", "youtube", "mastodon",
        "bluesky",
    )  # fmt: skip


def test_problem_codes_match_the_literal() -> None:
    assert get_args(ProblemCode) == PROBLEM_CODES


def test_unknown_network_is_refused() -> None:
    with pytest.raises(UnknownNetwork):
        check("myspace", "hi")


def test_capabilities_are_json_ready() -> None:
    listed = capabilities()
    assert [entry["network"] for entry in listed] == list(NETWORKS)
    assert json.loads(json.dumps(listed)) == listed
    by_name = {entry["network"]: entry for entry in listed}
    assert by_name["mastodon"]["features"]["idempotency"] == "idempotency_key"
    assert by_name["bluesky"]["features"]["idempotency"] == "rkey"
    assert by_name["x"]["features"]["idempotency"] is None
    assert by_name["x"]["features"]["thread"] is True
    assert by_name["instagram"]["text"]["max_hashtags"] == 30
    assert by_name["instagram"]["media"]["image_mime_types"] == ["image/jpeg"]
    assert by_name["youtube"]["title"]["limit"] == 100
    assert by_name["bluesky"]["text"]["byte_limit"] == 3000


def test_problem_is_machine_readable() -> None:
    result = check("x", "a" * 281)
    assert result.to_dict()["problems"] == [
        {
            "code": "text_too_long",
            "message": "Text is 281 weighted characters; the limit is 280.",
            "field": "text",
            "severity": "error",
        }
    ]
    assert result.to_dict()["valid"] is False


@pytest.mark.parametrize("network", ["facebook", "threads", "x", "linkedin", "mastodon", "bluesky"])
def test_empty_post_needs_text_or_media(network: str) -> None:
    assert ("text_required", "text") in codes(check(network, "  "))


# --- X ---------------------------------------------------------------------------------------


def test_x_exactly_280_with_a_url_is_valid_and_281_is_not() -> None:
    url = "https://example.com/" + "x" * 80
    # 256 "a" + " " 1 + URL 23 = 280
    at_limit = check("x", "a" * 256 + " " + url)
    assert (at_limit.length, at_limit.limit, at_limit.valid) == (280, 280, True)
    # one more "a": 281
    over = check("x", "a" * 257 + " " + url)
    assert over.length == 281
    assert codes(over) == [("text_too_long", "text")]


def test_x_cjk_limit_is_half() -> None:
    # 140 CJK characters x 2 = 280: valid; 141 x 2 = 282: too long
    assert check("x", "日" * 140).valid
    assert check("x", "日" * 141).length == 282


def test_x_thread_parts_are_each_checked() -> None:
    result = check(
        "x",
        "1/3",
        options={"thread": ["2/3 fine", {"text": "b" * 281}, "", 7]},
    )
    assert codes(result) == [
        ("text_too_long", "options.thread[1]"),
        ("text_required", "options.thread[2]"),
        ("option_invalid", "options.thread[3]"),
    ]
    assert result.length == 3


def test_x_thread_part_media_is_checked() -> None:
    part = {"text": "pics", "media": [{"kind": "image", "url": "https://e.com/1.jpg"}] * 5}
    result = check("x", "1/2", options={"thread": [part]})
    assert codes(result) == [("too_many_media", "options.thread[0].media")]


def test_x_media_limits() -> None:
    images = [JPEG] * 5
    assert codes(check("x", "hi", media=images)) == [("too_many_media", "media")]
    mixed = check("x", "hi", media=[JPEG, VIDEO])
    assert codes(mixed) == [("media_not_allowed", "media")]
    long_video = MediaRef(kind="video", url="https://e.com/v.mp4", duration_s=140.5)
    assert codes(check("x", "hi", media=[long_video])) == [("video_too_long", "media[0]")]
    short_video = MediaRef(kind="video", url="https://e.com/v.mp4", duration_s=0.4)
    assert codes(check("x", "hi", media=[short_video])) == [("video_too_short", "media[0]")]
    # 5 MiB = 5 x 1024 x 1024 = 5,242,880 bytes; one more is too large
    big = MediaRef(kind="image", url="https://e.com/a.png", size_bytes=5_242_881)
    assert codes(check("x", "hi", media=[big])) == [("media_too_large", "media[0]")]


def test_first_comment_is_checked_with_the_network_rules() -> None:
    result = check("x", "post", options={"first_comment": "c" * 281})
    assert codes(result) == [("text_too_long", "options.first_comment")]
    tiktok = check(
        "tiktok",
        media=[VIDEO],
        options={"privacy_level": "SELF_ONLY", "first_comment": "hi"},
    )
    assert codes(tiktok) == [("option_not_supported", "options.first_comment")]


def test_thread_on_a_network_without_threads() -> None:
    result = check("linkedin", "post", options={"thread": ["more"]})
    assert codes(result) == [("option_not_supported", "options.thread")]


# --- Bluesky ---------------------------------------------------------------------------------


def test_bluesky_under_300_graphemes_but_over_3000_bytes() -> None:
    # 121 family emoji: 121 graphemes (<= 300) but 121 x 25 = 3,025 bytes (> 3,000)
    result = check("bluesky", FAMILY * 121)
    assert (result.length, result.limit) == (121, 300)
    assert codes(result) == [("text_too_many_bytes", "text")]


def test_bluesky_grapheme_limit() -> None:
    # 300 ASCII graphemes = 300 bytes: valid; 301: too long
    assert check("bluesky", "a" * 300).valid
    assert codes(check("bluesky", "a" * 301)) == [("text_too_long", "text")]


def test_bluesky_links_are_not_shortened() -> None:
    url = "https://example.com/" + "x" * 300
    # 20 + 300 = 320 graphemes > 300
    assert codes(check("bluesky", url)) == [("text_too_long", "text")]


def test_bluesky_images_and_alt_text() -> None:
    no_alt = MediaRef(kind="image", url="https://e.com/a.jpg")
    result = check("bluesky", "look", media=[no_alt])
    assert codes(result) == [("alt_text_missing", "media[0]")]
    assert result.problems[0].severity == "warning"
    assert result.valid
    assert ("too_many_media", "media") in codes(check("bluesky", "look", media=[JPEG] * 5))
    # 2,000,000 bytes is the ceiling; 2,000,001 is over
    heavy = MediaRef(kind="image", url="https://e.com/a.jpg", alt="x", size_bytes=2_000_001)
    assert codes(check("bluesky", "x", media=[heavy])) == [("media_too_large", "media[0]")]
    gif = MediaRef(kind="gif", url="https://e.com/a.gif", alt="x")
    assert codes(check("bluesky", "x", media=[gif])) == [("media_kind_not_supported", "media[0]")]


# --- Mastodon --------------------------------------------------------------------------------


def test_mastodon_instance_limit_and_spoiler() -> None:
    # 490 "a" + spoiler "spoilers!!!" 11 = 501 > 500
    result = check("mastodon", "a" * 490, options={"spoiler_text": "spoilers!!!"})
    assert (result.length, result.limit) == (501, 500)
    assert codes(result) == [("text_too_long", "text")]
    # the same post on an instance allowing 1000: valid
    roomy = check(
        "mastodon",
        "a" * 490,
        options={"spoiler_text": "spoilers!!!"},
        mastodon_max_characters=1000,
    )
    assert (roomy.limit, roomy.valid) == (1000, True)
    assert rules_for("mastodon", mastodon_max_characters=1000).text.limit == 1000


def test_mastodon_remote_mentions_and_urls() -> None:
    url = "https://example.com/" + "x" * 600
    text = "@someone@a-very-long-instance-name.example " + url
    # "@someone" 8 + " " 1 + 23 = 32, although the text is 643 code points long
    result = check("mastodon", text)
    assert (result.length, result.valid) == (32, True)


def test_spoiler_only_on_mastodon() -> None:
    result = check("bluesky", "hi", options={"spoiler_text": "cw"})
    assert codes(result) == [("option_not_supported", "options.spoiler_text")]


def test_mastodon_visibility_value() -> None:
    result = check("mastodon", "hi", options={"visibility": "everyone"})
    assert codes(result) == [("option_invalid", "options.visibility")]


# --- Threads ---------------------------------------------------------------------------------


def test_threads_emoji_bytes_reach_the_limit() -> None:
    # 125 x 👋 (4 bytes each) = 500: valid; 126 x 4 = 504: too long
    assert check("threads", "\U0001f44b" * 125).valid
    over = check("threads", "\U0001f44b" * 126)
    assert over.length == 504
    assert codes(over) == [("text_too_long", "text")]


# --- YouTube ---------------------------------------------------------------------------------


def test_youtube_description_is_counted_in_bytes() -> None:
    # "ð" is 2 bytes: 2,501 x 2 = 5,002 bytes > 5,000 though only 2,501 characters
    result = check("youtube", "ð" * 2501, media=[VIDEO], options={"title": "Trip"})
    assert (result.length, result.limit, result.counting) == (5002, 5000, "utf8_bytes")
    assert codes(result) == [("text_too_long", "text")]


def test_youtube_title_rules() -> None:
    assert codes(check("youtube", "d", media=[VIDEO])) == [("title_required", "options.title")]
    assert codes(check("youtube", "d", media=[VIDEO], options={"title": "  "})) == [
        ("title_required", "options.title")
    ]
    # 101 characters > 100
    long_title = check("youtube", "d", media=[VIDEO], options={"title": "t" * 101})
    assert codes(long_title) == [("title_too_long", "options.title")]
    # Icelandic title of 100 characters (not bytes): valid
    assert check("youtube", "d", media=[VIDEO], options={"title": "þ" * 100}).valid


def test_youtube_angle_brackets_are_forbidden() -> None:
    result = check("youtube", "1 < 2", media=[VIDEO], options={"title": "a > b"})
    assert codes(result) == [
        ("forbidden_character", "text"),
        ("forbidden_character", "options.title"),
    ]


def test_youtube_needs_a_video() -> None:
    assert codes(check("youtube", "d", options={"title": "t"})) == [("media_required", "media")]
    images_only = check("youtube", "d", media=[JPEG], options={"title": "t"})
    assert codes(images_only) == [("media_kind_not_supported", "media[0]")]


# --- Instagram -------------------------------------------------------------------------------


def test_instagram_hashtag_cap() -> None:
    thirty = " ".join(f"#tag{n}" for n in range(30))
    assert check("instagram", thirty, media=[JPEG]).valid
    thirty_one = " ".join(f"#tag{n}" for n in range(31))
    assert codes(check("instagram", thirty_one, media=[JPEG])) == [("too_many_hashtags", "text")]


def test_instagram_hashtag_cap_counts_unicode_tags() -> None:
    # 16 x "#שלום" + 15 x "#Þórsmörk" = 31 hashtags
    text = " ".join(["#שלום"] * 16 + ["#Þórsmörk"] * 15)
    assert codes(check("instagram", text, media=[JPEG])) == [("too_many_hashtags", "text")]


def test_instagram_mention_cap() -> None:
    text = " ".join(f"@user{n}" for n in range(21))
    assert codes(check("instagram", text, media=[JPEG])) == [("too_many_mentions", "text")]


def test_instagram_media_rules() -> None:
    assert codes(check("instagram", "caption")) == [("media_required", "media")]
    png = MediaRef(kind="image", url="https://cdn.example.com/a.png")
    assert codes(check("instagram", "c", media=[png])) == [
        ("media_format_not_supported", "media[0]")
    ]
    typed = MediaRef(kind="image", url="https://cdn.example.com/a", mime="image/webp")
    assert codes(check("instagram", "c", media=[typed])) == [
        ("media_format_not_supported", "media[0]")
    ]
    assert check("instagram", "c", media=[JPEG] * 10).valid
    assert codes(check("instagram", "c", media=[JPEG] * 11)) == [("too_many_media", "media")]
    assert check("instagram", "c", media=[JPEG, VIDEO]).valid


def test_instagram_private_media_url_is_a_warning() -> None:
    local = MediaRef(kind="image", url="http://127.0.0.1:8090/_sandbox/media/sample.jpg")
    result = check("instagram", "c", media=[local])
    assert codes(result) == [("media_url_not_public", "media[0]")]
    assert result.valid


# --- TikTok ----------------------------------------------------------------------------------


def test_tiktok_needs_a_video_and_a_privacy_level() -> None:
    result = check("tiktok", "caption")
    assert codes(result) == [
        ("media_required", "media"),
        ("option_required", "options.privacy_level"),
    ]
    ok = check("tiktok", "", media=[VIDEO], options={"privacy_level": "SELF_ONLY"})
    assert ok.valid
    wrong = check("tiktok", "", media=[VIDEO], options={"privacy_level": "public"})
    assert codes(wrong) == [("option_invalid", "options.privacy_level")]


def test_tiktok_images_need_a_photo_post() -> None:
    options = {"privacy_level": "PUBLIC_TO_EVERYONE"}
    as_video = check("tiktok", "", media=[JPEG], options=options)
    assert codes(as_video) == [("media_not_allowed", "media[0]")]
    photo = {**options, "post_type": "photo"}
    assert check("tiktok", "", media=[JPEG, JPEG], options=photo).valid
    assert codes(check("tiktok", "", media=[VIDEO], options=photo)) == [
        ("media_not_allowed", "media[0]")
    ]


# --- the plain-character networks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "limit"),
    [("facebook", 63_206), ("linkedin", 3_000), ("instagram", 2_200), ("tiktok", 2_200)],
)
def test_character_limits(network: str, limit: int) -> None:
    media = [VIDEO] if network == "tiktok" else [JPEG]
    options = {"privacy_level": "SELF_ONLY"} if network == "tiktok" else {}
    # limit code points: valid; one more: too long. Emoji count 1 per code point here, so
    # "👍" (1 code point) fills the last place the same as "a".
    at_limit = check(network, "a" * (limit - 1) + "\U0001f44d", media=media, options=options)
    assert (at_limit.length, at_limit.valid) == (limit, True)
    over = check(network, "a" * limit + "\U0001f44d", media=media, options=options)
    assert codes(over) == [("text_too_long", "text")]


def test_linkedin_multi_image_ceiling() -> None:
    assert check("linkedin", "x", media=[JPEG] * 20).valid
    assert codes(check("linkedin", "x", media=[JPEG] * 21)) == [("too_many_media", "media")]
