"""A sentiment score per message, computed offline.

VADER covers English words and emoji (it maps emoji to their descriptions). Every other
language comes from the workspace's own keyword list: each term carries a weight on VADER's
scale (−4 … 4) and is added to VADER's raw valence before the score is normalised, so a
Hebrew "נורא" and an English "awful" in one message count together.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import regex
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's normalisation constant: compound = s / sqrt(s² + ALPHA).
ALPHA = 15.0


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    # Loading the lexicon takes a while; one analyzer serves the whole process.
    return SentimentIntensityAnalyzer()


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


# Emoji whose VADER description carries no feeling ("pouting face", "thumbs down" …) but
# whose meaning in a comment is not in doubt; weights on VADER's scale.
EMOJI: dict[str, float] = {
    "😡": -3.0, "🤬": -3.5, "👎": -2.0, "💩": -2.0, "😤": -1.5, "🤮": -2.5, "😒": -1.5,
    "🙄": -1.5, "👍": 1.5, "🙏": 1.5, "💯": 1.5, "🥰": 3.0, "👏": 2.0,
}


def _emoji_valence(text: str) -> float:
    return sum(EMOJI.get(ch, 0.0) for ch in text)


def score(*, text: str, keywords: Keywords = NO_KEYWORDS) -> float:
    """Compound score in [-1, 1]; 0 when nothing in the text carries a feeling."""
    if not text.strip():
        return 0.0
    compound = float(_analyzer().polarity_scores(text)["compound"])
    extra = keywords.valence(text) + _emoji_valence(text)
    if not extra:
        return compound
    # Back to VADER's raw valence, add the workspace's words, normalise again.
    c = max(-0.9999, min(0.9999, compound))
    raw = c * math.sqrt(ALPHA) / math.sqrt(1 - c * c)
    total = raw + extra
    return round(total / math.sqrt(total * total + ALPHA), 4)


def label(value: float | None) -> str:
    # VADER's own recommended cut-offs.
    if value is None:
        return "neutral"
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
