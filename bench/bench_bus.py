"""The outbox relay (commit → broker confirm) against raw aio-pika publishing with confirms."""

from __future__ import annotations

import time
import uuid

import aio_pika

from bench.context import BenchContext
from bench.harness import Figure, median
from services.metrics.models import BUS
from shared.bus import Bus, OutgoingMessage
from shared.db import Notifier, make_engine, make_sessionmaker, unit_of_work
from shared.events import Envelope, WorkspaceCreated
from shared.outbox import Outbox, OutboxRelay

NAME = "bus"


def event(i: int) -> Envelope:
    return Envelope.of(
        WorkspaceCreated(workspace_id=uuid.uuid4(), name=f"w{i}", timezone="UTC"),
        workspace_id=None,
    )


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
        import asyncio

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
        messages = [
            OutgoingMessage(
                routing_key="workspace.created",
                body=e.model_dump_json().encode(),
                message_id=str(e.id),
                correlation_id=str(e.id),
            )
            for e in (event(i) for i in range(n))
        ]
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


async def run(ctx: BenchContext) -> list[Figure]:
    n = 3_000 if ctx.quick else 12_000
    batch = 500
    raw = [await raw_publish_rate(ctx, n, batch) for _ in range(ctx.rounds())]
    publish = [await bus_publish_rate(ctx, n, batch) for _ in range(ctx.rounds())]
    relay = [await relay_rate(ctx, n, batch) for _ in range(ctx.rounds())]
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
    ]
