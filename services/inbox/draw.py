"""The verifiable draw: a committed secret seed, a canonical entry list, a deterministic pick.

Standard library only and kept small on purpose: `tools/verify_contest.py` restates the same
steps on its own (no import from here), and docs/contests.md spells them out, so anyone can
recompute a contest's winners from its revealed seed and its entry list.

1. The seed is 64 lowercase hex characters; the commitment is SHA-256 of those characters
   (as ASCII), in hex: `printf %s "$SEED" | sha256sum`.
2. Each qualifying entry is the line `network<TAB>comment_id<TAB>author_id`; the lines are
   sorted by code point and joined with `\\n`; the entries digest is their SHA-256 in hex.
3. Random numbers: block i is HMAC-SHA256(key=seed as ASCII, message="<digest>:<i>"), i = 0,
   1, 2 …; its first 8 bytes, big-endian, are a 64-bit number r. For a choice among n, r is
   used when r < 2^64 − (2^64 mod n) (otherwise the next block is taken) and the choice is
   r mod n, so every choice is exactly uniform.
4. Picking: a partial Fisher–Yates shuffle of the sorted list. For k = 0, 1 … (winners +
   reserves − 1, or fewer when there are fewer entries): j = k + choice among (count − k);
   swap positions k and j; the entry now at k is the pick. The first `winners` picks win,
   the rest are the reserves in order.

Mixing the entry list into every block means the seed (fixed and committed before any entry
was known) cannot be matched to the entries afterwards, and any change to the list changes
every pick.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SEED_BYTES = 32


def new_seed() -> str:
    return secrets.token_hex(SEED_BYTES)


def commitment(seed: str) -> str:
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def entry_line(*, network: str, comment_id: str, author_id: str) -> str:
    # Network ids never hold tabs or newlines; one that did would make the list ambiguous.
    for value in (network, comment_id, author_id):
        if "\t" in value or "\n" in value:
            raise ValueError(f"an entry field holds a tab or a newline: {value!r}")
    return f"{network}\t{comment_id}\t{author_id}"


def entries_digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


def pick(*, seed: str, lines: list[str], count: int) -> list[str]:
    """The first `count` entries of the seeded shuffle (all of them when there are fewer)."""
    ordered = sorted(lines)
    digest = entries_digest(ordered)
    key = seed.encode("ascii")
    counter = 0

    def choice(n: int) -> int:
        nonlocal counter
        limit = 2**64 - (2**64 % n)
        while True:
            block = hmac.new(key, f"{digest}:{counter}".encode("ascii"), hashlib.sha256)
            counter += 1
            r = int.from_bytes(block.digest()[:8], "big")
            if r < limit:
                return r % n

    picks: list[str] = []
    for k in range(min(count, len(ordered))):
        j = k + choice(len(ordered) - k)
        ordered[k], ordered[j] = ordered[j], ordered[k]
        picks.append(ordered[k])
    return picks
