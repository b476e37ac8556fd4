"""A database outage must not burn the messages' delivery limit and dead-letter them.

The attack: anything that takes PostgreSQL away for a few seconds (a failover, a restart, a
flood of connections) made every consumer nack each message straight back to its queue, which
redelivered it at once; the quorum queue's delivery limit was spent in milliseconds and every
message in flight was dead-lettered, lost to the service until someone replayed it by hand.
"""

from __future__ import annotations

import asyncio
import uuid

from services.scheduler.app import create_app
from services.scheduler.settings import SchedulerSettings
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
        )
        app = create_app(settings)
        runtime = app.state.runtime
        queue = settings.queue_name("channels")
        workspace = uuid.uuid4()

        async def channels_recorded() -> int:
            return await scalar(
                database_url,
                "SELECT count(*) FROM scheduler.channels WHERE workspace_id = $1",
                workspace,
            )

        async with lifespan(app):
            await wait_until(
                lambda: asyncio.sleep(0, runtime.bus.consuming.get(queue)), what="consumer"
            )
            before = [channel_connected(workspace) for _ in range(5)]
            await publish(settings.exchange_name, before)
            await wait_until(
                lambda: _at_least(channels_recorded, 5), what="the first channels recorded"
            )

            take_database_away(proxy)
            during = [channel_connected(workspace) for _ in range(20)]
            await publish(settings.exchange_name, during)
            failed = runtime.metrics.consumed.labels("scheduler.channels", "unavailable")
            errors = runtime.metrics.consumed.labels("scheduler.channels", "error")
            await wait_until(
                lambda: asyncio.sleep(0, failed._value.get() + errors._value.get() > 0),
                what="the consumer to meet the outage",
            )
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage lasts this long
            attempts_in_outage = failed._value.get() + errors._value.get()
            bring_database_back(proxy)

            dead_queue = f"{queue}.dead"

            async def all_recorded_or_dead_lettered() -> bool:
                return await channels_recorded() >= 25 or await queue_depth(dead_queue) > 0

            await wait_until(
                all_recorded_or_dead_lettered, seconds=90, what="the channels after the outage"
            )
            assert await queue_depth(dead_queue) == 0, "messages were dead-lettered"
            assert await channels_recorded() == 25
            handled = runtime.metrics.consumed.labels("scheduler.channels", "handled")
            assert handled._value.get() == 25, "each message handled once"
            assert (
                await scalar(
                    database_url,
                    "SELECT count(*) FROM scheduler.processed_messages WHERE consumer = $1",
                    "scheduler.channels",
                )
                == 25
            )
            # Backing off, not spinning: a few attempts per message held, not thousands.
            assert attempts_in_outage <= 2 * settings.prefetch, attempts_in_outage


async def _at_least(count, n: int) -> bool:
    return await count() >= n
