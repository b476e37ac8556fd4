"""The idempotent consumer: each message's effects commit once, whatever the broker redelivers.

A handler that fails is one of two things. A handler error (a bug, a message the code cannot
take) goes back to the queue and counts against its delivery limit, so a message that keeps
failing ends in the dead-letter queue instead of being retried forever. An infrastructure error
(the database unreachable, a connection dropped, a timeout) says nothing about the message:
counting it would dead-letter every message in flight within seconds of an outage. Such a
message is held, unacknowledged, while the process's `DatabaseGate` waits for the database
with an exponential delay; the prefetch window fills with held messages, so the broker stops
delivering; once the database answers, the held messages are handled and consumption resumes,
none of it counted against the delivery limit.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

import asyncpg
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import BusTables, unit_of_work
from shared.events.envelope import Envelope, EventData
from shared.logs import correlation_id_var, traceparent_var
from shared.observability import ServiceMetrics
from shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]

E = TypeVar("E", bound=EventData)
# Covariant: a handler written for a family of events (`ChannelFacts`) takes each member.
E_co = TypeVar("E_co", bound=EventData, covariant=True)


class MessageRefused(ValueError):
    """A message its handler cannot take (wrong shape, no workspace): a handler error, so it
    counts against the delivery limit and ends in the dead-letter queue."""


@dataclass(frozen=True)
class Received(Generic[E_co]):
    """A delivered event, its payload parsed and checked against the handler's model."""

    data: E_co
    envelope: Envelope

    @property
    def workspace_id(self) -> uuid.UUID:
        if self.envelope.workspace_id is None:
            raise MessageRefused(f"{self.envelope.type} {self.envelope.id} has no workspace_id")
        return self.envelope.workspace_id

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at


TypedHandler = Callable[[AsyncSession, Received[E]], Awaitable[None]]


def on(model: type[E], handler: TypedHandler[E]) -> tuple[str, Handler]:
    """`handler` for `model`'s event type: the wrapper parses the payload into `model`, so the
    handler gets typed data (a payload of another shape is refused, never half-handled)."""

    async def typed(session: AsyncSession, envelope: Envelope) -> None:
        try:
            data = envelope.parsed()
        except (ValidationError, LookupError) as exc:
            raise MessageRefused(f"{envelope.type} v{envelope.version}: {exc}") from exc
        if not isinstance(data, model):
            raise MessageRefused(f"{envelope.type} v{envelope.version} is not {model.__name__}")
        await handler(session, Received(data=data, envelope=envelope))

    typed.__name__ = getattr(handler, "__name__", typed.__name__)
    return model.event_type, typed


# Errors that come from reaching the database, not from the message: connection refused or
# dropped, server shutting down or refusing connections, out of resources, timeouts.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    sa_exc.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)


