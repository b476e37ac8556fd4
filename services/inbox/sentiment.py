"""A sentiment score per message, computed offline.

VADER covers English words and emoji (it maps emoji to their descriptions); it knows nothing
of other languages, which per-workspace keyword lists are meant to cover later.
"""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    # Loading the lexicon takes a while; one analyzer serves the whole process.
    return SentimentIntensityAnalyzer()


def score(*, text: str) -> float:
    """Compound score in [-1, 1]; 0 when nothing in the text carries a feeling."""
    if not text.strip():
        return 0.0
    return float(_analyzer().polarity_scores(text)["compound"])


def label(value: float | None) -> str:
    # VADER's own recommended cut-offs.
    if value is None:
        return "neutral"
    if value >= 0.05:
        return "positive"
    if value <= -0.05:
        return "negative"
    return "neutral"
