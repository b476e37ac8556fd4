"""The whole platform as separate processes, on free ports, against this test's database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from deploy.runner import PORTS, Platform, PlatformConfig
from tests.conftest import AMQP_URL, INTERNAL_TOKEN, delete_bus_objects
from tests.support.servers import free_port

ADMIN_TOKEN = "test-admin-token"


def platform_config(
    database_url: str, bus_prefix: str, amqp_url: str = AMQP_URL, tmp_path=None
) -> PlatformConfig:
    parts = urlsplit(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    return PlatformConfig(
        database=parts.path.lstrip("/"),
        pg_url=f"postgresql://{parts.netloc}",
        amqp_url=amqp_url,
        bus_prefix=bus_prefix,
        internal_token=INTERNAL_TOKEN,
        admin_token=ADMIN_TOKEN,
        ports={name: free_port() for name in PORTS},
        environment="test",
        log_dir=tmp_path,
        replica_ports_free=True,
    )


@pytest.fixture
async def platform(database_url: str, bus_prefix: str, tmp_path) -> AsyncIterator[Platform]:
    running = Platform(platform_config(database_url, bus_prefix, tmp_path=tmp_path))
    try:
        await running.start()
        yield running
    finally:
        running.stop()
        await delete_bus_objects(bus_prefix, kinds=("queues",))
