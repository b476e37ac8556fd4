"""A sentiment score per message, computed offline, in the language it is written in.

- English: VADER, with a supplement of social-media words and idioms (lexicons/en.tsv).
- Hebrew, Icelandic, Spanish, French, German, Portuguese, Arabic: the lexicon scorer
  (services/inbox/lexicon.py, data in lexicons/<code>.tsv).
- Emoji in any language: the Emoji Sentiment Ranking (lexicons/emoji.tsv).
- A message whose language was not made out (too short, mixed) is read with every lexicon
  and scored by the one that recognises most of its words.
- A message in a language no scorer covers has no score (None): unknown, not neutral.
- The workspace's own keywords come last and take precedence: their valence is added to the
  scorer's, and where the two disagree in sign, the workspace's words decide.

An operator may add a model of their own (services/inbox/scorers.py); it scores the
languages it is configured for and the built-in scorer stands in whenever it is down.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import regex
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from services.inbox import lexicon

# VADER's normalisation constant: compound = s / sqrt(s² + ALPHA).
ALPHA = lexicon.ALPHA
# The languages the built-in scorer covers.
ENGLISH = "en"


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    """VADER alone, as published: the baseline the evaluation compares with."""
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _english() -> SentimentIntensityAnalyzer:
    # Loading the lexicon takes a while; one analyzer serves the whole process. Its lexicon
    # gains the words of lexicons/en.tsv (a word VADER already knows takes our weight).
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(lexicon.load(ENGLISH).words)
    return analyzer


def builtin_languages() -> tuple[str, ...]:
    return lexicon.available()


def fold(text: str) -> str:
    """Compatibility-normalised and case-folded, so "FRÁBÆRT" finds "frábært"."""
    return unicodedata.normalize("NFKC", text).casefold()


def term_pattern(term: str) -> str:
    """A term as a whole word (or phrase); `*` at either end matches the rest of the word.

    Hebrew glues prefixes to words (ו, ה, ב, ל …) and Icelandic inflects them, so
    "*נורא" or "frábær*" catch the forms a plain word would miss.
    """
    term = fold(term.strip())
    head = term.startswith("*")
    tail = term.endswith("*") and len(term) > 1
    core = regex.escape(term.strip("*"))
    return (
        (r"\w*" if head else r"(?<!\w)")
        + core
        + (r"\w*" if tail else r"(?!\w)")
    )


@dataclass(frozen=True)
class Keywords:
    """A workspace's keyword list, compiled once per version of it."""

    weights: tuple[tuple[str, float], ...]
    pattern: regex.Pattern[str] | None

    @classmethod
    def of(cls, terms: Mapping[str, float]) -> Keywords:
        return _compiled(tuple(sorted(terms.items())))

    def valence(self, text: str) -> float:
        if self.pattern is None:
            return 0.0
        total = 0.0
        for match in self.pattern.finditer(fold(text)):
            total += self.weights[int(match.lastgroup[1:])][1]  # type: ignore[index]
        return total


NO_KEYWORDS = Keywords((), None)


@lru_cache(maxsize=256)
def _compiled(items: tuple[tuple[str, float], ...]) -> Keywords:
    if not items:
        return NO_KEYWORDS
    # Longest first, so a phrase wins over a word inside it.
    ordered = tuple(sorted(items, key=lambda kv: -len(kv[0])))
    alternatives = "|".join(f"(?P<k{i}>{term_pattern(t)})" for i, (t, _) in enumerate(ordered))
    return Keywords(ordered, regex.compile(alternatives))


def to_raw(compound: float) -> float:
    """A compound score back on VADER's raw scale, where valences add up."""
    c = max(-0.9999, min(0.9999, compound))
    return c * math.sqrt(ALPHA) / math.sqrt(1 - c * c)


def normalised(raw: float) -> float:
    if not raw:
        return 0.0
    return round(raw / math.sqrt(raw * raw + ALPHA), 4)


_EMOJI_PICTOGRAPHS = regex.compile(r"[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F\u200D]")


def _english_raw(text: str) -> tuple[float, int]:
    # Emoji are scored from the ranking, not from VADER's descriptions of them.
    words = _EMOJI_PICTOGRAPHS.sub(" ", text)
    compound = float(_english().polarity_scores(words)["compound"]) if words.strip() else 0.0
    raw = to_raw(compound) if compound else 0.0
    raw += lexicon.score_text(_english_phrases(), words).raw
    return raw, int(bool(compound))


@lru_cache(maxsize=1)
def _english_phrases() -> lexicon.Lexicon:
    """The idioms of lexicons/en.tsv ("thanks for nothing"), which VADER's word lexicon cannot
    hold; its single words are in VADER's lexicon already (_english)."""
    return lexicon.Lexicon(language=ENGLISH, phrases=lexicon.load(ENGLISH).phrases)


def _language_raw(text: str, language: str) -> tuple[float, int]:
    if language == ENGLISH:
        return _english_raw(text)
    result = lexicon.score_text(lexicon.load(language), text)
    return result.raw, result.matched


def builtin_raw(text: str, language: str | None) -> float | None:
    """The built-in scorer's raw valence; None when it does not cover `language`."""
    emoji, _ = lexicon.emoji_valence(text)
    if language is None:
        # Not made out: the lexicon that recognises most words reads it.
        best = (0.0, 0)
        for code in builtin_languages():
            raw, matched = _language_raw(text, code)
            if matched > best[1] or (matched == best[1] and abs(raw) > abs(best[0])):
                best = (raw, matched)
        return best[0] + emoji
    if language not in builtin_languages():
        return None
    return _language_raw(text, language)[0] + emoji


def combine(raw: float | None, *, text: str, keywords: Keywords) -> float | None:
    """The scorer's raw valence with the workspace's keywords, normalised to [−1, 1]."""
    own = keywords.valence(text)
    if not own:
        return None if raw is None else normalised(raw)
    total = own + (raw or 0.0)
    if math.copysign(1, total) != math.copysign(1, own):
        # The workspace's own words are not outvoted.
        total = own
    return normalised(total)


def score(
    *, text: str, keywords: Keywords = NO_KEYWORDS, language: str | None = None
) -> float | None:
    """Compound score in [-1, 1] with the built-in scorer; 0 when nothing in the text carries
    a feeling, None when `language` is one no built-in scorer covers (and no keyword hit)."""
    if not text.strip():
        return 0.0
    return combine(builtin_raw(text, language), text=text, keywords=keywords)


def vader_alone(text: str) -> float:
    """VADER as published, whatever the language: the baseline."""
    return float(_analyzer().polarity_scores(text)["compound"])


def label(value: float | None) -> str | None:
    # VADER's own recommended cut-offs; no score, no label.
    if value is None:
        return None
    if value >= 0.05:
        return "positive"
    if value <= -0.05:
        return "negative"
    return "neutral"


PRIORITIES = ("low", "normal", "high", "urgent")
# Sentiment alone makes a message high priority at or below the first score, urgent at or
# below the second.
PRIORITY_HIGH_BELOW = -0.5
PRIORITY_URGENT_BELOW = -0.8


def priority_for(value: float | None, *, high_below: float, urgent_below: float) -> str:
    """The priority sentiment alone gives a message (rules may raise it further)."""
    if value is None or value > high_below:
        return "normal"
    return "urgent" if value <= urgent_below else "high"


def higher(a: str | None, b: str | None) -> str:
    rank = {p: i for i, p in enumerate(PRIORITIES)}
    return max((p for p in (a, b) if p in rank), key=rank.__getitem__, default="normal")
