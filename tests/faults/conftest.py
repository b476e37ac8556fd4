"""Fault runs against the whole platform as separate processes.

`make test` runs each scenario with a small burst; `make faults` runs the full size
(HERALD_FAULT_POSTS=1000) and prints the summary table.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from deploy.runner import Platform
from tests.conftest import AMQP_URL
from tests.e2e.conftest import platform_config
from tests.support.tcp_proxy import TcpProxy

POSTS = int(os.environ.get("HERALD_FAULT_POSTS", "40"))
VERDICTS: list[str] = []


@pytest.fixture
async def broker_proxy() -> AsyncIterator[TcpProxy]:
    broker = urlsplit(AMQP_URL)
    proxy = TcpProxy(target_host=broker.hostname or "localhost", target_port=broker.port or 5672)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def faulty_platform(
    database_url: str, bus_prefix: str, tmp_path, broker_proxy: TcpProxy
) -> AsyncIterator[Platform]:
    """The platform with every broker connection running through a proxy the test can cut."""
    config = platform_config(
        database_url,
        bus_prefix,
        amqp_url=f"amqp://guest:guest@127.0.0.1:{broker_proxy.port}/",
        tmp_path=tmp_path,
    )
    platform = Platform(config)
    try:
        await platform.start()
        yield platform
    finally:
        platform.stop()


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if VERDICTS:
        terminalreporter.write_sep("=", "fault runs")
        for line in VERDICTS:
            terminalreporter.write_line(line)
