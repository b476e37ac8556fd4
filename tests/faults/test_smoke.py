"""A bounded part of the fault runs, in `make test`: three scenarios with a small burst
(HERALD_FAULT_SMOKE_POSTS, 100 by default) on one platform. `make faults` runs every scenario
at full size, each on a platform of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from deploy.runner import Platform
from tests.conftest import AMQP_URL, PG_HOST, RUN_ID, sqlalchemy_url
from tests.faults.conftest import SMOKE_POSTS, running_platform
from tests.faults.scenarios import broker_down, judged, killed, run_posts, run_webhooks
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture(scope="module")
async def smoke(
    template_database: str, _bus_cleanup: str, tmp_path_factory
) -> AsyncIterator[tuple[Platform, TcpProxy, str]]:
    """One platform for the three scenarios: each uses a workspace of its own, and starting
    the platform three times would cost more than the scenarios themselves."""
    name = f"herald_t{RUN_ID}_faults_smoke"
    admin = await asyncpg.connect(PG_HOST + "/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    broker = urlsplit(AMQP_URL)
    proxy = TcpProxy(target_host=broker.hostname or "localhost", target_port=broker.port or 5672)
    await proxy.start()
    try:
        async with running_platform(
            sqlalchemy_url(name),
            f"{_bus_cleanup}_faults_smoke.",
            tmp_path_factory.mktemp("faults-smoke"),
            proxy,
        ) as platform:
            yield platform, proxy, f"{PG_HOST}/{name}"
    finally:
        await proxy.stop()
        admin = await asyncpg.connect(PG_HOST + "/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_small_burst_survives_the_broker_going_away(smoke):
    platform, proxy, _ = smoke
    judged(await run_posts(platform, "smoke: broker down 4s", broker_down(proxy, 4), n=SMOKE_POSTS))


async def test_small_burst_survives_the_publisher_being_killed(smoke):
    platform, _, _ = smoke
    judged(
        await run_posts(platform, "smoke: SIGKILL publisher", killed("publisher"), n=SMOKE_POSTS)
    )


async def test_small_webhook_flood_survives_the_inbox_being_killed(smoke):
    platform, _, dsn = smoke
    verdict = await run_webhooks(
        platform,
        "smoke: webhook flood, inbox killed",
        killed("inbox"),
        n=SMOKE_POSTS,
        database_dsn=dsn,
    )
    assert verdict.rejected > 0
    judged(verdict)