def is_infrastructure_error(error: BaseException) -> bool:
    """Whether `error`, or anything it was raised from, is about reaching the database."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, INFRASTRUCTURE_ERRORS):
            return True
        if isinstance(current, sa_exc.DBAPIError):
            if current.connection_invalidated:
                return True
            if isinstance(current.orig, BaseException) and is_infrastructure_error(current.orig):
                return True
        current = current.__cause__ or current.__context__
    return False


@dataclass
class Subscription:
    """One queue of a service (`<service>.<purpose>`) and the handler for each event type."""

    purpose: str
    handlers: dict[str, Handler] = field(default_factory=dict)
    # One batch at a time, so handlers see messages in the order they were delivered (a
    # message that fails and is redelivered comes back later, like any redelivery).
    ordered: bool = False

    @classmethod
    def of(
        cls, purpose: str, *handlers: tuple[str, Handler], ordered: bool = False
    ) -> Subscription:
        """`Subscription.of("posts", on(PostPublished, on_published), ...)`."""
        return cls(purpose=purpose, handlers=dict(handlers), ordered=ordered)


class DatabaseGate:
    """Open while the database answers; closed from an infrastructure error until it does again.

    One per process, shared by its consumers: they all depend on the same database. While it
    is closed one task probes the database with `SELECT 1`, waiting `initial_delay` seconds
    before the first probe and twice as long after each failure, up to `max_delay`.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        initial_delay: float = 0.5,
        max_delay: float = 30.0,
        probe_timeout: float = 5.0,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.sessions = sessions
        self.initial_delay = initial_delay
        self.max_delay = max_delay
        self.probe_timeout = probe_timeout
        self._open = asyncio.Event()
        self._open.set()
        self._stopped = asyncio.Event()
        self._lock = asyncio.Lock()
        self._prober: asyncio.Task[None] | None = None
        self._paused = (
            metrics.gauge(
                "herald_consumers_paused",
                "1 while consumers hold their messages because the database is unreachable",
            )
            if metrics is not None
            else None
        )

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    async def wait_open(self) -> bool:
        """Waits until the gate is open; False when the process is stopping instead."""
        if self._open.is_set():
            return True
        opened = asyncio.ensure_future(self._open.wait())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({opened, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            opened.cancel()
            stopped.cancel()
        return not self._stopped.is_set()

    async def outage(self) -> bool:
        """After an infrastructure error: True (and the gate closed) when the database is down.

        A database that answers at once means the error was the message's own (a statement
        that timed out, a connection dropped and already replaced): it counts as usual.
        """
        async with self._lock:
            if not self._open.is_set():
                return True
            if await self.probe():
                return False
            self._open.clear()
            if self._paused is not None:
                self._paused.set(1)
            log.warning("database unreachable; consumers hold their messages until it answers")
            self._prober = asyncio.create_task(self._recover(), name="database-gate")
            return True

    async def probe(self) -> bool:
        try:
            async with self.sessions() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), self.probe_timeout)
            return True
        except Exception:  # noqa: BLE001  (any failure means: not yet)
            return False

    async def _recover(self) -> None:
        delay = self.initial_delay
        while True:
            await asyncio.sleep(delay)
            if await self.probe():
                break
            delay = min(delay * 2, self.max_delay)
            log.info("database still unreachable; next check in %.1fs", delay)
        self._open.set()
        if self._paused is not None:
            self._paused.set(0)
        log.warning("database answers again; consumers resume")

    async def stop(self) -> None:
        """Releases held messages without an answer (the broker takes them back) and stops."""
        self._stopped.set()
        if self._prober is not None:
            await cancel_and_wait([self._prober])


@dataclass(eq=False)
class _Delivery:
    message: AbstractIncomingMessage
    envelope: Envelope
    handler: Handler
    # Set once a batch took the message; `answered` once it was acked, nacked or let go.
    taken: bool = False
    answered: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def answer(self) -> None:
        if not self.answered.done():
            self.answered.set_result(None)


@dataclass(eq=False)
class _Batch:
    deliveries: list[_Delivery]
    # After a handler error the batch is handled one message at a time, so the failing one
    # is nacked (and counted against its delivery limit) alone.
    alone: bool = False


