"""The publish pipeline: `post.due` on the bus → the post held by the network (the sandbox),
with 50 ms of network latency injected, against the Little's-law bound in-flight / latency.

The publisher keeps at most `publish_concurrency` attempts in flight per replica, so with every
network call taking at least the injected latency, no configuration of this platform can
publish faster than replicas × publish_concurrency / latency. The figure is how close the
pipeline (consume, record the job, claim, spend the budget, open the token, call, settle, emit)
comes to that bound.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.context import BenchContext
from bench.harness import Figure, median
from bench.workspace import tenant
from services.publisher.budgets import DEFAULT_BUDGETS
from services.publisher.settings import PublisherSettings
from shared.bus import Bus, OutgoingMessage
from shared.events import Envelope, PostDue

NAME = "publish"
NETWORK = "x"
LATENCY_MS = 50
# Below the network's per-account cap (X: 100 tweets per 15 min), so no post waits for a budget.
PER_CHANNEL = min(r.limit for r in DEFAULT_BUDGETS[NETWORK] if r.scope == "token") * 4 // 5


def in_flight_bound(platform: Any) -> int:
    """What bounds concurrency: each publisher replica's `publish_concurrency`."""
    replicas = platform.config.replicas.get("publisher", 1)
    env = platform.config.extra_env.get("publisher", {})
    per_replica = int(
        env.get(
            "PUBLISHER_PUBLISH_CONCURRENCY",
            PublisherSettings.model_fields["publish_concurrency"].default,
        )
    )
    return replicas * per_replica


async def connect_channels(
    gateway: httpx.AsyncClient, sandbox: httpx.AsyncClient, auth: dict[str, str], n: int
) -> list[dict[str, Any]]:
    channels = []
    for _ in range(n):
        account = (await sandbox.post(f"/_sandbox/{NETWORK}/accounts", json={})).json()
        r = await gateway.post(
            "/v1/channels",
            json={"network": NETWORK, "credentials": account["credentials"]},
            headers=auth,
        )
        r.raise_for_status()
        channels.append({**r.json(), "account": account})
    return channels


async def one_round(
    ctx: BenchContext,
    bus: Bus,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    auth: dict[str, str],
    workspace_id: str,
    n: int,
) -> float:
    """Posts per second from the first `post.due` sent to the last post the sandbox stored."""
    # Fresh accounts each round: the per-account budget of the last round is still spent.
    channels = await connect_channels(gateway, sandbox, auth, -(-n // PER_CHANNEL))
    run = uuid.uuid4().hex[:8]
    envelopes = [
        Envelope.of(
            PostDue(
                post_id=uuid.uuid4(),
                target_id=uuid.uuid4(),
                channel_id=uuid.UUID(channels[i % len(channels)]["id"]),
                network=NETWORK,
                text=f"bench publish {run} {i}",
                due_at=datetime.now(UTC),
            ),
            workspace_id=uuid.UUID(workspace_id),
        )
        for i in range(n)
    ]
    messages = [
        OutgoingMessage(routing_key=e.type, body=e.model_dump_json().encode(), message_id=str(e.id))
        for e in envelopes
    ]
    started = time.time()
    await bus.publish(messages)
    deadline = time.monotonic() + 300
    while True:
        held: list[dict[str, Any]] = []
        for channel in channels:
            listing = (
                await sandbox.get(
                    f"/_sandbox/{NETWORK}/posts",
                    params={"account": channel["account"]["external_id"]},
                )
            ).json()
            held += [p for p in listing["items"] if p["text"].startswith(f"bench publish {run}")]
        if len(held) >= n:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(held)} of {n} posts reached the sandbox")
        await asyncio.sleep(0.2)
    last = max(
        datetime.fromisoformat(str(p["created_at"]).replace("Z", "+00:00")).timestamp()
        for p in held
    )
    return n / (last - started)


async def run(ctx: BenchContext) -> list[Figure]:
    platform = await ctx.platform()
    t = await tenant(platform)
    # Small rounds: on a shared two-core machine the pipeline may run at a few posts a
    # second, and the whole `make bench` must stay under ten minutes.
    n = 40 if ctx.quick else 200
    in_flight = in_flight_bound(platform)
    bound = in_flight / (LATENCY_MS / 1000)
    bus = Bus(url=ctx.amqp_url, exchange=f"{ctx.bus_prefix}herald")
    rates: list[float] = []
    async with (
        httpx.AsyncClient(base_url=platform.config.url("gateway"), timeout=30) as gateway,
        httpx.AsyncClient(base_url=platform.config.url("sandbox"), timeout=30) as sandbox,
    ):
        r = await sandbox.put(
            "/_sandbox/faults", json={"network": NETWORK, "latency_ms": LATENCY_MS}
        )
        r.raise_for_status()
        try:
            for _ in range(ctx.rounds()):
                rates.append(await one_round(ctx, bus, gateway, sandbox, t.auth, t.workspace_id, n))
        finally:
            await sandbox.delete("/_sandbox/faults")
            await bus.close()
    return [
        Figure(
            NAME,
            f"post.due → held by the network, {LATENCY_MS} ms latency",
            "posts/s",
            median(rates),
            f"Little's law: {in_flight} in flight / {LATENCY_MS} ms",
            bound,
            "informational (ratio to the bound)",
            rounds=rates,
            notes=f"{n} posts a round on {NETWORK}, {-(-n // PER_CHANNEL)} channels, "
            f"in flight = publisher replicas × publish_concurrency",
        )
    ]
