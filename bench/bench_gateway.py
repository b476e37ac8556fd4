"""Requests per second through the gateway against the same requests straight to the service.

The gateway measured is a replica of the platform's own, started here with the per-key limit
raised: the default policy (600 requests a minute per key) would turn the load into 429s, while
the counting itself (the part worth measuring) runs exactly as in production. With `--profile`,
py-spy samples that replica during one extra round and the flame graph and the top functions
land in bench/results/.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys

import httpx

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
CONNECTIONS = 16
# Far above what the load can reach: the limits are counted, never hit.
HIGH_LIMIT = 10**9


async def run(ctx: BenchContext) -> list[Figure]:
    platform = await ctx.platform()
    t = await tenant(platform)
    seconds = 1.0 if ctx.quick else 4
    path = f"/v1/channels/{t.channel['id']}"
    direct_headers = {
        INTERNAL_TOKEN_HEADER: platform.config.internal_token,
        WORKSPACE_HEADER: t.workspace_id,
        ROLE_HEADER: "owner",
        PRINCIPAL_HEADER: "bench",
        TIMEZONE_HEADER: "UTC",
    }
    async with httpx.AsyncClient(base_url=platform.config.url("gateway"), timeout=10) as admin:
        r = await admin.patch(
            f"/v1/workspaces/{t.workspace_id}",
            json={"rate_limit": HIGH_LIMIT},
            headers={"Authorization": f"Bearer {platform.config.admin_token}"},
        )
        r.raise_for_status()
    gateway_port = free_port()
    gateway_env = platform.service_env("gateway", gateway_port)
    gateway_env.update(GATEWAY_RATE_LIMIT_PER_KEY=str(HIGH_LIMIT), GATEWAY_LOG_LEVEL="WARNING")
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    through, direct, bare = [], [], []
    through_p50: list[float] = []
    through_p99: list[float] = []
    direct_p50: list[float] = []
    direct_p99: list[float] = []
    bare_port = free_port()
    async with (
        process(
            [sys.executable, "-m", "bench.bare", str(bare_port)],
            ready_url=f"http://127.0.0.1:{bare_port}/",
        ),
        process(
            [sys.executable, "-m", "services.gateway"],
            env=gateway_env,
            ready_url=f"{gateway_url}/readyz",
            log=ctx.results_dir / "logs" / "bench-gateway.log",
        ) as gateway,
    ):
        # One untimed call warms the key cache and the upstream connection pool.
        await load(gateway_url + path, headers=t.auth, seconds=0.5, connections=2)
        for _ in range(ctx.rounds()):
            d = await load(
                platform.config.url("publisher") + path,
                headers=direct_headers,
                seconds=seconds,
                connections=CONNECTIONS,
            )
            g = await load(
                gateway_url + path, headers=t.auth, seconds=seconds, connections=CONNECTIONS
            )
            b = await load(
                f"http://127.0.0.1:{bare_port}/", seconds=seconds, connections=CONNECTIONS
            )
            if g["errors"] or d["errors"]:
                raise RuntimeError(f"errors during the run: gateway {g}, direct {d}")
            through.append(g["rps"])
            direct.append(d["rps"])
            bare.append(b["rps"])
            through_p50.append(g["p50_ms"])
            through_p99.append(g["p99_ms"])
            direct_p50.append(d["p50_ms"])
            direct_p99.append(d["p99_ms"])
        if ctx.profile:
            await profile_round(ctx, gateway.pid, gateway_url + path, t.auth, seconds)
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
            "latency p50 through the gateway",
            "ms",
            median(through_p50),
            "same request straight to the publisher",
            median(direct_p50),
            "informational",
            higher_is_better=False,
            rounds=through_p50,
            baseline_rounds=direct_p50,
        ),
        Figure(
            NAME,
            "latency p99 through the gateway",
            "ms",
            median(through_p99),
            "same request straight to the publisher",
            median(direct_p99),
            "informational",
            higher_is_better=False,
            rounds=through_p99,
            baseline_rounds=direct_p99,
        ),
        Figure(
            NAME,
            "the publisher's endpoint itself, req/s",
            "req/s",
            median(direct),
            "bare uvicorn endpoint",
            median(bare),
            "informational",
            rounds=direct,
            baseline_rounds=bare,
            notes="what the service behind the gateway costs against a bare ASGI app",
        ),
    ]


async def profile_round(
    ctx: BenchContext, pid: int, url: str, headers: dict[str, str], seconds: float
) -> None:
    """py-spy on the gateway during one more round: a flame graph and the hottest functions."""
    spy = shutil.which("py-spy") or str(
        __import__("pathlib").Path(sys.executable).with_name("py-spy")
    )
    out = ctx.results_dir / "gateway-profile"
    duration = str(int(seconds) + 1)
    common = [spy, "record", "--pid", str(pid), "--duration", duration, "--rate", "200"]
    flame = await asyncio.create_subprocess_exec(
        *common,
        "--format",
        "flamegraph",
        "-o",
        f"{out}.svg",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await load(url, headers=headers, seconds=seconds, connections=CONNECTIONS)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(flame.wait(), 30)
    raw = await asyncio.create_subprocess_exec(
        *common,
        "--format",
        "raw",
        "-o",
        f"{out}.txt",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await load(url, headers=headers, seconds=seconds, connections=CONNECTIONS)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(raw.wait(), 30)
    print(f"  gateway profile: {out}.svg, {out}.txt", file=sys.stderr)
