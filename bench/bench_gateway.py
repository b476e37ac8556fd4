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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from bench.context import BenchContext
from bench.harness import Figure, bare_endpoint, free_port, load, median, service_process
from bench.workspace import tenant
from shared.auth import (
    INTERNAL_TOKEN_HEADER,
    PRINCIPAL_HEADER,
    ROLE_HEADER,
    TIMEZONE_HEADER,
    WORKSPACE_HEADER,
)

if TYPE_CHECKING:
    from deploy.runner import Platform

NAME = "gateway"
CONNECTIONS = 16
# Far above what the load can reach: the limits are counted, never hit.
HIGH_LIMIT = 10**9


@dataclass
class Rounds:
    """Per round: requests/s and latency through the gateway, straight to the publisher, and
    the bare endpoint's requests/s."""

    through: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    through_p50: list[float] = field(default_factory=list)
    through_p99: list[float] = field(default_factory=list)
    direct_p50: list[float] = field(default_factory=list)
    direct_p99: list[float] = field(default_factory=list)

    def add(self, through: dict[str, Any], direct: dict[str, Any], bare: dict[str, Any]) -> None:
        self.through.append(through["rps"])
        self.direct.append(direct["rps"])
        self.bare.append(bare["rps"])
        self.through_p50.append(through["p50_ms"])
        self.through_p99.append(through["p99_ms"])
        self.direct_p50.append(direct["p50_ms"])
        self.direct_p99.append(direct["p99_ms"])


async def raise_workspace_limit(platform: Platform, workspace_id: str) -> None:
    """The workspace's own limit out of reach, as the replica's per-key one."""
    async with httpx.AsyncClient(base_url=platform.config.url("gateway"), timeout=10) as admin:
        r = await admin.patch(
            f"/v1/workspaces/{workspace_id}",
            json={"rate_limit": HIGH_LIMIT},
            headers={"Authorization": f"Bearer {platform.config.admin_token}"},
        )
        r.raise_for_status()


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
    await raise_workspace_limit(platform, t.workspace_id)
    gateway_port = free_port()
    gateway_env = platform.service_env("gateway", gateway_port)
    gateway_env.update(GATEWAY_RATE_LIMIT_PER_KEY=str(HIGH_LIMIT), GATEWAY_LOG_LEVEL="WARNING")
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    measured = Rounds()
    bare_port = free_port()
    async with (
        bare_endpoint(bare_port),
        service_process(
            "gateway",
            gateway_port,
            env=gateway_env,
            log=ctx.results_dir / "logs" / "bench-gateway.log",
            ready="readyz",
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
            measured.add(g, d, b)
        if ctx.profile:
            await profile_round(ctx, gateway.pid, gateway_url + path, t.auth, seconds)
    return report(measured)


def report(m: Rounds) -> list[Figure]:
    return [
        Figure(
            NAME,
            "GET channel through the gateway",
            "req/s",
            median(m.through),
            "same request straight to the publisher",
            median(m.direct),
            "≥ 0.6",
            rounds=m.through,
            baseline_rounds=m.direct,
        ),
        Figure(
            NAME,
            "latency p50 through the gateway",
            "ms",
            median(m.through_p50),
            "same request straight to the publisher",
            median(m.direct_p50),
            "informational",
            higher_is_better=False,
            rounds=m.through_p50,
            baseline_rounds=m.direct_p50,
        ),
        Figure(
            NAME,
            "latency p99 through the gateway",
            "ms",
            median(m.through_p99),
            "same request straight to the publisher",
            median(m.direct_p99),
            "informational",
            higher_is_better=False,
            rounds=m.through_p99,
            baseline_rounds=m.direct_p99,
        ),
        Figure(
            NAME,
            "the publisher's endpoint itself, req/s",
            "req/s",
            median(m.direct),
            "bare uvicorn endpoint",
            median(m.bare),
            "informational",
            rounds=m.direct,
            baseline_rounds=m.bare,
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
    for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
        spying = await asyncio.create_subprocess_exec(
            *common,
            "--format",
            fmt,
            "-o",
            f"{out}.{suffix}",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await load(url, headers=headers, seconds=seconds, connections=CONNECTIONS)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(spying.wait(), 30)
    print(f"  gateway profile: {out}.svg, {out}.txt", file=sys.stderr)
