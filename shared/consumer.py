"""The idempotent consumer: each message's effects commit once, whatever the broker redelivers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import BusTables, unit_of_work
from shared.events.envelope import Envelope
from shared.logs import correlation_id_var, traceparent_var
from shared.observability import ServiceMetrics

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]


@dataclass
class Subscription:
    """One queue of a service (`<service>.<purpose>`) and the handler for each event type."""

    purpose: str
    handlers: dict[str, Handler] = field(default_factory=dict)


class IdempotentConsumer:
    def __init__(
        self,
        *,
        name: str,
        handlers: dict[str, Handler],
        sessions: async_sessionmaker[AsyncSession],
        tables: BusTables,
        metrics: ServiceMetrics,
        slots: asyncio.Semaphore | None = None,
    ) -> None:
        self.name = name
        # Shared by the process's consumers: a delivered message waits here, unacknowledged,
        # rather than inside the connection pool where a long wait ends in a timeout.
        self.slots = slots or asyncio.Semaphore(1_000_000)
        self.handlers = handlers
        self.sessions = sessions
        self.processed = tables.processed_messages
        self.metrics = metrics

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError:
            log.error("unreadable message on %s; dead-lettering it", self.name)
            self.metrics.consumed.labels(self.name, "poison").inc()
            await message.reject(requeue=False)
            return
        handler = self.handlers.get(envelope.type)
        if handler is None:
            await message.ack()
            return
        correlation_id_var.set(envelope.correlation_id)
        traceparent_var.set(envelope.traceparent)
        try:
            async with self.slots:
                outcome = await self.handle(envelope, handler)
        except Exception:
            log.exception("handler for %s failed on %s", envelope.type, self.name)
            self.metrics.consumed.labels(self.name, "error").inc()
            # Back to the queue; the quorum queue's delivery limit dead-letters a message that
            # keeps failing instead of retrying it forever.
            await message.nack(requeue=True)
            return
        self.metrics.consumed.labels(self.name, outcome).inc()
        await message.ack()

    async def handle(self, envelope: Envelope, handler: Handler) -> str:
        async with unit_of_work(self.sessions) as session:
            first_time = await session.execute(
                pg_insert(self.processed)
                .values(consumer=self.name, message_id=str(envelope.id))
                .on_conflict_do_nothing()
                .returning(self.processed.c.message_id)
            )
            if first_time.first() is None:
                return "duplicate"
            await handler(session, envelope)
        return "handled"
