"""The outbox relay and the idempotent consumer against the real PostgreSQL and RabbitMQ."""

import asyncio
import uuid
from urllib.parse import urlsplit

import aio_pika
from sqlalchemy import text

from services.metrics.models import BUS
from services.metrics.settings import MetricsSettings
from shared.bus import Bus, OutgoingMessage
from shared.consumer import IdempotentConsumer
from shared.db import Notifier, make_engine, make_sessionmaker, unit_of_work
from shared.events import Envelope, WorkspaceCreated
from shared.observability import ServiceMetrics
from shared.outbox import Outbox, OutboxRelay
from tests.conftest import AMQP_URL
from tests.support.tcp_proxy import TcpProxy
from tests.support.waits import until


def created(name: str) -> Envelope:
    return Envelope.of(
        WorkspaceCreated(workspace_id=uuid.uuid4(), name=name, timezone="UTC"),
        workspace_id=None,
    )


async def collect(exchange_name: str, n: int, seconds: float = 10) -> list[Envelope]:
    """Reads `n` events from a private queue bound to the exchange."""
    connection = await aio_pika.connect(AMQP_URL)
    got: list[Envelope] = []
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="#")
        yield_ready.set()
        async with asyncio.timeout(seconds):
            async with queue.iterator() as it:
                async for message in it:
                    async with message.process():
                        got.append(Envelope.model_validate_json(message.body))
                    if len(got) >= n:
                        break
    return got


yield_ready = asyncio.Event()


async def test_relay_publishes_committed_events_in_order_and_never_rolled_back_ones(
    make_settings,
):
    settings = make_settings(MetricsSettings)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    outbox = Outbox(BUS)
    bus = Bus(url=AMQP_URL, exchange=settings.exchange_name)
    notifier = Notifier(settings.database_url, [BUS.notify_channel])
    relay = OutboxRelay(engine=engine, tables=BUS, bus=bus, notifier=notifier, batch=7)

    yield_ready.clear()
    reader = asyncio.create_task(collect(settings.exchange_name, 20))
    await yield_ready.wait()

    for i in range(20):
        async with unit_of_work(sessions) as session:
            await outbox.add(session, created(f"ok-{i}"))
        try:
            async with unit_of_work(sessions) as session:
                await outbox.add(session, created(f"rolled-back-{i}"))
                raise RuntimeError("the state change failed")
        except RuntimeError:
            pass

    assert await relay.drain() == 20
    got = await reader
    assert [e.data["name"] for e in got] == [f"ok-{i}" for i in range(20)]
    assert await relay.backlog() == 0
    await bus.close()
    await engine.dispose()


async def test_consumer_resumes_after_losing_its_connection_and_handles_each_message_once(
    make_settings,
):
    settings = make_settings(MetricsSettings)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    amqp = urlsplit(AMQP_URL)
    proxy = TcpProxy(target_host=amqp.hostname or "localhost", target_port=amqp.port or 5672)
    await proxy.start()
    proxied_url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"

    handled: list[str] = []

    async def handler(session, envelope):
        await session.execute(text("SELECT 1"))
        handled.append(envelope.data["name"])

    consumer_bus = Bus(url=proxied_url, exchange=settings.exchange_name, prefetch=5)
    consumer = IdempotentConsumer(
        name="metrics.test",
        handlers={"workspace.created": handler},
        sessions=sessions,
        tables=BUS,
        metrics=ServiceMetrics("metrics"),
    )
    queue = settings.queue_name("test")
    consumer_bus.consume(queue=queue, routing_keys=["workspace.created"], handler=consumer)
    await until(lambda: consumer_bus.consuming.get(queue), timeout=20, what="the consumer")

    producer = Bus(url=AMQP_URL, exchange=settings.exchange_name)

    def message(e: Envelope) -> OutgoingMessage:
        return OutgoingMessage(
            routing_key=e.type, body=e.model_dump_json().encode(), message_id=str(e.id)
        )

    first = [created(f"before-{i}") for i in range(10)]
    await producer.publish([message(e) for e in first])
    await until(lambda: len(handled) >= 10, timeout=20, what="the first ten handled")

    # Cut the consumer off the broker; publish while it is away, and redeliver one it already
    # handled, as a broker does after a lost ack.
    assert proxy.cut() >= 1
    later = [created(f"after-{i}") for i in range(10)]
    await producer.publish([message(e) for e in later] + [message(first[0])])

    await until(lambda: len(handled) >= 20, timeout=20, what="all twenty handled")
    # A quiet moment is the check: the redelivered one, handled twice, would show up here.
    await asyncio.sleep(0.3)
    assert consumer_bus.attached[queue] >= 2, "the consumer attached again after the cut"
    assert sorted(handled) == sorted([f"before-{i}" for i in range(10)] + [
        f"after-{i}" for i in range(10)
    ])
    await consumer_bus.close()
    await producer.close()
    await proxy.stop()
    await engine.dispose()
