"""Scripted faults against the running platform (`make faults`); each run is judged by the
checker and printed in the summary at the end."""

from __future__ import annotations

import pytest

from tests.faults.conftest import POSTS
from tests.faults.scenarios import (
    broker_down,
    database_connections_cut,
    judged,
    killed,
    network_misbehaving,
    run_posts,
    run_webhooks,
)

pytestmark = pytest.mark.faults


async def test_broker_unreachable_mid_burst(faulty_platform, broker_proxy):
    judged(
        await run_posts(faulty_platform, "broker down 10s", broker_down(broker_proxy, 10), n=POSTS)
    )


@pytest.mark.parametrize("service", ["scheduler", "publisher", "inbox", "metrics", "gateway"])
async def test_service_killed_mid_burst(faulty_platform, service):
    judged(await run_posts(faulty_platform, f"SIGKILL {service}", killed(service), n=POSTS))


async def test_database_connections_cut_mid_burst(faulty_platform):
    judged(
        await run_posts(
            faulty_platform, "postgres connections cut", database_connections_cut(), n=POSTS
        )
    )


async def test_network_errors_rate_limits_timeouts_and_expired_tokens(faulty_platform):
    judged(
        await run_posts(
            faulty_platform, "network 5xx/429/hang/expiry", network_misbehaving(), n=POSTS
        )
    )


@pytest.mark.parametrize("fault", ["none", "inbox killed"])
async def test_webhook_flood_with_duplicates_and_bad_signatures(
    faulty_platform, database_url, fault
):
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    verdict = await run_webhooks(
        faulty_platform,
        f"webhook flood{'' if fault == 'none' else ', ' + fault}",
        killed("inbox") if fault != "none" else None,
        n=POSTS,
        database_dsn=dsn,
    )
    assert verdict.rejected > 0
    judged(verdict)
