"""Reading a message: its language, and the valence a scorer gives it.

The built-in scorer (services/inbox/sentiment.py) always stands by. An operator may add a
model of their own, run locally, for the languages they choose:

- an ONNX sentiment model directory (INBOX_SENTIMENT_ONNX_DIR): `model.onnx`, the Hugging
  Face `tokenizer.json` beside it and `config.json` whose `id2label` names the outputs
  (positive / negative / neutral, any order, other labels ignored), run with onnxruntime;
- an OpenAI-compatible chat completions endpoint (INBOX_SENTIMENT_HTTP_URL), asked to label
  a batch of messages with one call.

Messages are read in batches (one webhook delivery or one poll at a time). A model that
fails or does not answer within INBOX_SENTIMENT_MODEL_TIMEOUT_SECONDS is left alone for
INBOX_SENTIMENT_MODEL_RETRY_SECONDS, and the built-in scorer reads meanwhile: an operator's
model being down never stops the inbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from services.inbox import sentiment
from services.inbox.language import LanguageDetector, supported
from services.inbox.settings import InboxSettings

log = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
# Old codes some networks still send (X says "iw" for Hebrew).
LEGACY_CODES = {"iw": "he", "in": "id", "ji": "yi"}


def network_language(code: str | None) -> str | None:
    """A network's language tag as an ISO 639-1 code; None for "und" and the like."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    base = LEGACY_CODES.get(base, base)
    return base if len(base) == 2 and base.isalpha() else None


@dataclass(frozen=True)
class Reading:
    """What was made of one message before the workspace's keywords are applied."""

    language: str | None
    # Valence on VADER's raw scale; None when no scorer covers the language.
    raw: float | None
    # builtin | onnx | http | none
    scorer: str


class ModelScorer(Protocol):
    name: str

    async def score(self, texts: Sequence[str]) -> list[float]:
        """A compound score in [−1, 1] per text, in order."""
        ...


def from_probabilities(probabilities: dict[str, float]) -> float:
    """positive − negative, so a confident neutral stays near zero."""
    return probabilities.get("positive", 0.0) - probabilities.get("negative", 0.0)


class OnnxScorer:
    """A local ONNX text classifier with its Hugging Face tokenizer."""

    name = "onnx"

    def __init__(self, directory: Path, *, max_length: int = 256) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        self.labels = {int(k): str(v).lower() for k, v in config["id2label"].items()}
        if not set(self.labels.values()) & {"positive", "negative"}:
            raise ValueError(f"{directory}: id2label names no positive or negative output")
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        self.session = onnxruntime.InferenceSession(
            str(directory / "model.onnx"), providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def _run(self, texts: Sequence[str]) -> list[float]:
        import numpy as np

        encoded = self.tokenizer.encode_batch(list(texts))
        feed: dict[str, Any] = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
        }
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.array([e.type_ids for e in encoded], dtype=np.int64)
        logits = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        return [
            from_probabilities({self.labels[i]: float(p) for i, p in enumerate(row)})
            for row in probabilities
        ]

    async def score(self, texts: Sequence[str]) -> list[float]:
        # Inference is CPU work: off the event loop.
        return await asyncio.to_thread(self._run, texts)


PROMPT = (
    "You label the sentiment of social media messages written to a brand. For each message "
    "of the JSON array the user sends, answer positive, negative or neutral (sarcasm counts "
    "as what it means). Answer with a JSON array of the labels only, in the same order."
)
# What a label from the endpoint counts as: the valence of a clear word on VADER's scale.
LABEL_COMPOUND = {"positive": 0.5, "neutral": 0.0, "negative": -0.5}


