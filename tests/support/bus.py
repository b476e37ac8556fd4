"""The bus listener of the tests: a queue of the test's own on an exchange, collecting the
envelopes of the given event types as the services publish them.

    async with listening(settings.exchange, "post.published") as bus:
        ...
        [published] = await bus.wait("post.published")
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aio_pika

from shared.events import Envelope
from tests.conftest import AMQP_URL


@dataclass
class Listener:
    envelopes: list[Envelope] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def events(self) -> list[Envelope]:
        return self.envelopes

    def of(self, event_type: str) -> list[Envelope]:
        return [e for e in self.envelopes if e.type == event_type]

    async def wait_for(self, predicate: Callable[[Listener], bool], within: float = 10.0) -> None:
        """Until `predicate(self)` holds; woken by each arrival rather than polling."""
        try:
            async with asyncio.timeout(within):
                while not predicate(self):
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            seen = [e.type for e in self.envelopes]
            raise AssertionError(
                f"timed out after {within:g} s waiting on the bus; seen: {seen}"
            ) from None

    async def wait_for_count(self, n: int, within: float = 10.0) -> None:
        await self.wait_for(lambda listener: len(listener.envelopes) >= n, within)

    async def wait(self, event_type: str, count: int = 1, seconds: float = 20) -> list[Envelope]:
        """The envelopes of `event_type`, once at least `count` of them arrived."""
        try:
            await self.wait_for(lambda listener: len(listener.of(event_type)) >= count, seconds)
        except AssertionError as exc:
            raise AssertionError(
                f"expected {count} {event_type}, got {len(self.of(event_type))}: {exc}"
            ) from None
        return self.of(event_type)


@contextlib.asynccontextmanager
async def listening(exchange: str, *event_types: str) -> AsyncIterator[Listener]:
    """A listener bound to `event_types` (routing keys, `#` for all) on `exchange`."""
    listener = Listener()
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for event_type in event_types:
            await queue.bind(ex, routing_key=event_type)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                listener.envelopes.append(Envelope.model_validate_json(message.body))
                listener.arrived.set()

        await queue.consume(on_message)
        yield listener
