"""The language a message is written in, detected offline with lingua.

The detector's models ship inside the `lingua-language-detector` wheel; nothing is fetched.
It is built once per process, on first use; each language's models load the first time it
is a candidate (measured here for the default eleven languages, high accuracy: about 2 s of
loading over the first comments and 220 MB; low accuracy, INBOX_LANGUAGE_LOW_ACCURACY:
0.2 s and 20 MB). A comment then takes 0.15–0.35 ms (a busy 2-core machine). Batches are
detected in a worker thread, off the event loop that answers the webhooks.

Only the languages a process is configured for are loaded (INBOX_LANGUAGES): the built-in
scorers' languages plus a few more, so that a message in a language nothing scores is
recognised as such instead of being forced into the nearest covered one.

Short or mixed messages give no confident answer, and then the answer is None, not a guess:
"ok 👍" or "lol" could be written in any of them.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import regex

# Links, @handles and numbers say nothing about the language around them.
_NOISE = regex.compile(r"https?://\S+|www\.\S+|[@#][\w.]+|\d+", regex.UNICODE)
_LETTER = regex.compile(r"\p{L}")


def letters(text: str) -> str:
    """The text without links, handles, hashtags and numbers."""
    return _NOISE.sub(" ", text)


@dataclass
class LanguageDetector:
    """Wraps one lingua detector for `languages` (ISO 639-1 codes)."""

    languages: tuple[str, ...]
    # The best language must reach this confidence (lingua's relative confidence, 0…1) …
    min_confidence: float = 0.6
    # … and the text must hold at least this many letters, or the answer is None.
    min_letters: int = 3
    low_accuracy: bool = False
    _detector: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _build(self) -> Any:
        with self._lock:
            if self._detector is None:
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                wanted = [
                    Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                    for code in self.languages
                ]
                # Each language's models load the first time it is a candidate (detection
                # runs in a worker thread): preloading all of them costs ~50 % more memory.
                builder = LanguageDetectorBuilder.from_languages(*wanted)
                if self.low_accuracy:
                    builder = builder.with_low_accuracy_mode()
                self._detector = builder.build()
            return self._detector

    @property
    def ready(self) -> bool:
        return self._detector is not None

    def detect(self, text: str) -> str | None:
        """ISO 639-1 code of the text's language, or None when it is not clear."""
        body = letters(text)
        if len(_LETTER.findall(body)) < self.min_letters:
            return None
        values = self._build().compute_language_confidence_values(body)
        if not values or values[0].value < self.min_confidence:
            return None
        return str(values[0].language.iso_code_639_1.name.lower())

    def detect_all(self, texts: list[str]) -> list[str | None]:
        return [self.detect(t) for t in texts]

    async def detect_async(self, texts: list[str]) -> list[str | None]:
        """Detection for a batch in a worker thread (the first one also loads the models), so
        the event loop keeps answering webhooks meanwhile."""
        if not texts:
            return []
        return await asyncio.to_thread(self.detect_all, texts)


def supported(codes: list[str]) -> tuple[str, ...]:
    """The codes lingua knows, in order, without duplicates; an unknown one is an error."""
    from lingua import IsoCode639_1

    out: list[str] = []
    for code in codes:
        code = code.strip().lower()
        if not code or code in out:
            continue
        if not hasattr(IsoCode639_1, code.upper()):
            raise ValueError(f"{code!r} is not a language the detector knows")
        out.append(code)
    return tuple(out)
