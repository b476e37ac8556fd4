"""The counters against hand-counted texts. Every expectation is worked out in the comment
next to it, never by calling the function under test."""

import pytest

from shared.networks import (
    extract_hashtags,
    extract_mentions,
    extract_urls,
    grapheme_count,
    is_emoji,
    mastodon_length,
    threads_length,
    utf8_length,
    utf8_offsets,
    x_weighted_length,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦, 7 code points
THUMBS_MEDIUM = "\U0001f44d\U0001f3fd"  # 👍🏽, base + skin tone
FLAG_IS = "\U0001f1ee\U0001f1f8"  # 🇮🇸, two regional indicators
KEYCAP_ONE = "1\ufe0f\u20e3"  # 1️⃣
SHALOM_POINTED = "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd"  # שָׁלוֹם, 7 code points


# --- X ---------------------------------------------------------------------------------------


def test_x_ascii_counts_one_each() -> None:
    # 12 ASCII code points x 1
    assert x_weighted_length("Hello, world") == 12


def test_x_url_with_scheme_counts_23_however_long() -> None:
    text = "Read https://example.com/a/very/long/path/that/goes/on?and=on#more now"
    # "Read " 5 + URL 23 + " now" 4 = 32
    assert x_weighted_length(text) == 32


def test_x_bare_domain_with_known_tld_is_a_url() -> None:
    # "see " 4 + 23 = 27
    assert x_weighted_length("see example.com") == 27
    # "www.foo.io" has two labels, so it counts although .io is a country code: 23
    assert x_weighted_length("www.foo.io") == 23


def test_x_single_label_country_code_domain_is_not_a_url_without_path() -> None:
    # "file.py" reads as a file name: 7 code points x 1 = 7
    assert x_weighted_length("file.py") == 7
    # with a path it is a link: 23
    assert x_weighted_length("example.io/docs") == 23
    # t.co is the special case: 23
    assert x_weighted_length("t.co") == 23


def test_x_several_urls() -> None:
    text = "a https://x.org b example.com c"
    # "a " 2 + 23 + " b " 3 + 23 + " c" 2 = 53
    assert x_weighted_length(text) == 53


def test_x_trailing_punctuation_is_not_part_of_the_url() -> None:
    # "(see " 5 + 23 + ")." 2 = 30; had ")." been swallowed it would be 28
    assert x_weighted_length("(see example.com/a).") == 30


def test_x_email_is_not_a_url() -> None:
    # 15 ASCII code points x 1 = 15
    assert x_weighted_length("bob@example.com") == 15


def test_x_emoji_sequences_count_two_as_a_whole() -> None:
    # family: 7 code points, one emoji = 2 (weighing each code point would give 14)
    assert x_weighted_length(FAMILY) == 2
    # thumbs up + skin tone: 2
    assert x_weighted_length(THUMBS_MEDIUM) == 2
    # flag: 2
    assert x_weighted_length(FLAG_IS) == 2
    # keycap "1" FE0F 20E3: 2 (per code point it would be 1 + 2 + 2 = 5)
    assert x_weighted_length(KEYCAP_ONE) == 2
    # mixed: "ok " 3 + 2 + " " 1 + 2 + " " 1 + 2 = 11
    assert x_weighted_length(f"ok {FAMILY} {THUMBS_MEDIUM} {FLAG_IS}") == 11


def test_x_text_presentation_symbol_is_not_an_emoji() -> None:
    # "©" U+00A9 is in 0-4351: 1; "©" + FE0F asks for emoji presentation: 2
    assert x_weighted_length("\u00a9") == 1
    assert x_weighted_length("\u00a9\ufe0f") == 2


def test_x_hebrew_with_niqqud_weighs_one_per_code_point() -> None:
    # ש ָ ׁ ל ו ֹ ם: 7 code points, all in 0-4351 (Hebrew block 0590-05FF), NFC keeps all 7
    # (shin with shin dot is a composition exclusion) = 7
    assert x_weighted_length(SHALOM_POINTED) == 7
    # "שלום עולם": 4 + 1 + 4 = 9
    assert x_weighted_length("שלום עולם") == 9


def test_x_icelandic_weighs_one() -> None:
    # þ ð æ ö Þ ó are Latin-1 (< 256): "Þórsmörk þð æö" = 8 + 1 + 2 + 1 + 2 = 14
    assert x_weighted_length("Þórsmörk þð æö") == 14


def test_x_cjk_weighs_two() -> None:
    # 日本語 are U+65E5 U+672C U+8A9E, outside every light range: 3 x 2 = 6
    assert x_weighted_length("日本語") == 6
    # "Hi 日本" = 3 x 1 + 2 x 2 = 7
    assert x_weighted_length("Hi 日本") == 7


def test_x_normalises_to_nfc_before_counting() -> None:
    # "Cafe" + U+0301 composes to "Café": 4 code points x 1 = 4 (5 without NFC)
    assert x_weighted_length("Cafe\u0301") == 4


def test_x_combining_marks_and_latin_extended_additional() -> None:
    # "x" + U+0301 has no precomposed form: 1 + 1 = 2
    assert x_weighted_length("x\u0301") == 2
    # "Việt": V 1, i 1, ệ U+1EC7 (7879, outside 0-4351) 2, t 1 = 5
    assert x_weighted_length("Vie\u0323\u0302t") == 5


def test_x_general_punctuation_ranges() -> None:
    # U+2014 em dash (8212, in 8208-8223): 1; U+2026 ellipsis (8230, outside): 2;
    # U+2032 prime (8242, in 8242-8247): 1 -> 1 + 2 + 1 = 4
    assert x_weighted_length("\u2014\u2026\u2032") == 4


# --- graphemes and bytes -----------------------------------------------------------------


def test_grapheme_count() -> None:
    # one cluster each: family, skin-toned thumb, flag, keycap, e + combining acute
    for cluster in (FAMILY, THUMBS_MEDIUM, FLAG_IS, KEYCAP_ONE, "e\u0301"):
        assert grapheme_count(cluster) == 1
    # שָׁ | ל | וֹ | ם = 4 clusters
    assert grapheme_count(SHALOM_POINTED) == 4
    # "Z" with three stacked marks: 1 cluster
    assert grapheme_count("Z\u0335\u0321\u0327") == 1


def test_utf8_length() -> None:
    # Þ 2, ó 2, r 1, s 1, m 1, ö 2, r 1, k 1 = 11
    assert utf8_length("Þórsmörk") == 11
    # 4 Hebrew letters x 2 = 8
    assert utf8_length("שלום") == 8
    # 4 emoji x 4 + 3 ZWJ x 3 = 25
    assert utf8_length(FAMILY) == 25
    # 日本語: 3 x 3 = 9
    assert utf8_length("日本語") == 9


def test_utf8_offsets_for_facets() -> None:
    # "ð " is 2 + 1 = 3 bytes before "#tag" (4 bytes): (3, 7)
    assert utf8_offsets("ð #tag", start=2, end=6) == (3, 7)


def test_is_emoji() -> None:
    assert is_emoji(FAMILY)
    assert is_emoji(KEYCAP_ONE)
    assert is_emoji(FLAG_IS)
    assert not is_emoji("a")
    assert not is_emoji("1")
    assert not is_emoji("\u00a9")


# --- Mastodon ------------------------------------------------------------------------------


def test_mastodon_remote_mention_counts_without_domain() -> None:
    # "Hi " 3 + "@alice" 6 = 9
    assert mastodon_length("Hi @alice@mastodon.social") == 9


def test_mastodon_url_reserves_23() -> None:
    url = "https://example.com/" + "a" * 100
    # "see " 4 + 23 = 27
    assert mastodon_length(f"see {url}") == 27
    # a bare domain is not linked by Mastodon, so it counts as typed: 11
    assert mastodon_length("example.com") == 11
    # an instance with another reservation: 4 + 30 = 34
    assert mastodon_length(f"see {url}", url_length=30) == 34


def test_mastodon_spoiler_text_counts_too() -> None:
    # text "abc" 3 + spoiler "CW: food" 8 = 11
    assert mastodon_length("abc", spoiler_text="CW: food") == 11


def test_mastodon_counts_graphemes() -> None:
    # the family emoji is one grapheme: "hi " 3 + 1 = 4
    assert mastodon_length(f"hi {FAMILY}") == 4


def test_mastodon_url_path_with_at_is_not_a_mention() -> None:
    # the whole link is one URL: 23
    assert mastodon_length("https://mastodon.social/@alice@example.org") == 23


# --- Threads ------------------------------------------------------------------------------


def test_threads_emoji_count_their_utf8_bytes() -> None:
    # "Hi " 3 + 👋 (U+1F44B, 4 bytes) 4 = 7
    assert threads_length("Hi \U0001f44b") == 7
    # 👍🏽: 4 + 4 = 8
    assert threads_length(THUMBS_MEDIUM) == 8
    # family: 25 bytes
    assert threads_length(FAMILY) == 25
    # keycap "1" FE0F 20E3: 1 + 3 + 3 = 7
    assert threads_length(KEYCAP_ONE) == 7


def test_threads_other_characters_count_one() -> None:
    # 日 1 + 本 1 + é 1 + space 1 + שלום 4 = 8
    assert threads_length("日本é שלום") == 8


# --- entities ------------------------------------------------------------------------------


def test_hashtags_are_unicode_aware() -> None:
    text = "#שלום #Þórsmörk #2024 #a_b foo#bar #日本語 #tag# &#x"
    # "#2024" has no letter, "foo#bar" is inside a word, "#tag#" is followed by "#", "&#x" is
    # an HTML entity: none of those are hashtags
    assert [tag.value for tag in extract_hashtags(text)] == ["שלום", "Þórsmörk", "a_b", "日本語"]


def test_hashtag_keeps_niqqud() -> None:
    assert [tag.value for tag in extract_hashtags(f"#{SHALOM_POINTED}!")] == [SHALOM_POINTED]


def test_keycap_is_not_a_hashtag() -> None:
    assert [tag.value for tag in extract_hashtags("#\ufe0f\u20e3 #ok")] == ["ok"]


def test_mentions() -> None:
    text = "@alice @bob@mastodon.social bob@example.com @alice.bsky.social @john.doe."
    assert [mention.value for mention in extract_mentions(text)] == [
        "alice",
        "bob@mastodon.social",
        "alice.bsky.social",
        "john.doe",
    ]


def test_url_extraction_spans() -> None:
    text = "go to example.community, or https://ünicode.de/pfad!"
    urls = extract_urls(text)
    assert [url.text for url in urls] == ["example.community", "https://ünicode.de/pfad"]
    # "go to " is 6 code points, "example.community" 17
    assert (urls[0].start, urls[0].end) == (6, 23)


@pytest.mark.parametrize("text", ["node.js", "v1.5", "e.g. this", "localhost:8000"])
def test_not_urls(text: str) -> None:
    assert extract_urls(text) == []
