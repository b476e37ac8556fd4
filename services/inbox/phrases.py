"""The phrases that recur in a crisis: what people say now far more than they usually do.

Works in any language without stop-word lists: a word like "the", "של" or "og" is as common
in the baseline as in the storm, so it is not distinctive; "refund", "החזר" or "endurgreiðsla"
suddenly in every other complaint is.
"""

from __future__ import annotations

import math
from collections import Counter

from services.inbox.language import letters
from services.inbox.lexicon import WORD, fold

# How many messages of each side are read: enough to see what recurs, bounded in cost.
WINDOW_TEXTS = 500
BASELINE_TEXTS = 1000
TOP = 8
LONGEST = 3


def _grams(text: str) -> set[str]:
    words = [w for w in (fold(w) for w in WORD.findall(letters(text))) if len(w) > 1]
    out: set[str] = set()
    for n in range(1, LONGEST + 1):
        for i in range(len(words) - n + 1):
            out.add(" ".join(words[i : i + n]))
    return out


def distinctive(window: list[str], baseline: list[str], *, top: int = TOP) -> list[str]:
    """Phrases of one to three words found in at least two window messages, ranked by how
    many carry them and how much more often than in the baseline."""
    if not window:
        return []
    in_window = Counter(g for text in window for g in _grams(text))
    in_baseline = Counter(g for text in baseline for g in _grams(text))
    n_window, n_baseline = len(window), len(baseline)
    scored: list[tuple[float, int, str]] = []
    for gram, count in in_window.items():
        if count < 2:
            continue
        lift = (count / n_window) / ((in_baseline[gram] + 1) / (n_baseline + 1))
        if lift <= 2:
            continue
        scored.append((count * math.log(lift), len(gram), gram))
    scored.sort(key=lambda s: (-s[0], -s[1]))
    chosen: list[str] = []
    for _, _, gram in scored:
        # A word already inside a chosen phrase (or a phrase around a chosen word, carried
        # by as many) adds nothing.
        if any(gram in c or (c in gram and in_window[gram] >= in_window[c]) for c in chosen):
            chosen = [c for c in chosen if not (c in gram and in_window[gram] >= in_window[c])]
            if any(gram in c for c in chosen):
                continue
        chosen.append(gram)
        if len(chosen) == top:
            break
    return chosen
