"""Webhook ingest: signed X events per second accepted durably by the inbox, against bare uvicorn.

The inbox runs as its own process (`python -m services.inbox`) on the run's database and bus
prefix. Every request is a different event, signed as X signs it, so each 200 means one new
receipt committed to PostgreSQL. The bare endpoint gets the same bodies from the same load
generator in the same round.

Two shapes are measured: one inbox process doing everything (receivers and the receipt
worker on one event loop), and a receivers-only inbox (INBOX_RUN_WORKERS=false) with the
receipt processing in a second inbox process, as a deployment would scale out ingest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import asyncpg
import orjson

from bench.context import BenchContext
from bench.harness import Figure, bare_endpoint, free_port, load, median, service_process

NAME = "ingest"
SECRET = "bench-x-consumer-secret"
ACCOUNT = "1500000000000000001"


def body_file(path: Path, *, first_id: int, count: int) -> Path:
    """One signed X mention per line, each with its own tweet id (and so its own receipt)."""
    key = SECRET.encode()
    with path.open("wb") as f:
        for n in range(first_id, first_id + count):
            body = orjson.dumps(
                {
                    "for_user_id": ACCOUNT,
                    "tweet_create_events": [
                        {
                            "id_str": str(n),
                            "text": f"@brand question number {n}, please help",
                            "created_at": "Mon Nov 23 14:00:00 +0000 2026",
                            "user": {
                                "id_str": "1700000000000000001",
                                "screen_name": "fan",
                                "name": "A Fan",
                            },
                        }
                    ],
                }
            )
            signature = (
                "sha256=" + base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
            )
            line = {
                "headers": {
                    "x-twitter-webhooks-signature": signature,
                    "Content-Type": "application/json",
                },
                "body": body.decode(),
            }
            f.write(json.dumps(line).encode() + b"\n")
    return path


async def receipts(ctx: BenchContext) -> int:
    conn = await asyncpg.connect(ctx.asyncpg_dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM inbox.receipts"))
    finally:
        await conn.close()


# Per round: the inbox's events/s, the bare endpoint's, and the two latencies p99.
Measured = tuple[list[float], list[float], list[float], list[float]]


async def measure(
    ctx: BenchContext,
    *,
    url: str,
    bare_url: str,
    work: Path,
    first_id: int,
    per_round: int,
    seconds: float,
    connections: int,
) -> Measured:
    """Rounds of inbox then bare with the same bodies; each inbox 200 checked against the
    receipts table."""
    ingest, bare, ingest_p99, bare_p99 = [], [], [], []
    for n in range(ctx.rounds()):
        bodies = body_file(
            work / f"round{n}.jsonl", first_id=first_id + n * per_round, count=per_round
        )
        before = await receipts(ctx)
        i = await load(
            url,
            method="POST",
            body_file=bodies,
            seconds=seconds,
            connections=connections,
            requests=per_round,
        )
        stored = await receipts(ctx) - before
        if i["errors"] or stored != i["requests"]:
            raise RuntimeError(f"ingest round {n}: {i}, {stored} receipts stored")
        b = await load(
            bare_url,
            method="POST",
            body_file=bodies,
            seconds=seconds,
            connections=connections,
            requests=per_round,
        )
        ingest.append(i["rps"])
        bare.append(b["rps"])
        ingest_p99.append(i["p99_ms"])
        bare_p99.append(b["p99_ms"])
    return ingest, bare, ingest_p99, bare_p99


async def run(ctx: BenchContext) -> list[Figure]:
    seconds = 1.0 if ctx.quick else 4
    connections = 32
    # More distinct events per round than the inbox can take in `seconds`, so none repeats.
    per_round = 10_000 if ctx.quick else 60_000
    work = ctx.results_dir / "ingest"
    work.mkdir(parents=True, exist_ok=True)
    inbox_port, worker_port, bare_port = free_port(), free_port(), free_port()
    env = ctx.service_env(
        "inbox", inbox_port, network_apps=json.dumps({"x": {"client_secret": SECRET}})
    )
    log = ctx.results_dir / "logs" / "bench-ingest-inbox.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{inbox_port}/hooks/x"
    bare_url = f"http://127.0.0.1:{bare_port}/"
    common = {
        "bare_url": bare_url,
        "work": work,
        "per_round": per_round,
        "seconds": seconds,
        "connections": connections,
    }
    async with bare_endpoint(bare_port):
        # One inbox process doing everything: receivers and the receipt worker share a loop.
        async with service_process("inbox", inbox_port, env=env, log=log):
            together = await measure(ctx, url=url, first_id=1_900_000_000_000_000_000, **common)
        # The scaled-out shape: a receivers-only replica (INBOX_RUN_WORKERS=false) in front,
        # receipt processing in a separate worker process.
        async with (
            service_process(
                "inbox", inbox_port, env={**env, "INBOX_RUN_WORKERS": "false"}, log=log
            ),
            service_process(
                "inbox", worker_port, env={**env, "INBOX_PORT": str(worker_port)}, log=log
            ),
        ):
            apart = await measure(ctx, url=url, first_id=1_950_000_000_000_000_000, **common)
    return report(together, apart)


def report(together: Measured, apart: Measured) -> list[Figure]:
    """The figures of the one-process inbox and of the receivers apart from the worker."""
    ingest, bare, ingest_p99, bare_p99 = together
    split, split_bare, split_p99, split_bare_p99 = apart
    return [
        Figure(
            NAME,
            "signed X webhooks stored durably",
            "events/s",
            median(ingest),
            "bare uvicorn, same bodies",
            median(bare),
            "≥ 0.5",
            rounds=ingest,
            baseline_rounds=bare,
            notes="one inbox process: receivers and receipt worker together",
        ),
        Figure(
            NAME,
            "ingest latency p99",
            "ms",
            median(ingest_p99),
            "bare uvicorn p99",
            median(bare_p99),
            "informational",
            higher_is_better=False,
            rounds=ingest_p99,
            baseline_rounds=bare_p99,
        ),
        Figure(
            NAME,
            "same, receivers apart from the receipt worker",
            "events/s",
            median(split),
            "bare uvicorn, same bodies",
            median(split_bare),
            "≥ 0.5",
            rounds=split,
            baseline_rounds=split_bare,
            notes="receivers-only inbox (INBOX_RUN_WORKERS=false) + a worker process",
        ),
        Figure(
            NAME,
            "ingest latency p99, receivers apart",
            "ms",
            median(split_p99),
            "bare uvicorn p99",
            median(split_bare_p99),
            "informational",
            higher_is_better=False,
            rounds=split_p99,
            baseline_rounds=split_bare_p99,
        ),
    ]
