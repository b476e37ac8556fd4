"""The idempotent consumer's batches: one transaction for many messages, a failure alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from services.metrics.models import BUS
from services.metrics.settings import MetricsSettings
from shared.bus import Bus
from shared.consumer import IdempotentConsumer
from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.events import Envelope, WorkspaceCreated
from shared.observability import ServiceMetrics
from tests.security.ops_support import publish, queue_depth, scalar, wait_until

HOLD = "hold"
BAD = "bad"


def created(name: str) -> Envelope:
    return Envelope.of(
        WorkspaceCreated(workspace_id=uuid.uuid4(), name=name, timezone="UTC"),
        workspace_id=None,
    )


class Effects:
    """A handler that records each message's name in a table of the test's own database;
    `hold` waits until released, so what arrives meanwhile piles up in the consumer, and
    `bad` always fails."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.holding = asyncio.Event()

    async def __call__(self, session, envelope: Envelope) -> None:
        name = envelope.data["name"]
        if name == HOLD:
            self.holding.set()
            await self.release.wait()
        if name == BAD:
            raise ValueError("a message this handler cannot take")
        await session.execute(text("INSERT INTO public.effects (name) VALUES (:n)"), {"n": name})


@asynccontextmanager
async def consuming(
    settings: MetricsSettings, effects: Effects
) -> AsyncIterator[IdempotentConsumer]:
    engine = make_engine(settings.database_url, pool_size=4)
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        await session.execute(
            text("CREATE TABLE public.effects (seq bigserial PRIMARY KEY, name text NOT NULL)")
        )
    consumer = IdempotentConsumer(
        name="metrics.batches",
        handlers={"workspace.created": effects},
        sessions=sessions,
        tables=BUS,
        metrics=ServiceMetrics("metrics"),
        # Ordered (one batch at a time) though slots are free: while `hold` runs, every other
        # delivery waits for the next batch.
        slots=asyncio.Semaphore(4),
        lanes=1,
        batch_size=50,
    )
    bus = Bus(url=settings.amqp_url, exchange=settings.exchange_name, prefetch=60, delivery_limit=2)
    queue = settings.queue_name("batches")
    bus.consume(queue=queue, routing_keys=["workspace.created"], handler=consumer)
    try:
        await wait_until(lambda: bus.consuming.get(queue), what="consumer")
        yield consumer
    finally:
        await bus.close()
        await engine.dispose()


async def hold_then_pile_up(
    settings, consumer: IdempotentConsumer, effects: Effects, names: list[str | Envelope]
) -> None:
    """Publishes `hold`, then `names` once `hold` is being handled; waits until all of them
    are delivered and waiting for the next batch."""
    await publish(settings.exchange_name, [created(HOLD)])
    async with asyncio.timeout(60):
        await effects.holding.wait()
    envelopes = [n if isinstance(n, Envelope) else created(n) for n in names]
    await publish(settings.exchange_name, envelopes)
    await wait_until(
        lambda: len(consumer.pending) == len(names), what="the pile-up"
    )


async def test_messages_delivered_together_commit_in_one_transaction_in_delivery_order(
    make_settings, database_url
):
    settings = make_settings(MetricsSettings)
    effects = Effects()
    names = [f"m{i:02d}" for i in range(30)]
    async with consuming(settings, effects) as consumer:
        await hold_then_pile_up(settings, consumer, effects, names)
        effects.release.set()

        async def all_recorded() -> bool:
            return await scalar(database_url, "SELECT count(*) FROM public.effects") == 31

        await wait_until(all_recorded, what="every message handled")
        # now() is the transaction's start: the 30 that waited together share one.
        transactions = await scalar(
            database_url,
            "SELECT count(DISTINCT processed_at) FROM metrics.processed_messages "
            "WHERE consumer = 'metrics.batches'",
        )
        assert transactions == 2, transactions
        recorded = await scalar(
            database_url, "SELECT array_agg(name ORDER BY seq) FROM public.effects"
        )
        assert recorded == [HOLD, *names]


async def test_a_failing_message_in_a_batch_fails_alone_and_the_rest_commit_once(
    make_settings, database_url
):
    settings = make_settings(MetricsSettings)
    effects = Effects()
    names = [f"ok{i}" for i in range(5)] + [BAD] + [f"ok{i}" for i in range(5, 10)]
    async with consuming(settings, effects) as consumer:
        await hold_then_pile_up(settings, consumer, effects, names)
        effects.release.set()
        dead = f"{settings.queue_name('batches')}.dead"

        async def dead_lettered() -> bool:
            return await queue_depth(dead) == 1

        await wait_until(dead_lettered, what="the failing message dead-lettered")
        recorded = await scalar(
            database_url, "SELECT array_agg(name ORDER BY seq) FROM public.effects"
        )
        assert recorded == [HOLD] + [n for n in names if n != BAD]
        assert (
            await scalar(
                database_url,
                "SELECT count(*) FROM metrics.processed_messages "
                "WHERE consumer = 'metrics.batches'",
            )
            == 11
        )
        failures = consumer.metrics.registry.get_sample_value(
            "herald_messages_consumed_total", {"consumer": "metrics.batches", "outcome": "error"}
        )
        # The batch's own failure is not counted: each delivery of the bad message alone is.
        assert failures in {2, 3}, failures


async def test_a_message_delivered_again_after_its_batch_committed_changes_nothing(
    make_settings, database_url
):
    settings = make_settings(MetricsSettings)
    effects = Effects()
    again = created("again")
    async with consuming(settings, effects) as consumer:
        await publish(settings.exchange_name, [again])
        await wait_until(
            lambda: scalar(database_url, "SELECT count(*) FROM public.effects"), what="first"
        )
        # Delivered again twice inside one batch (as after a lost ack), beside a new one.
        await hold_then_pile_up(settings, consumer, effects, [again, again, "new"])
        effects.release.set()

        def outcomes(outcome: str) -> float:
            value = consumer.metrics.registry.get_sample_value(
                "herald_messages_consumed_total",
                {"consumer": "metrics.batches", "outcome": outcome},
            )
            return value or 0.0

        await wait_until(
            lambda: outcomes("handled") == 3 and outcomes("duplicate") == 2,
            what="every delivery answered",
        )
        recorded = await scalar(
            database_url, "SELECT array_agg(name ORDER BY seq) FROM public.effects"
        )
        assert recorded == ["again", HOLD, "new"]
