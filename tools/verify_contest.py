#!/usr/bin/env python3
"""Recompute a Herald contest's draw from its revealed seed and its entry list.

Standard library only, Python 3.8+, independent of Herald's code: copy this one file anywhere.

    python3 verify_contest.py --contest contest.json --entries entries.csv

`contest.json` is what `GET /v1/contests/{id}` answered after the draw (it holds the
commitment, the revealed seed, the numbers of winners and reserves and the published picks);
`entries.csv` is `GET /v1/contests/{id}/entries` with `Accept: text/csv` (the JSON answer
works too). Without the contest file, give `--seed`, `--commitment`, `--winners` and
`--reserves` instead. The procedure is written out in docs/contests.md.

Exit status 0 when the seed matches the commitment and the recomputed winners and reserves
are the published ones; 1 otherwise.
"""

import argparse
import csv
import hashlib
import hmac
import json
import sys


def commitment_of(seed):
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def qualifying_lines(path):
    """`network<TAB>comment_id<TAB>author_id` of every entry marked as qualifying."""
    with open(path, encoding="utf-8", newline="") as f:
        if path.endswith(".json"):
            rows = json.load(f)["items"]
            return [
                "\t".join((r["network"], r["comment_id"], r["author_id"]))
                for r in rows
                if r["qualifies"]
            ]
        return [
            "\t".join((r["network"], r["comment_id"], r["author_id"]))
            for r in csv.DictReader(f)
            if r["qualifies"] == "yes"
        ]


def draw(seed, lines, count):
    ordered = sorted(lines)
    digest = hashlib.sha256("\n".join(ordered).encode("utf-8")).hexdigest()
    key = seed.encode("ascii")
    counter = 0
    picks = []
    for k in range(min(count, len(ordered))):
        n = len(ordered) - k
        limit = 2**64 - (2**64 % n)
        while True:
            block = hmac.new(key, f"{digest}:{counter}".encode("ascii"), hashlib.sha256)
            counter += 1
            r = int.from_bytes(block.digest()[:8], "big")
            if r < limit:
                break
        j = k + r % n
        ordered[k], ordered[j] = ordered[j], ordered[k]
        picks.append(ordered[k])
    return digest, picks


def published(picks):
    return ["\t".join((p["network"], p["comment_id"], p["author_id"])) for p in picks or []]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contest", help="the contest as GET /v1/contests/{id} gave it (JSON)")
    parser.add_argument("--entries", required=True, help="the entry list (CSV or JSON)")
    parser.add_argument("--seed")
    parser.add_argument("--commitment")
    parser.add_argument("--winners", type=int)
    parser.add_argument("--reserves", type=int, default=None)
    args = parser.parse_args(argv)

    contest = {}
    if args.contest:
        with open(args.contest, encoding="utf-8") as f:
            contest = json.load(f)
    seed = args.seed or contest.get("seed")
    commitment = args.commitment or contest.get("commitment")
    winners = args.winners if args.winners is not None else contest.get("winners_count")
    reserves = args.reserves if args.reserves is not None else contest.get("reserves_count", 0)
    if not seed or not commitment or winners is None:
        parser.error(
            "need the seed, the commitment and the number of winners "
            "(from --contest or given one by one)"
        )

    ok = True
    if commitment_of(seed) == commitment.lower():
        print("commitment: OK, SHA-256 of the seed is the published commitment")
    else:
        print(f"commitment: MISMATCH, SHA-256 of the seed is {commitment_of(seed)}")
        ok = False

    lines = qualifying_lines(args.entries)
    digest, picks = draw(seed, lines, winners + reserves)
    print(f"qualifying entries: {len(lines)}, digest {digest}")
    if contest.get("entries_digest") and contest["entries_digest"] != digest:
        print(
            "entries: MISMATCH, the contest was drawn from a list with digest "
            + contest["entries_digest"]
        )
        ok = False

    for title, mine in (("winners", picks[:winners]), ("reserves", picks[winners:])):
        print(f"{title}:")
        for place, line in enumerate(mine, start=1):
            print(f"  {place}. " + line.replace("\t", "  "))
        if title in contest and contest[title] is not None:
            if published(contest[title]) == mine:
                print("  OK, the same as published")
            else:
                print(f"  MISMATCH with the published {title}")
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
