"""The language of every message, and sentiment in the language it is written in."""

from __future__ import annotations

from typing import Any

import pytest

from services.inbox import lexicon
from services.inbox.language import LanguageDetector
from services.inbox.scorers import Analyser, network_language
from services.inbox.sentiment import label, score, vader_alone
from tests.conftest import identity
from tests.inbox.conftest import Inbox
from tests.inbox.test_handling import of_type
from tests.inbox.test_rules_sentiment import by_text, post
from tests.inbox.test_x_webhooks import ACCOUNT

LANGUAGES = ("en", "he", "is", "es", "fr", "de", "pt", "ar", "it", "nl", "ru")


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(languages=LANGUAGES)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Thanks a lot, the new app is great", "en"),
        ("השירות שלכם מצוין, תודה", "he"),
        ("Takk fyrir frábæra þjónustu", "is"),
        ("El pedido llegó tarde otra vez", "es"),
        ("Il servizio è pessimo, non lo consiglio", "it"),
        ("الخدمة سيئة جدا", "ar"),
        # Too short, nothing but emoji or handles, or three languages at once: not a guess.
        ("ok", None),
        ("lol 😂", None),
        ("👍👍", None),
        ("@brand https://example.com/a 123", None),
        ("Great product. מוצר מעולה. Frábær vara.", None),
    ],
)
def test_languages_are_told_apart_and_unclear_ones_left_null(
    detector: LanguageDetector, text: str, language: str | None
) -> None:
    assert detector.detect(text) == language


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # Hebrew: prefixes glued to the word (ו כש ה), final letters, number and gender.
        ("וכשהשירות גרוע", "he", "negative"),
        ("המוצרים הגרועים", "he", "negative"),
        ("הצוות המקסים", "he", "positive"),
        ("לא טוב", "he", "negative"),
        ("לא רע בכלל", "he", "positive"),
        # Icelandic: case endings of the same adjective.
        ("frábærum", "is", "positive"),
        ("ömurlegra", "is", "negative"),
        ("ekki gott", "is", "negative"),
        # Arabic: article and conjunction glued on, tashkeel written out.
        ("والخدمة سيئة", "ar", "negative"),
        ("رائِعَة", "ar", "positive"),
        # Romance and German: stems, accents dropped as they often are in comments.
        ("pesimo servicio", "es", "negative"),
        ("unas fotos preciosas", "es", "positive"),
        ("très déçue", "fr", "negative"),
        ("nicht gut", "de", "negative"),
        ("adorei", "pt", "positive"),
    ],
)
def test_each_language_is_read_with_its_own_morphology(
    text: str, language: str, expected: str
) -> None:
    assert label(score(text=text, language=language)) == expected
    # VADER alone, as before, found nothing to say.
    assert label(vader_alone(text)) == "neutral"


def test_boosters_and_but_steer_the_words() -> None:
    good = score(text="טוב", language="he")
    assert good is not None
    assert score(text="ממש טוב", language="he") > good  # type: ignore[operator]
    # What follows "but" weighs more than what came before.
    assert label(score(text="המוצר טוב אבל השירות גרוע", language="he")) == "negative"
    assert label(score(text="þjónustan var léleg en varan er frábær", language="is")) == (
        "positive"
    )


def test_a_language_nothing_covers_has_no_sentiment() -> None:
    assert score(text="Il servizio è pessimo", language="it") is None
    # Not made out (too short, mixed): read with every lexicon.
    assert label(score(text="נורא", language=None)) == "negative"
    assert label(score(text="😡", language=None)) == "negative"


def test_every_lexicon_names_its_source_and_licence() -> None:
    for code in lexicon.available():
        loaded = lexicon.load(code)
        assert loaded.source and loaded.licence, code
        if code != "en":  # English is VADER's lexicon and a supplement
            assert len(loaded.words) + len(loaded.phrases) >= 130, code
    assert len(lexicon.emoji()) >= 150


async def _items(inbox: Inbox, **params: Any) -> list[str]:
    return [i["id"] for i in (await inbox.conversations(**params))["items"]]


async def test_language_is_stored_filterable_and_unknown_stays_unknown(inbox: Inbox) -> None:
    seen = await inbox.spy()
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    texts = {
        "he": "המשלוח הגיע שבור, מאוד מאוכזבת",
        "is": "Takk fyrir frábæra þjónustu í gær",
        "it": "Il servizio clienti è pessimo, non rispondono mai",
        None: "👍",
    }
    for n, text in enumerate(texts.values()):
        await post(inbox, f"18000000000000007{n:02d}", text)
    got = await by_text(inbox, len(texts))

    hebrew = got[texts["he"]]
    assert hebrew["language"] == "he" and hebrew["sentiment"] == "negative"
    assert hebrew["messages"][0]["language"] == "he"
    assert hebrew["messages"][0]["sentiment"] == "negative"
    assert hebrew["messages"][0]["sentiment_score"] < 0
    assert got[texts["is"]]["sentiment"] == "positive"
    italian = got[texts["it"]]
    # Known language, no scorer for it: null, not a made-up neutral.
    assert italian["language"] == "it"
    assert italian["sentiment"] is None and italian["sentiment_score"] is None
    assert italian["messages"][0]["sentiment"] is None
    emoji = got[texts[None]]
    assert emoji["language"] is None and emoji["sentiment"] == "positive"

    assert await _items(inbox, language="he") == [hebrew["id"]]
    assert await _items(inbox, language="it") == [italian["id"]]
    assert await _items(inbox, language="unknown") == [emoji["id"]]
    assert await _items(inbox, sentiment="unknown") == [italian["id"]]
    assert italian["id"] not in await _items(inbox, sentiment="neutral")
    r = await inbox.client.get(
        "/v1/conversations", params={"language": "he; drop"}, headers=identity(inbox.workspace_id)
    )
    assert r.status_code == 422 and "language" in r.text

    received = await inbox.wait_for(
        lambda: (lambda e: e if len(e) == len(texts) else None)(of_type(seen, "message.received"))
    )
    by_language = {e.data["language"]: e.data["sentiment"] for e in received}
    assert by_language["it"] is None and by_language["he"] < 0


async def test_a_networks_language_tag_stands_in_when_detection_cannot_tell(
    detector: LanguageDetector,
) -> None:
    assert network_language("iw") == "he"  # X's old code for Hebrew
    assert network_language("pt-BR") == "pt"
    assert network_language("und") is None and network_language(None) is None
    analyser = Analyser(detector=detector)
    short, clear = await analyser.read([("ok", "iw"), ("Takk fyrir frábæra þjónustu", "en")])
    assert short.language == "he"
    assert clear.language == "is"  # what the text says wins over the tag
