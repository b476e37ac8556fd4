"""A database outage must not burn the messages' delivery limit and dead-letter them.

The attack: anything that takes PostgreSQL away for a few seconds (a failover, a restart, a
flood of connections) made every consumer nack each message straight back to its queue, which
redelivered it at once; the quorum queue's delivery limit was spent in milliseconds and every
message in flight was dead-lettered, lost to the service until someone replayed it by hand.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from sqlalchemy import text

from services.metrics.models import BUS
from services.metrics.settings import MetricsSettings
from services.scheduler.app import create_app
from services.scheduler.settings import SchedulerSettings
from shared.consumer import Subscription
from shared.events import Envelope, WorkspaceCreated
from shared.service import Runtime
from tests.security.ops_support import (
    bring_database_back,
    channel_connected,
    database_proxy,
    publish,
    queue_depth,
    scalar,
    take_database_away,
    wait_until,
)
from tests.support.servers import lifespan

OUTAGE_SECONDS = 4.0
CONSUMER = "scheduler.channels"


def consumed(runtime: Runtime, consumer: str, outcome: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "herald_messages_consumed_total", {"consumer": consumer, "outcome": outcome}
    )
    return value or 0.0


def paused(runtime: Runtime) -> float | None:
    return runtime.metrics.registry.get_sample_value("herald_consumers_paused")


async def test_messages_consumed_during_a_database_outage_are_handled_once_after_it(
    make_settings, database_url
):
    async with database_proxy(database_url) as (proxy, proxied_url):
        settings = make_settings(
            SchedulerSettings,
            database_url=proxied_url,
            database_pool_size=3,
            delivery_limit=3,
            prefetch=8,
            consumer_backoff_initial_seconds=0.2,
            consumer_backoff_max_seconds=1.0,
        )
        app = create_app(settings)
        runtime = app.state.runtime
        queue = settings.queue_name("channels")
        dead_queue = f"{queue}.dead"
        workspace = uuid.uuid4()

        async def channels_recorded() -> int:
            return await scalar(
                database_url,
                "SELECT count(*) FROM scheduler.channels WHERE workspace_id = $1",
                workspace,
            )

        async def attempts_failed() -> float:
            return consumed(runtime, CONSUMER, "unavailable") + consumed(runtime, CONSUMER, "error")

        async with lifespan(app):
            await wait_until(
                lambda: runtime.bus.consuming.get(queue), what="consumer"
            )
            await publish(settings.exchange_name, [channel_connected(workspace) for _ in range(5)])
            await wait_until(
                lambda: _at_least(channels_recorded, 5), what="the first channels recorded"
            )

            take_database_away(proxy)
            await publish(settings.exchange_name, [channel_connected(workspace) for _ in range(20)])
            await wait_until(attempts_failed, what="the consumer to meet the outage")
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage lasts this long
            attempts_in_outage = await attempts_failed()
            paused_in_outage = paused(runtime)
            bring_database_back(proxy)
            back = time.monotonic()

            async def all_recorded_or_dead_lettered() -> bool:
                return await channels_recorded() >= 25 or await queue_depth(dead_queue) > 0

            await wait_until(
                all_recorded_or_dead_lettered, seconds=90, what="the channels after the outage"
            )
            recovered_in = time.monotonic() - back
            assert await queue_depth(dead_queue) == 0, "messages were dead-lettered"
            assert await channels_recorded() == 25
            assert consumed(runtime, CONSUMER, "handled") == 25, "each message handled once"
            assert (
                await scalar(
                    database_url,
                    "SELECT count(*) FROM scheduler.processed_messages WHERE consumer = $1",
                    CONSUMER,
                )
                == 25
            )
            # Backing off, not spinning: a few attempts per message held, not thousands; and
            # the delay is capped, so consumption resumes soon after the database is back.
            assert attempts_in_outage <= 2 * settings.prefetch, attempts_in_outage
            assert paused_in_outage == 1
            assert paused(runtime) == 0
            assert recovered_in < settings.consumer_backoff_max_seconds + 5, recovered_in


async def test_a_message_that_times_out_on_a_healthy_database_still_reaches_its_limit(
    make_settings,
):
    """A timeout is an infrastructure error only while the database is unreachable: a message
    whose own statement times out must not be held for ever, blocking its queue."""
    settings = make_settings(MetricsSettings, delivery_limit=2)
    runtime = Runtime.create(settings, tables=BUS)
    queue = settings.queue_name("slow")

    async def too_slow(session, envelope: Envelope) -> None:
        await session.execute(text("SET LOCAL statement_timeout = '50ms'"))
        await session.execute(text("SELECT pg_sleep(1)"))

    subscription = Subscription(purpose="slow", handlers={"workspace.created": too_slow})
    async with runtime.running(subscriptions=[subscription]):
        await wait_until(
            lambda: runtime.bus.consuming.get(queue), what="consumer"
        )
        envelope = Envelope.of(
            WorkspaceCreated(workspace_id=uuid.uuid4(), name="Acme", timezone="UTC"),
            workspace_id=None,
        )
        await publish(settings.exchange_name, [envelope])
        await wait_until(
            lambda: _equals(queue_depth(f"{queue}.dead"), 1), what="the message dead-lettered"
        )
        # Each delivery counted (the broker dead-letters past the limit: limit + 1 attempts).
        assert consumed(runtime, "metrics.slow", "error") in {2, 3}
        assert not consumed(runtime, "metrics.slow", "unavailable")
        assert paused(runtime) == 0


async def _at_least(count, n: int) -> bool:
    return await count() >= n


async def _equals(depth, n: int) -> bool:
    return await depth == n
