"""`options.format` (feed, story, reel) and the options only a reel takes, checked per network
against each format's own rules: what a format cannot carry is refused with the reason."""

from shared.networks.validate import MediaRef, validate_variant

REEL_VIDEO = MediaRef(
    kind="video", url="https://cdn.example.com/reel.mp4", width=1080, height=1920, duration_s=30
)
IMAGE = MediaRef(kind="image", url="https://cdn.example.com/story.jpg", mime="image/jpeg")


def problems(network: str, *, text: str = "", media=(REEL_VIDEO,), **options):
    check = validate_variant(network, text=text, media=list(media), options=options)
    return [(p.code, p.field, p.message) for p in check.problems]


def test_a_reel_with_its_options_passes_on_instagram():
    assert (
        problems("instagram", text="Launch", format="reel", share_to_feed=False, thumb_offset=1500)
        == []
    )
    assert problems("instagram", format="reel", cover_url="https://cdn.example.com/cover.jpg") == []
    assert problems("facebook", text="Launch", format="reel") == []


def test_a_story_refuses_text_it_would_never_show():
    [(code, field, message)] = problems("instagram", text="Read me", media=(IMAGE,), format="story")
    assert (code, field) == ("option_not_supported", "text")
    assert "shows no text" in message
    assert problems("instagram", media=(IMAGE,), format="story") == []
    assert problems("instagram", media=(REEL_VIDEO,), format="story") == []


def test_a_story_takes_one_item_and_no_first_comment():
    found = problems("instagram", media=(IMAGE, IMAGE), format="story", first_comment="First!")
    assert [(c, f) for c, f, _ in found] == [
        ("too_many_media", "media"),
        ("option_not_supported", "options.first_comment"),
    ]


def test_a_story_video_longer_than_a_minute_is_refused_with_its_measure():
    long = MediaRef(kind="video", url=REEL_VIDEO.url, width=1080, height=1920, duration_s=75)
    [(code, field, message)] = problems("instagram", media=(long,), format="story")
    assert (code, field) == ("media_shape_not_supported", "media[0]")
    assert message == (
        "Instagram Story videos need between 3 s and 60 s; this video is 9:16, 75 s."
    )


def test_a_reel_is_one_vertical_video_of_3_to_90_seconds():
    assert [(c, f) for c, f, _ in problems("facebook", media=(IMAGE,), format="reel")] == [
        ("media_kind_not_supported", "media[0]")
    ]
    wide = MediaRef(kind="video", url=REEL_VIDEO.url, width=1920, height=1080, duration_s=30)
    [(code, _, message)] = problems("facebook", media=(wide,), format="reel")
    assert code == "media_shape_not_supported"
    assert message == "Facebook Reels need 9:16 between 3 s and 90 s; this video is 16:9, 30 s."
    [(code, _, message)] = problems("instagram", media=(wide,), format="reel")
    assert message.startswith("Instagram Reels need 9:16")


def test_reel_options_are_checked_and_not_both_covers():
    found = problems(
        "instagram",
        format="reel",
        share_to_feed="yes",
        thumb_offset=-1,
        cover_url="http://cdn.example.com/cover.jpg",
    )
    assert [(c, f) for c, f, _ in found] == [
        ("option_invalid", "options.share_to_feed"),
        ("option_invalid", "options.cover_url"),
        ("option_invalid", "options.thumb_offset"),
        ("option_invalid", "options.thumb_offset"),
    ]


def test_options_a_format_or_network_cannot_carry_are_refused():
    assert [(c, f) for c, f, _ in problems("instagram", format="feed", share_to_feed=True)] == [
        ("option_not_supported", "options.share_to_feed")
    ]
    # Facebook reels have no feed switch and no cover option in Herald's calls.
    assert [
        (c, f) for c, f, _ in problems("facebook", format="reel", cover_url="https://a/b.jpg")
    ] == [("option_not_supported", "options.cover_url")]
    assert [(c, f) for c, f, _ in problems("facebook", format="story")] == [
        ("option_invalid", "options.format")
    ]
    assert [(c, f) for c, f, _ in problems("x", text="hi", media=(), thumb_offset=10)] == [
        ("option_not_supported", "options.thumb_offset")
    ]