class IdempotentConsumer:
    """Handles delivered messages in batches: one transaction, one insert of their ids, acks.

    Every delivered message waits in `pending`; whichever delivery gets a lane and a slot takes
    up to `batch_size` of them (the prefetch window fills while a batch runs, so batches grow
    with the load and stay single under a trickle), runs their handlers in delivery order in
    one transaction, commits, and acks them. A handler error rolls the batch back and handles
    its messages one by one, so only the failing message goes back to the queue.
    """

    def __init__(
        self,
        *,
        name: str,
        handlers: dict[str, Handler],
        sessions: async_sessionmaker[AsyncSession],
        tables: BusTables,
        metrics: ServiceMetrics,
        slots: asyncio.Semaphore | None = None,
        gate: DatabaseGate | None = None,
        batch_size: int = 64,
        lanes: int = 2,
    ) -> None:
        self.name = name
        # Shared by the process's consumers: a delivered message waits here, unacknowledged,
        # rather than inside the connection pool where a long wait ends in a timeout.
        self.slots = slots or asyncio.Semaphore(1_000_000)
        self.gate = gate or DatabaseGate(sessions)
        self.handlers = handlers
        self.sessions = sessions
        self.processed = tables.processed_messages
        self.metrics = metrics
        self.batch_size = max(1, batch_size)
        # Batches of this consumer in flight at once. Few, so that what is delivered while
        # they run gathers into the next batch instead of each message taking a free slot
        # (and a transaction) of its own.
        self.lanes = asyncio.Semaphore(max(1, lanes))
        self.pending: deque[_Delivery] = deque()
        # One statement for any batch size, so its plan and SQLAlchemy's compiled form are
        # cached instead of one multi-row VALUES per size.
        table = self.processed
        qualified = f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'
        self._record = text(
            f"INSERT INTO {qualified} (consumer, message_id) "
            "SELECT :consumer, unnest(CAST(:ids AS text[])) "
            "ON CONFLICT DO NOTHING RETURNING message_id"
        )

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        """Returns once the message is answered (acked or nacked), or let go at shutdown."""
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
        delivery = _Delivery(message, envelope, handler)
        self.pending.append(delivery)
        held: _Batch | None = None
        try:
            while held is not None or not delivery.taken:
                if not await self.gate.wait_open():
                    return  # stopping: unacknowledged, the broker hands them out again
                async with self.lanes, self.slots:
                    if held is None:
                        if delivery.taken:
                            break
                        held = self._take()
                    if await self._settle(held):
                        held = None
            await delivery.answered
        finally:
            # Cancelled or stopping: what this task took or still waits is let go unanswered.
            if not delivery.taken:
                self.pending.remove(delivery)
            if held is not None:
                for other in held.deliveries:
                    other.answer()

    def _take(self) -> _Batch:
        deliveries: list[_Delivery] = []
        while self.pending and len(deliveries) < self.batch_size:
            delivery = self.pending.popleft()
            delivery.taken = True
            deliveries.append(delivery)
        return _Batch(deliveries)

    async def _settle(self, batch: _Batch) -> bool:
        """Answers every message of `batch`; False when the database is down and the rest of
        the batch is held (unacknowledged, not counted) until it answers again."""
        if not batch.alone:
            try:
                outcomes = await self.handle(batch.deliveries)
            except Exception as error:
                if is_infrastructure_error(error) and await self.gate.outage():
                    log.warning(
                        "%d messages on %s held: %s", len(batch.deliveries), self.name, error
                    )
                    self.metrics.consumed.labels(self.name, "unavailable").inc(
                        len(batch.deliveries)
                    )
                    return False
                if len(batch.deliveries) > 1:
                    log.warning("a batch on %s failed; handling its messages one by one", self.name)
                    batch.alone = True
                else:
                    await self._failed(batch.deliveries.pop())
                    return True
            else:
                for delivery, outcome in zip(batch.deliveries, outcomes, strict=True):
                    await self._done(delivery, outcome)
                batch.deliveries.clear()
                return True
        while batch.deliveries:
            delivery = batch.deliveries[0]
            try:
                (outcome,) = await self.handle([delivery])
            except Exception as error:
                if is_infrastructure_error(error) and await self.gate.outage():
                    log.warning("%s on %s held: %s", delivery.envelope.type, self.name, error)
                    self.metrics.consumed.labels(self.name, "unavailable").inc()
                    return False
                await self._failed(delivery)
            else:
                await self._done(delivery, outcome)
            batch.deliveries.pop(0)
        return True

    async def _done(self, delivery: _Delivery, outcome: str) -> None:
        self.metrics.consumed.labels(self.name, outcome).inc()
        try:
            await delivery.message.ack()
        finally:
            delivery.answer()

    async def _failed(self, delivery: _Delivery) -> None:
        log.exception("handler for %s failed on %s", delivery.envelope.type, self.name)
        self.metrics.consumed.labels(self.name, "error").inc()
        try:
            # Back to the queue; the quorum queue's delivery limit dead-letters a message
            # that keeps failing instead of retrying it forever.
            await delivery.message.nack(requeue=True)
        finally:
            delivery.answer()

    async def handle(self, deliveries: list[_Delivery]) -> list[str]:
        """Runs the handlers of the messages not handled before, in order, in one transaction."""
        async with unit_of_work(self.sessions) as session:
            ids = [str(d.envelope.id) for d in deliveries]
            result = await session.execute(
                self._record, {"consumer": self.name, "ids": list(dict.fromkeys(ids))}
            )
            first_time = set(result.scalars())
            outcomes: list[str] = []
            for delivery, message_id in zip(deliveries, ids, strict=True):
                if message_id not in first_time:
                    outcomes.append("duplicate")
                    continue
                first_time.discard(message_id)  # the same message twice in one batch
                correlation_id_var.set(delivery.envelope.correlation_id)
                traceparent_var.set(delivery.envelope.traceparent)
                await delivery.handler(session, delivery.envelope)
                # The next handler's queries see what this one did (autoflush is off).
                await session.flush()
                outcomes.append("handled")
        return outcomes
