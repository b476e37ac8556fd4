"""Fault runs against the whole platform as separate processes.

`make faults` runs every scenario at full size (HERALD_FAULT_POSTS=1000) and prints the
summary table; `make test` runs a few of them with a small burst (tests/faults/test_smoke.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from deploy.runner import Platform
from tests.conftest import AMQP_URL, delete_bus_objects
from tests.e2e.conftest import platform_config
from tests.support.tcp_proxy import TcpProxy

POSTS = int(os.environ.get("HERALD_FAULT_POSTS", "100"))
SMOKE_POSTS = int(os.environ.get("HERALD_FAULT_SMOKE_POSTS", "100"))
VERDICTS: list[str] = []

SERVICES = ("gateway", "scheduler", "publisher", "inbox", "metrics")
# Bounds that keep a run short without changing what is tested: a network call gives up after
# 5 s (so a lease of 20 s is safe), and a hung sandbox call answers 504 after 8 s. A SIGKILLed
# publisher's jobs come back when their lease ends, so the lease bounds its recovery time.
# Smaller connection pools (up to 2 × 4 per service): the test PostgreSQL is shared by every
# test run on the machine and its max_connections (100) is less than five default pools.
FAULT_ENV: dict[str, dict[str, str]] = {
    name: {f"{name.upper()}_LOG_LEVEL": "WARNING", f"{name.upper()}_DATABASE_POOL_SIZE": "4"}
    for name in SERVICES
}
FAULT_ENV["publisher"].update(
    PUBLISHER_HTTP_TIMEOUT_SECONDS="5",
    PUBLISHER_LEASE_SECONDS="20",
    PUBLISHER_BACKOFF_BASE_SECONDS="2",
    PUBLISHER_BACKOFF_MAX_SECONDS="20",
)
FAULT_ENV["sandbox"] = {"SANDBOX_FAULT_HANG_SECONDS": "8"}
# A burst of 1,000 posts (and the polling that follows it) from one API key is over the
# gateway's per-key limit; the runs test faults, not throttling.
FAULT_ENV["gateway"].update(
    GATEWAY_RATE_LIMIT_PER_KEY="1000000", GATEWAY_RATE_LIMIT_PER_WORKSPACE="1000000"
)


@pytest.fixture
async def broker_proxy() -> AsyncIterator[TcpProxy]:
    broker = urlsplit(AMQP_URL)
    proxy = TcpProxy(target_host=broker.hostname or "localhost", target_port=broker.port or 5672)
    await proxy.start()
    yield proxy
    await proxy.stop()


@contextlib.asynccontextmanager
async def running_platform(
    database_url: str, bus_prefix: str, tmp_path: Path, proxy: TcpProxy
) -> AsyncIterator[Platform]:
    """The platform with every broker connection running through a proxy the test can cut."""
    config = platform_config(
        database_url,
        bus_prefix,
        amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
        tmp_path=tmp_path,
    )
    config.extra_env = FAULT_ENV
    platform = Platform(config)
    try:
        await platform.start()
        yield platform
    finally:
        platform.stop()
        await delete_bus_objects(bus_prefix, kinds=("queues",))


@pytest.fixture
async def faulty_platform(
    database_url: str, bus_prefix: str, tmp_path: Path, broker_proxy: TcpProxy
) -> AsyncIterator[Platform]:
    async with running_platform(database_url, bus_prefix, tmp_path, broker_proxy) as platform:
        yield platform


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if VERDICTS:
        terminalreporter.write_sep("=", "fault runs")
        for line in VERDICTS:
            terminalreporter.write_line(line)
