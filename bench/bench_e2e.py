"""From `POST /v1/posts` with `now` to the sandbox holding the post, against the network call
alone.

Each post is timed from the request to the moment the sandbox's listing of the account shows
it (polled every 5 ms): through the gateway, the scheduler, the bus and the publisher. The
baseline is the floor of that path in the same run: the same text posted straight to the
sandbox's X API (`POST /x/2/tweets` with the account's token, as the publisher does) and
waited for the same way, so the ratio is what the platform adds to the network's own time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx

from bench.context import BenchContext
from bench.harness import Figure, median, percentile
from bench.workspace import tenant

NAME = "e2e"


async def held_after(
    sandbox: httpx.AsyncClient, account: str, text: str, send: Callable[[], Awaitable[None]]
) -> float:
    """Milliseconds from `send()` to the sandbox listing the account's post with `text`."""
    started = time.perf_counter()
    await send()
    deadline = started + 30
    while time.perf_counter() < deadline:
        held = (await sandbox.get("/_sandbox/x/posts", params={"account": account})).json()
        if any(p["text"] == text for p in held["items"]):
            return (time.perf_counter() - started) * 1000
        await asyncio.sleep(0.005)
    raise RuntimeError(f"{text!r} never reached the sandbox")


async def run(ctx: BenchContext) -> list[Figure]:
    platform = await ctx.platform()
    t = await tenant(platform)
    per_round = 7 if ctx.quick else 20
    account = t.account["external_id"]
    through: list[list[float]] = []
    direct: list[list[float]] = []
    async with (
        httpx.AsyncClient(base_url=platform.config.url("gateway"), timeout=30) as gateway,
        httpx.AsyncClient(base_url=platform.config.url("sandbox"), timeout=30) as sandbox,
    ):
        # The baseline posts from an account of its own, so both listings grow alike.
        other = (await sandbox.post("/_sandbox/x/accounts", json={})).json()
        token = {"Authorization": f"Bearer {other['credentials']['access_token']}"}
        for _ in range(ctx.rounds()):
            ours: list[float] = []
            theirs: list[float] = []
            for _ in range(per_round):
                text = f"bench {uuid.uuid4().hex[:12]}"

                async def via_herald(text: str = text) -> None:
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

                async def to_network(text: str = text) -> None:
                    r = await sandbox.post("/x/2/tweets", headers=token, json={"text": text})
                    r.raise_for_status()

                ours.append(await held_after(sandbox, account, text, via_herald))
                theirs.append(await held_after(sandbox, other["external_id"], text, to_network))
            through.append(ours)
            direct.append(theirs)
    figures = []
    for q, label in ((0.5, "p50"), (0.99, "p99")):
        values = [percentile(r, q) for r in through]
        base = [percentile(r, q) for r in direct]
        figures.append(
            Figure(
                NAME,
                f"POST /v1/posts now → on the network, {label}",
                "ms",
                median(values),
                "the same post sent straight to the sandbox's X API",
                median(base),
                "informational",
                higher_is_better=False,
                rounds=values,
                baseline_rounds=base,
                notes=f"{per_round} posts a round, one at a time (a round's p99 is its max)",
            )
        )
    return figures
