"""RabbitMQ: one durable topic exchange, quorum queues with dead-lettering, confirmed publishes.

Connections are supervised here rather than left to aio-pika's robust reconnects, which have
known gaps (a failed first connect is never retried; consumers are not always restored): the
consumer loop reconnects, redeclares and resumes by itself, and the publisher reconnects on
the next publish after a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)
from aiormq import spec
from aiormq.abc import ChannelFrame
from aiormq.exceptions import DeliveryError
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

MessageHandler = Callable[[AbstractIncomingMessage], Awaitable[None]]


@dataclass(frozen=True)
class OutgoingMessage:
    routing_key: str
    body: bytes
    message_id: str
    correlation_id: str | None = None
    headers: dict[str, str] | None = None


class Bus:
    # Every queue this process declared: lets a test run remove exactly its own queues
    # without asking the broker to list all of them.
    declared_queues: set[str] = set()

    def __init__(
        self,
        *,
        url: str,
        exchange: str,
        prefetch: int = 64,
        delivery_limit: int = 10,
        name: str = "herald",
    ) -> None:
        self.url = url
        self.exchange_name = exchange
        self.prefetch = prefetch
        self.delivery_limit = delivery_limit
        self.name = name
        self._conn: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()
        self._consumers: list[asyncio.Task[None]] = []
        self._stopping = False
        self.consuming: dict[str, bool] = {}
        # How many times each consumer (re)attached; operators and tests read it.
        self.attached: dict[str, int] = {}

    async def _connect(self) -> AbstractConnection:
        return await aio_pika.connect(
            self.url, client_properties={"connection_name": self.name}, timeout=10
        )

    async def publisher_exchange(self) -> AbstractExchange:
        async with self._lock:
            if self._exchange is not None and self._conn and not self._conn.is_closed:
                return self._exchange
            await self._drop_publisher()
            self._conn = await self._connect()
            self._channel = await self._conn.channel(publisher_confirms=True)
            self._exchange = await self._channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            return self._exchange

    async def _drop_publisher(self) -> None:
        conn, self._conn, self._channel, self._exchange = self._conn, None, None, None
        if conn is not None and not conn.is_closed:
            # Bounded: a broker that stopped answering must not hold a shutdown forever.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publishes persistently and returns once the broker confirmed every message.

        The whole batch goes to the broker as one write on one confirm channel, so the
        messages reach the exchange in order and the confirms come back together. A nack,
        or any other failure, drops the connection and raises: the caller keeps its rows and
        tries again.
        """
        if not messages:
            return
        await self.publisher_exchange()
        assert self._channel is not None
        try:
            channel = cast(aiormq.Channel, await self._channel.get_underlay_channel())
            confirmations = await _write_batch(channel, self.exchange_name, messages)
            try:
                results = await asyncio.gather(*confirmations)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # A closing channel may fail its pending confirms with a cancellation; the
                # caller must see an error it retries, not a cancellation that ends its loop.
                raise ConnectionError("publisher channel closed before confirming") from None
            for result in results:
                if not isinstance(result, spec.Basic.Ack):
                    raise DeliveryError(None, result)
        except BaseException:
            await self._drop_publisher()
            raise

    async def queue_depths(self, queues: Sequence[str]) -> dict[str, int]:
        """Messages waiting in each queue (a passive declare; absent queues are left out)."""
        depths: dict[str, int] = {}
        try:
            await self.publisher_exchange()
            assert self._conn is not None
            channel = await self._conn.channel()
            try:
                for name in queues:
                    try:
                        queue = await channel.declare_queue(name, passive=True)
                    except Exception:  # noqa: BLE001  (not declared yet)
                        channel = await self._conn.channel()
                        continue
                    depths[name] = queue.declaration_result.message_count or 0
            finally:
                with contextlib.suppress(Exception):
                    await channel.close()
        except Exception as exc:  # noqa: BLE001  (a gauge must never take the service down)
            log.debug("queue depth unavailable: %s", exc)
        return depths

    async def declare_queues(self, queues: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Declares and binds `queues` now, so nothing this process publishes from here on
        can reach the exchange before its own queues are bound (a message to an exchange
        with no bound queue is dropped). The consumers declare them again when they start."""
        await self.publisher_exchange()
        assert self._conn is not None
        channel = await self._conn.channel()
        try:
            for queue, routing_keys in queues:
                await self.declare_queue(channel, queue, routing_keys)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    async def is_reachable(self) -> bool:
        try:
            await asyncio.wait_for(self.publisher_exchange(), 5)
            return True
        except Exception:  # noqa: BLE001  (readiness only reports)
            return False

    def consume(
        self, *, queue: str, routing_keys: Sequence[str], handler: MessageHandler
    ) -> None:
        """Starts a supervised consumer on `queue` bound to `routing_keys`."""
        task = asyncio.create_task(
            self._consume_forever(queue, list(routing_keys), handler), name=f"consume:{queue}"
        )
        self._consumers.append(task)

    async def declare_queue(
        self, channel: AbstractChannel, queue: str, routing_keys: Sequence[str]
    ) -> aio_pika.abc.AbstractQueue:
        exchange = await channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        dead_exchange = await channel.declare_exchange(
            f"{queue}.dead", aio_pika.ExchangeType.FANOUT, durable=True
        )
        dead_queue = await channel.declare_queue(
            f"{queue}.dead", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead_queue.bind(dead_exchange)
        q = await channel.declare_queue(
            queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self.delivery_limit,
                "x-dead-letter-exchange": f"{queue}.dead",
            },
        )
        for key in routing_keys:
            await q.bind(exchange, routing_key=key)
        Bus.declared_queues.update({queue, f"{queue}.dead"})
        return q

    async def _consume_forever(
        self, queue: str, routing_keys: list[str], handler: MessageHandler
    ) -> None:
        delay = 0.2
        while not self._stopping:
            conn: AbstractConnection | None = None
            try:
                conn = await self._connect()
                lost = asyncio.Event()
                conn.close_callbacks.add(lambda *_, lost=lost: lost.set())
                channel = await conn.channel()
                await channel.set_qos(prefetch_count=self.prefetch)
                q = await self.declare_queue(channel, queue, routing_keys)
                await q.consume(handler)
                self.consuming[queue] = True
                self.attached[queue] = self.attached.get(queue, 0) + 1
                delay = 0.2
                log.info("consuming %s", queue)
                await lost.wait()
                log.warning("connection for %s lost; reconnecting", queue)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  (reconnect whatever the cause)
                log.warning("consumer %s: %s; retrying in %.1fs", queue, exc, delay)
            finally:
                self.consuming[queue] = False
                if conn is not None and not conn.is_closed:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 5)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def stop_consuming(self) -> None:
        self._stopping = True
        await cancel_and_wait(self._consumers)
        self._consumers.clear()

    async def close(self) -> None:
        await self.stop_consuming()
        async with self._lock:
            await self._drop_publisher()


async def _write_batch(
    channel: aiormq.Channel, exchange: str, messages: Sequence[OutgoingMessage]
) -> list[asyncio.Future[Any]]:
    """Queues every publish of the batch as a single frame write; returns the confirm futures.

    aiormq's own `basic_publish` hands each message to the connection writer separately,
    which costs one socket send (a syscall and a broker wake-up) per message: that, not the
    broker, was most of the publisher's time. This does what `basic_publish` does for each
    message (next delivery tag, a confirm future the channel fails if it closes) but frames
    them into one payload. It relies on aiormq's channel attributes (`lock`, `delivery_tag`,
    `confirmations`, `write_queue`), hence the version bound in pyproject.toml; if anything
    here fails half-way the caller drops the connection, so the channel's counters never
    outlive an inconsistency.
    """
    limit = channel.max_content_size
    async with channel.lock:
        frames: list[Any] = []
        confirmations: list[asyncio.Future[Any]] = []
        for m in messages:
            channel.delivery_tag += 1
            confirmation = channel.create_future()
            channel.confirmations[channel.delivery_tag] = confirmation
            confirmations.append(confirmation)
            frames.append(spec.Basic.Publish(exchange=exchange, routing_key=m.routing_key))
            frames.append(
                ContentHeader(
                    properties=spec.Basic.Properties(
                        content_type="application/json",
                        delivery_mode=2,  # persistent
                        message_id=m.message_id,
                        correlation_id=m.correlation_id,
                        headers=m.headers or {},  # type: ignore[arg-type]
                    ),
                    body_size=len(m.body),
                )
            )
            if 0 < len(m.body) <= limit:
                frames.append(ContentBody(m.body))
            else:
                frames.extend(
                    ContentBody(m.body[i : i + limit]) for i in range(0, len(m.body), limit)
                )
        await channel.write_queue.put(
            ChannelFrame.marshall(channel_number=channel.number, frames=frames)
        )
    return confirmations
