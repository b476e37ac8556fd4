"""The draw itself: deterministic from the seed and the entry list, uniform, and the same in
the service and in the standalone verifier (two implementations written apart)."""

from __future__ import annotations

import hashlib
import importlib.util
import random
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from services.inbox import draw

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify_contest.py"


def verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_contest", VERIFIER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lines(n: int, rng: random.Random) -> list[str]:
    return [
        draw.entry_line(
            network=rng.choice(["facebook", "instagram", "x"]),
            comment_id=str(rng.getrandbits(60)),
            author_id=str(rng.getrandbits(50)),
        )
        for _ in range(n)
    ]


def test_commitment_is_the_sha256_of_the_seed_text() -> None:
    seed = draw.new_seed()
    assert len(seed) == 64 and int(seed, 16) >= 0
    assert draw.commitment(seed) == hashlib.sha256(seed.encode()).hexdigest()
    assert draw.new_seed() != seed


def test_the_verifier_recomputes_the_same_picks() -> None:
    script = verifier()
    rng = random.Random(20261204)
    for size in (0, 1, 2, 3, 10, 257):
        entries = lines(size, rng)
        seed = draw.new_seed()
        picks = draw.pick(seed=seed, lines=entries, count=5)
        digest, theirs = script.draw(seed, list(entries), 5)
        assert theirs == picks
        assert digest == draw.entries_digest(entries)
        assert len(picks) == min(5, size) and len(set(picks)) == len(picks)
        assert set(picks) <= set(entries)


def test_the_picks_depend_on_the_seed_and_the_list_not_its_order() -> None:
    rng = random.Random(7)
    entries = lines(50, rng)
    seed = draw.new_seed()
    picks = draw.pick(seed=seed, lines=entries, count=10)
    shuffled = entries[:]
    rng.shuffle(shuffled)
    assert draw.pick(seed=seed, lines=shuffled, count=10) == picks
    assert draw.pick(seed=draw.new_seed(), lines=entries, count=10) != picks
    # One entry more changes every block of the generator, so the picks too.
    assert draw.pick(seed=seed, lines=[*entries, "x\t1\t2"], count=10) != picks


def test_every_entry_is_equally_likely_to_win() -> None:
    entries = [
        draw.entry_line(network="facebook", comment_id=str(i), author_id=str(i)) for i in range(5)
    ]
    rounds = 5000
    wins = Counter(draw.pick(seed=f"{i:064x}", lines=entries, count=1)[0] for i in range(rounds))
    assert set(wins) == set(entries)
    # Each should win a fifth of the time: 1000 ± 4 standard deviations (√(5000·0.2·0.8)≈28).
    assert all(abs(count - rounds / 5) < 115 for count in wins.values()), wins


def test_an_entry_field_with_a_tab_is_refused() -> None:
    with pytest.raises(ValueError, match="tab"):
        draw.entry_line(network="x", comment_id="1\t2", author_id="3")
