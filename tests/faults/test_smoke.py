"""A bounded part of the fault runs, in `make test`: three scenarios with a small burst
(HERALD_FAULT_SMOKE_POSTS, 100 by default). `make faults` runs all of them at full size."""

from __future__ import annotations

from tests.faults.conftest import SMOKE_POSTS
from tests.faults.scenarios import broker_down, judged, killed, run_posts, run_webhooks


async def test_small_burst_survives_the_broker_going_away(faulty_platform, broker_proxy):
    judged(
        await run_posts(
            faulty_platform, "smoke: broker down 4s", broker_down(broker_proxy, 4), n=SMOKE_POSTS
        )
    )


async def test_small_burst_survives_the_publisher_being_killed(faulty_platform):
    judged(
        await run_posts(
            faulty_platform, "smoke: SIGKILL publisher", killed("publisher"), n=SMOKE_POSTS
        )
    )


async def test_small_webhook_flood_survives_the_inbox_being_killed(faulty_platform, database_url):
    verdict = await run_webhooks(
        faulty_platform,
        "smoke: webhook flood, inbox killed",
        killed("inbox"),
        n=SMOKE_POSTS,
        database_dsn=database_url.replace("postgresql+asyncpg://", "postgresql://"),
    )
    assert verdict.rejected > 0
    judged(verdict)
