"""The bus both ways against raw aio-pika: publishing (`Bus.publish` and the outbox relay,
commit → broker confirm) against aio-pika publishing with confirms, and consuming (the
idempotent consumer: envelope read, `(consumer, message id)` recorded and committed, ack)
against an aio-pika consumer that only acks. Same broker, same quorum queues, same prefetch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import aio_pika

from bench.context import BenchContext
from bench.harness import Figure, median
from services.metrics.models import BUS
from shared.bus import Bus, OutgoingMessage
from shared.consumer import IdempotentConsumer
from shared.db import Notifier, make_engine, make_sessionmaker, unit_of_work
from shared.events import Envelope, WorkspaceCreated
from shared.observability import ServiceMetrics
from shared.outbox import Outbox, OutboxRelay
from shared.settings import ServiceSettings

NAME = "bus"


def event(i: int) -> Envelope:
    return Envelope.of(
        WorkspaceCreated(workspace_id=uuid.uuid4(), name=f"w{i}", timezone="UTC"),
        workspace_id=None,
    )


def outgoing(n: int) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            routing_key=e.type,
            body=e.model_dump_json().encode(),
            message_id=str(e.id),
            correlation_id=str(e.id),
        )
        for e in (event(i) for i in range(n))
    ]


async def raw_publish_rate(ctx: BenchContext, n: int, batch: int) -> float:
    connection = await aio_pika.connect(ctx.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            f"{ctx.bus_prefix}raw", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            f"{ctx.bus_prefix}raw.sink", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, routing_key="#")
        bodies = [event(i).model_dump_json().encode() for i in range(n)]
        started = time.perf_counter()
        for start in range(0, n, batch):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(b, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key="workspace.created",
                    )
                    for b in bodies[start : start + batch]
                )
            )
        elapsed = time.perf_counter() - started
        await queue.purge()
    return n / elapsed


async def bus_publish_rate(ctx: BenchContext, n: int, batch: int) -> float:
    """`Bus.publish` alone (persistent, confirmed, batch order kept), no database."""
    bus = Bus(url=ctx.amqp_url, exchange=f"{ctx.bus_prefix}bus")
    connection = await aio_pika.connect(ctx.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{ctx.bus_prefix}bus", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            f"{ctx.bus_prefix}bus.sink", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, routing_key="#")
        messages = outgoing(n)
        started = time.perf_counter()
        for start in range(0, n, batch):
            await bus.publish(messages[start : start + batch])
        elapsed = time.perf_counter() - started
        await queue.purge()
    await bus.close()
    return n / elapsed


async def relay_rate(ctx: BenchContext, n: int, batch: int) -> float:
    engine = make_engine(ctx.database_url)
    sessions = make_sessionmaker(engine)
    outbox = Outbox(BUS)
    bus = Bus(url=ctx.amqp_url, exchange=f"{ctx.bus_prefix}herald")
    connection = await aio_pika.connect(ctx.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{ctx.bus_prefix}herald", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            f"{ctx.bus_prefix}relay.sink", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, routing_key="#")
        envelopes = [event(i) for i in range(n)]
        for start in range(0, n, 1000):
            async with unit_of_work(sessions) as session:
                await outbox.add(session, *envelopes[start : start + 1000])
        relay = OutboxRelay(
            engine=engine,
            tables=BUS,
            bus=bus,
            notifier=Notifier(ctx.database_url, [BUS.notify_channel]),
            batch=batch,
        )
        started = time.perf_counter()
        published = await relay.drain()
        elapsed = time.perf_counter() - started
        assert published == n, (published, n)
        await queue.purge()
    await bus.close()
    await engine.dispose()
    return n / elapsed


# As the services run by default: their prefetch, and as many handler slots as pool connections.
PREFETCH = ServiceSettings.model_fields["prefetch"].default
POOL = ServiceSettings.model_fields["database_pool_size"].default


async def fill(ctx: BenchContext, bus: Bus, queue: str, n: int) -> None:
    """`n` workspace.created events waiting on a queue declared as the services declare theirs."""
    connection = await aio_pika.connect(ctx.amqp_url)
    async with connection:
        await bus.declare_queue(await connection.channel(), queue, ["workspace.created"])
    messages = outgoing(n)
    for start in range(0, n, 500):
        await bus.publish(messages[start : start + 500])


async def timed_drain(
    n: int, start: Callable[[Callable[[], None]], Awaitable[None]], within: float = 300
) -> float:
    """Starts a consumer with a `done()` to call per message; messages/s until all n are done."""
    count = 0
    finished = asyncio.Event()

    def done() -> None:
        nonlocal count
        count += 1
        if count >= n:
            finished.set()

    started = time.perf_counter()
    await start(done)
    await asyncio.wait_for(finished.wait(), within)
    return n / (time.perf_counter() - started)


async def raw_consume_rate(ctx: BenchContext, n: int) -> float:
    bus = Bus(url=ctx.amqp_url, exchange=f"{ctx.bus_prefix}rawc")
    queue = f"{ctx.bus_prefix}raw.consume"
    await fill(ctx, bus, queue, n)
    await bus.close()
    connection = await aio_pika.connect(ctx.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        q = await channel.get_queue(queue)

        async def start(done: Callable[[], None]) -> None:
            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                await message.ack()
                done()

            await q.consume(on_message)

        return await timed_drain(n, start)


async def consumer_rate(ctx: BenchContext, n: int) -> float:
    """The services' consumer with a handler that does nothing: what every event costs before
    its own work (the metrics schema's processed-messages table)."""
    engine = make_engine(ctx.database_url, pool_size=POOL)
    sessions = make_sessionmaker(engine)
    bus = Bus(url=ctx.amqp_url, exchange=f"{ctx.bus_prefix}consume", prefetch=PREFETCH)
    queue = f"{ctx.bus_prefix}bench.consume"
    try:
        await fill(ctx, bus, queue, n)

        async def nothing(session: object, envelope: Envelope) -> None:
            return None

        consumer = IdempotentConsumer(
            name=f"bench.consume.{uuid.uuid4().hex[:6]}",
            handlers={"workspace.created": nothing},
            sessions=sessions,
            tables=BUS,
            metrics=ServiceMetrics("bench"),
            slots=asyncio.Semaphore(POOL),
        )

        async def start(done: Callable[[], None]) -> None:
            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                await consumer(message)
                done()

            bus.consume(queue=queue, routing_keys=["workspace.created"], handler=on_message)

        return await timed_drain(n, start)
    finally:
        await bus.close()
        await engine.dispose()


async def run(ctx: BenchContext) -> list[Figure]:
    n = 3_000 if ctx.quick else 12_000
    batch = 500
    raw = [await raw_publish_rate(ctx, n, batch) for _ in range(ctx.rounds())]
    publish = [await bus_publish_rate(ctx, n, batch) for _ in range(ctx.rounds())]
    relay = [await relay_rate(ctx, n, batch) for _ in range(ctx.rounds())]
    consume_n = n // 6
    raw_consume = [await raw_consume_rate(ctx, consume_n) for _ in range(ctx.rounds())]
    consume = [await consumer_rate(ctx, consume_n) for _ in range(ctx.rounds())]
    return [
        Figure(
            benchmark=NAME,
            metric="Bus.publish, confirmed persistent messages/s",
            unit="messages/s",
            value=median(publish),
            baseline_name="raw aio-pika publish with confirms",
            baseline=median(raw),
            goal="informational",
            rounds=publish,
            baseline_rounds=raw,
            notes=f"{n} messages, batches of {batch}",
        ),
        Figure(
            benchmark=NAME,
            metric="outbox relay, events/s committed → confirmed",
            unit="events/s",
            value=median(relay),
            baseline_name="raw aio-pika publish with confirms",
            baseline=median(raw),
            goal="informational",
            rounds=relay,
            baseline_rounds=raw,
            notes=f"{n} events, batches of {batch}",
        ),
        Figure(
            benchmark=NAME,
            metric="idempotent consumer, messages/s consumed",
            unit="messages/s",
            value=median(consume),
            baseline_name="raw aio-pika consume + ack",
            baseline=median(raw_consume),
            goal="informational",
            rounds=consume,
            baseline_rounds=raw_consume,
            notes=(
                f"{consume_n} waiting messages, prefetch {PREFETCH}, {POOL} handler slots; "
                "a handler that does nothing, so the figure is the per-message floor of "
                "every consumer (read, record, commit, ack)"
            ),
        ),
    ]
