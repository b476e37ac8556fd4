"""From `POST /v1/posts` with `now` to the sandbox holding the post."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from bench.context import BenchContext
from bench.harness import Figure, percentile
from bench.workspace import tenant

NAME = "e2e"


async def run(ctx: BenchContext) -> list[Figure]:
    platform = await ctx.platform()
    t = await tenant(platform)
    n = 20 if ctx.quick else 60
    latencies: list[float] = []
    account = t.account["external_id"]
    async with (
        httpx.AsyncClient(base_url=platform.config.url("gateway"), timeout=30) as gateway,
        httpx.AsyncClient(base_url=platform.config.url("sandbox"), timeout=30) as sandbox,
    ):
        for i in range(n):
            text = f"bench {i} {uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            r = await gateway.post(
                "/v1/posts",
                headers=t.auth,
                json={
                    "text": text,
                    "targets": [{"channel_id": t.channel["id"]}],
                    "schedule": {"now": True},
                },
            )
            r.raise_for_status()
            deadline = started + 30
            while time.perf_counter() < deadline:
                held = (await sandbox.get("/_sandbox/x/posts", params={"account": account})).json()
                if any(p["text"] == text for p in held["items"]):
                    latencies.append((time.perf_counter() - started) * 1000)
                    break
                await asyncio.sleep(0.005)
            else:
                raise RuntimeError(f"post {i} never reached the sandbox")
    return [
        Figure(
            NAME,
            "POST /v1/posts now → on the network, p50",
            "ms",
            percentile(latencies, 0.5),
            "—",
            None,
            "informational",
            higher_is_better=False,
            rounds=latencies,
        ),
        Figure(
            NAME,
            "POST /v1/posts now → on the network, p99",
            "ms",
            percentile(latencies, 0.99),
            "—",
            None,
            "informational",
            higher_is_better=False,
        ),
    ]
