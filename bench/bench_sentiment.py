"""Sentiment, measured: accuracy and macro-F1 per language on the labelled sets in
tests/data/sentiment/, for Herald's pipeline beside VADER alone, in one run.

    make eval-sentiment        (python -m bench.bench_sentiment)

Herald's pipeline is what the inbox does with a message: detect its language (lingua, the
inbox's default languages and confidence), then score it with the built-in scorer. Every
line counts, including those whose language was not made out. The baseline is VADER alone
(`compound`, its ±0.05 cut-offs), which is what the inbox had before. Both are mapped to
positive / neutral / negative the same way. A message the pipeline gives no score (language
not covered) counts as wrong.

Prints a table and writes bench/results/sentiment.json; `make bench` runs it too (its
figures land in bench/results/latest.json with the others).
"""

from __future__ import annotations

import asyncio
import json
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import ROOT, Figure
from services.inbox import sentiment
from services.inbox.language import LanguageDetector, supported
from services.inbox.settings import InboxSettings

DATA = ROOT / "tests" / "data" / "sentiment"
LABELS = ("positive", "neutral", "negative")
# The goal the built-in scorer is held to, where it is held to one.
GOALS = {"he": 0.75, "is": 0.75, "en": 0.75}


def load(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        assert label in LABELS, f"{path.name}: unknown label {label!r}"
        rows.append((label, text))
    return rows


def macro_f1(gold: list[str], predicted: list[str | None]) -> float:
    scores = []
    for label in LABELS:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0)
    return sum(scores) / len(scores)


def accuracy(gold: list[str], predicted: list[str | None]) -> float:
    return sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / len(gold)


@dataclass
class LanguageResult:
    language: str
    n: int
    counts: dict[str, int]
    herald_accuracy: float
    herald_f1: float
    vader_accuracy: float
    vader_f1: float
    # Lines whose language the detector named correctly / left unknown.
    detected: float
    undetected: float
    # gold → predicted → count, for Herald's pipeline.
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)


def evaluate(detector: LanguageDetector) -> tuple[list[LanguageResult], float]:
    """Every set in DATA; returns the results and the pipeline's mean milliseconds a line."""
    results = []
    elapsed = 0.0
    lines = 0
    for path in sorted(DATA.glob("*.tsv")):
        code = path.stem
        rows = load(path)
        gold = [label for label, _ in rows]
        herald: list[str | None] = []
        languages: list[str | None] = []
        started = time.perf_counter()
        for _, text in rows:
            language = detector.detect(text)
            languages.append(language)
            herald.append(sentiment.label(sentiment.score(text=text, language=language)))
        elapsed += time.perf_counter() - started
        lines += len(rows)
        vader = [sentiment.label(sentiment.vader_alone(text)) for _, text in rows]
        confusion: dict[str, dict[str, int]] = {g: {} for g in LABELS}
        for g, p in zip(gold, herald, strict=True):
            confusion[g][str(p)] = confusion[g].get(str(p), 0) + 1
        results.append(
            LanguageResult(
                language=code,
                n=len(rows),
                counts=dict(Counter(gold)),
                herald_accuracy=accuracy(gold, herald),
                herald_f1=macro_f1(gold, herald),
                vader_accuracy=accuracy(gold, vader),
                vader_f1=macro_f1(gold, vader),
                detected=sum(1 for lang in languages if lang == code) / len(rows),
                undetected=sum(1 for lang in languages if lang is None) / len(rows),
                confusion=confusion,
            )
        )
    return results, 1000 * elapsed / max(lines, 1)


def detector() -> LanguageDetector:
    settings = InboxSettings()
    return LanguageDetector(
        languages=supported(settings.languages),
        min_confidence=settings.language_min_confidence,
        low_accuracy=settings.language_low_accuracy,
    )


def print_table(results: list[LanguageResult], ms_per_line: float) -> None:
    header = (
        f"{'lang':<5} {'n':>4}  {'Herald acc':>10} {'Herald F1':>9}  {'VADER acc':>9} "
        f"{'VADER F1':>8}  {'lang ok':>7} {'lang ?':>6}  goal F1"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        goal = GOALS.get(r.language)
        verdict = f"≥ {goal:.2f} {'✓' if r.herald_f1 >= goal else '✗'}" if goal else "—"
        print(
            f"{r.language:<5} {r.n:>4}  {r.herald_accuracy:>10.3f} {r.herald_f1:>9.3f}  "
            f"{r.vader_accuracy:>9.3f} {r.vader_f1:>8.3f}  {r.detected:>7.0%} "
            f"{r.undetected:>6.0%}  {verdict}"
        )
    print(f"\nHerald's pipeline (detection + scoring): {ms_per_line:.2f} ms a line")


def figures(results: list[LanguageResult]) -> list[Figure]:
    return [
        Figure(
            benchmark="sentiment",
            metric=f"{r.language}: macro-F1 (pos/neu/neg), {r.n} comments",
            unit="macro-F1",
            value=round(r.herald_f1, 4),
            baseline_name="VADER alone",
            baseline=round(r.vader_f1, 4),
            goal=f"≥ {GOALS[r.language]:.2f} {'✓' if r.herald_f1 >= GOALS[r.language] else '✗'}"
            if r.language in GOALS
            else "—",
            notes=f"accuracy {r.herald_accuracy:.3f} (VADER {r.vader_accuracy:.3f})",
        )
        for r in results
    ]


def write(results: list[LanguageResult], ms_per_line: float) -> Path:
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sentiment.json"
    path.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "ms_per_line": round(ms_per_line, 3),
                "languages": [r.__dict__ for r in results],
                "figures": [f.as_dict() for f in figures(results)],
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    return path


async def run(ctx: Any) -> list[Figure]:
    """As one of `make bench`'s benchmarks (needs no services)."""
    results, ms = await asyncio.to_thread(evaluate, detector())
    write(results, ms)
    return figures(results)


def main() -> None:
    results, ms = evaluate(detector())
    print_table(results, ms)
    path = write(results, ms)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