class HttpScorer:
    """An OpenAI-compatible chat completions endpoint the operator runs."""

    name = "http"

    def __init__(
        self, url: str, *, model: str, api_key: str = "", client: httpx.AsyncClient | None = None
    ) -> None:
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.AsyncClient()

    async def score(self, texts: Sequence[str]) -> list[float]:
        response = await self.client.post(
            self.url,
            headers=self.headers,
            json={
                "model": self.model,
                "temperature": 0,
                "messages": [
                    {"role": "system", "content": PROMPT},
                    {"role": "user", "content": json.dumps(list(texts), ensure_ascii=False)},
                ],
            },
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        labels = json.loads(content)
        if not isinstance(labels, list) or len(labels) != len(texts):
            raise ValueError(f"expected {len(texts)} labels, got {content[:200]!r}")
        return [LABEL_COMPOUND[str(label).strip().lower()] for label in labels]

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class Analyser:
    """Language and sentiment of messages: the operator's model where it covers the language
    and is up, the built-in scorer otherwise."""

    detector: LanguageDetector
    model: ModelScorer | None = None
    # Languages the model is used for; empty: every message.
    model_languages: frozenset[str] = frozenset()
    timeout: float = 5.0
    retry_after: float = 60.0
    batch: int = 32
    _down_until: float = field(default=0.0, init=False)

    def _model_covers(self, language: str | None) -> bool:
        if self.model is None or time.monotonic() < self._down_until:
            return False
        return not self.model_languages or language in self.model_languages

    async def read(self, messages: Sequence[tuple[str, str | None]]) -> list[Reading]:
        """Each (text, language the network said, if any) read, in order."""
        texts = [text for text, _ in messages]
        detected = await self.detector.detect_async(texts)
        # What the detector made out wins; the network's own tag stands in when it could not.
        languages = [
            found or network_language(hint)
            for found, (_, hint) in zip(detected, messages, strict=True)
        ]
        readings: list[Reading | None] = [None] * len(texts)
        chosen = [
            i for i, lang in enumerate(languages) if texts[i].strip() and self._model_covers(lang)
        ]
        if chosen:
            scores = await self._model_scores([texts[i] for i in chosen])
            if scores is not None:
                for i, value in zip(chosen, scores, strict=True):
                    readings[i] = Reading(
                        languages[i],
                        sentiment.to_raw(value),
                        self.model.name if self.model else "model",
                    )
        out: list[Reading] = []
        for i, reading in enumerate(readings):
            if reading is None:
                raw = sentiment.builtin_raw(texts[i], languages[i]) if texts[i].strip() else 0.0
                reading = Reading(languages[i], raw, "builtin" if raw is not None else "none")
            out.append(reading)
        return out

    async def _model_scores(self, texts: list[str]) -> list[float] | None:
        assert self.model is not None
        scores: list[float] = []
        try:
            for start in range(0, len(texts), self.batch):
                part = texts[start : start + self.batch]
                scores += await asyncio.wait_for(self.model.score(part), self.timeout)
        except Exception as exc:  # noqa: BLE001  (any failure: the built-in scorer reads)
            self._down_until = time.monotonic() + self.retry_after
            log.warning(
                "sentiment model %s failed (%s: %s); built-in scorer for %.0f s",
                self.model.name,
                type(exc).__name__,
                exc,
                self.retry_after,
            )
            return None
        return scores


def analyser_for(settings: InboxSettings) -> Analyser:
    """The analyser the settings describe; a model that cannot be loaded stops the start."""
    model: ModelScorer | None = None
    if settings.sentiment_onnx_dir:
        model = OnnxScorer(Path(settings.sentiment_onnx_dir))
    elif settings.sentiment_http_url:
        model = HttpScorer(
            settings.sentiment_http_url,
            model=settings.sentiment_http_model,
            api_key=settings.sentiment_http_api_key,
        )
    return Analyser(
        detector=LanguageDetector(
            languages=supported(settings.languages),
            min_confidence=settings.language_min_confidence,
            low_accuracy=settings.language_low_accuracy,
        ),
        model=model,
        model_languages=frozenset(settings.sentiment_model_languages),
        timeout=settings.sentiment_model_timeout_seconds,
        retry_after=settings.sentiment_model_retry_seconds,
        batch=settings.sentiment_model_batch,
    )
