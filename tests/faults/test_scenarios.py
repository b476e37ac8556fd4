"""Scripted faults against the running platform; each run is judged by the checker."""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg
import httpx
import pytest

from tests.e2e.flows import connect_x_channel, new_workspace
from tests.faults.burst import create_burst, settle
from tests.faults.checker import check
from tests.faults.conftest import POSTS, VERDICTS

pytestmark = pytest.mark.faults


async def run_scenario(platform, name, fault, *, n=POSTS):
    config = platform.config
    async with (
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=15) as gateway,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=15) as sandbox,
    ):
        key = await new_workspace(gateway, timezone="UTC")
        auth = {"Authorization": f"Bearer {key}"}
        channel = await connect_x_channel(gateway, sandbox, key)
        confirmed = await create_burst(gateway, auth, channel["id"], n)
        assert len(confirmed) == n
        fault_ended = await fault(platform, gateway, sandbox)
        # The gateway itself may have been restarted by the fault: use fresh connections.
        async with httpx.AsyncClient(base_url=config.url("gateway"), timeout=15) as fresh:
            final, _ = await settle(fresh, auth, confirmed)
        recovered = time.monotonic() - fault_ended
        held = (
            await sandbox.get(
                "/_sandbox/x/posts", params={"account": channel["account"]["external_id"]}
            )
        ).json()
    verdict = check(name, confirmed=confirmed, final_targets=final, on_network=held["items"])
    verdict.recovered_after_seconds = recovered
    VERDICTS.append(verdict.line())
    assert held["duplicates"] == 0
    assert verdict.ok, verdict.problems[:10]
    return verdict


async def test_broker_unreachable_mid_burst(faulty_platform, broker_proxy):
    async def fault(platform, gateway, sandbox):
        await asyncio.sleep(2.5)
        broker_proxy.accepting = False
        broker_proxy.cut()
        await asyncio.sleep(4)
        broker_proxy.accepting = True
        return time.monotonic()

    await run_scenario(faulty_platform, "broker down 4s", fault)


@pytest.mark.parametrize("service", ["scheduler", "publisher", "inbox", "metrics", "gateway"])
async def test_service_killed_mid_burst(faulty_platform, service):
    async def fault(platform, gateway, sandbox):
        await asyncio.sleep(3)
        platform.kill(service)
        await asyncio.sleep(1)
        await platform.restart(service)
        return time.monotonic()

    await run_scenario(faulty_platform, f"SIGKILL {service}", fault)


async def test_database_connections_cut_mid_burst(faulty_platform):
    async def fault(platform, gateway, sandbox):
        conn = await asyncpg.connect(f"{platform.config.pg_url}/postgres")
        try:
            for _ in range(5):
                await asyncio.sleep(0.8)
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    platform.config.database,
                )
        finally:
            await conn.close()
        return time.monotonic()

    await run_scenario(faulty_platform, "postgres connections cut", fault)


async def test_network_errors_rate_limits_and_timeouts(faulty_platform):
    async def fault(platform, gateway, sandbox):
        await sandbox.put(
            "/_sandbox/faults",
            json={
                "network": "x",
                "error_rate": 0.1,
                "status": 503,
                "timeout_rate": 0.02,
                "rate_limit": {"limit": 30, "window_seconds": 2},
            },
        )
        await asyncio.sleep(6)
        with contextlib.suppress(httpx.HTTPError):
            await sandbox.delete("/_sandbox/faults")
        return time.monotonic()

    await run_scenario(faulty_platform, "network 5xx/429/timeouts", fault)
