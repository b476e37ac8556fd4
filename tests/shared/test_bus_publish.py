"""Bus.publish against the real RabbitMQ: what a consumer receives, message by message."""

import asyncio
import uuid

import aio_pika
import pytest

from shared.bus import Bus, OutgoingMessage
from tests.conftest import AMQP_URL


async def read_all(
    queue: aio_pika.abc.AbstractQueue, n: int
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    async with asyncio.timeout(30):
        async with queue.iterator() as it:
            async for message in it:
                await message.ack()
                got.append(message)
                if len(got) == n:
                    break
    return got


async def test_each_message_keeps_its_properties_body_and_place_in_the_batch(bus_prefix):
    exchange_name = f"{bus_prefix}herald"
    bus = Bus(url=AMQP_URL, exchange=exchange_name)
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="#")
        # Bodies from empty to several frames long (the broker's frame_max is 128 KiB).
        sizes = [0, 1, 131_064, 131_072, 300_001, 17]
        messages = [
            OutgoingMessage(
                routing_key=f"post.k{i}",
                body=bytes((i + j) % 251 for j in range(size)),
                message_id=str(uuid.uuid4()),
                correlation_id=str(uuid.uuid4()) if i % 2 else None,
                headers={"traceparent": f"00-{i:032x}-{i:016x}-01"} if i % 3 else None,
            )
            for i, size in enumerate(sizes * 50)
        ]
        await bus.publish(messages[:150])
        await bus.publish(messages[150:])
        got = await read_all(queue, len(messages))
    await bus.close()

    assert [m.message_id for m in got] == [m.message_id for m in messages]
    for sent, received in zip(messages, got, strict=True):
        assert received.body == sent.body
        assert received.routing_key == sent.routing_key
        assert received.correlation_id == sent.correlation_id
        assert (received.headers or {}) == (sent.headers or {})
        assert received.content_type == "application/json"
        assert received.delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_a_publish_to_a_missing_exchange_raises_and_the_next_one_reconnects(bus_prefix):
    bus = Bus(url=AMQP_URL, exchange=f"{bus_prefix}herald")
    message = OutgoingMessage(routing_key="x.y", body=b"{}", message_id=str(uuid.uuid4()))
    await bus.publish([message])
    # Deleting the exchange under the publisher makes the broker close its channel.
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.exchange_delete(f"{bus_prefix}herald")
    with pytest.raises(Exception):  # noqa: B017  (whatever aiormq reports for the closed channel)
        await bus.publish([message, message])
    await bus.publish([message])  # redeclares the exchange on a fresh connection
    await bus.close()
