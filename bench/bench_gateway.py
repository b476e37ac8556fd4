"""Requests per second through the gateway against the same requests straight to the service."""

from __future__ import annotations

import sys

from bench.context import BenchContext
from bench.harness import Figure, free_port, load, median, process
from bench.workspace import tenant
from shared.auth import (
    INTERNAL_TOKEN_HEADER,
    PRINCIPAL_HEADER,
    ROLE_HEADER,
    TIMEZONE_HEADER,
    WORKSPACE_HEADER,
)

NAME = "gateway"


async def run(ctx: BenchContext) -> list[Figure]:
    platform = await ctx.platform()
    t = await tenant(platform)
    seconds = 3 if ctx.quick else 5
    path = f"/v1/channels/{t.channel['id']}"
    direct_headers = {
        INTERNAL_TOKEN_HEADER: platform.config.internal_token,
        WORKSPACE_HEADER: t.workspace_id,
        ROLE_HEADER: "owner",
        PRINCIPAL_HEADER: "bench",
        TIMEZONE_HEADER: "UTC",
    }
    through, direct, bare = [], [], []
    p50_added, p99_added = [], []
    port = free_port()
    async with process(
        [sys.executable, "-m", "bench.bare", str(port)], ready_url=f"http://127.0.0.1:{port}/"
    ):
        for _ in range(ctx.rounds()):
            d = await load(
                platform.config.url("publisher") + path,
                headers=direct_headers,
                seconds=seconds,
                connections=16,
            )
            g = await load(
                platform.config.url("gateway") + path,
                headers=t.auth,
                seconds=seconds,
                connections=16,
            )
            b = await load(f"http://127.0.0.1:{port}/", seconds=seconds, connections=16)
            if g["errors"] or d["errors"]:
                raise RuntimeError(f"errors during the run: gateway {g}, direct {d}")
            through.append(g["rps"])
            direct.append(d["rps"])
            bare.append(b["rps"])
            p50_added.append(g["p50_ms"] - d["p50_ms"])
            p99_added.append(g["p99_ms"] - d["p99_ms"])
    return [
        Figure(
            NAME,
            "GET channel through the gateway",
            "req/s",
            median(through),
            "same request straight to the publisher",
            median(direct),
            "≥ 0.6",
            rounds=through,
            baseline_rounds=direct,
        ),
        Figure(
            NAME,
            "added latency p50 through the gateway",
            "ms",
            median(p50_added),
            "direct p50 (ratio n/a)",
            None,
            "informational",
            higher_is_better=False,
            rounds=p50_added,
        ),
        Figure(
            NAME,
            "added latency p99 through the gateway",
            "ms",
            median(p99_added),
            "direct p99 (ratio n/a)",
            None,
            "informational",
            higher_is_better=False,
            rounds=p99_added,
        ),
        Figure(
            NAME,
            "bare uvicorn endpoint (reference)",
            "req/s",
            median(bare),
            "—",
            None,
            "informational",
            rounds=bare,
        ),
    ]
