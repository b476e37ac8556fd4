"""What every service is made of: the runtime (db, bus, outbox, loops) and the app shell.

A service's `app.py` builds a `Runtime` from its settings and tables, starts it in the app's
lifespan with its subscriptions and loops, and includes its routers. Nothing is created at
import time, so a test builds as many apps as it likes, each with its own settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth import InternalTokenMiddleware
from shared.bus import Bus
from shared.consumer import DatabaseGate, IdempotentConsumer, Subscription
from shared.db import BusTables, Notifier, make_engine, make_sessionmaker, unit_of_work
from shared.errors import install_error_handlers
from shared.etag import ETagMiddleware
from shared.inputs import InputGuard, install_data_error_handler
from shared.limits import BodySizeLimitMiddleware
from shared.logs import configure_logging
from shared.loops import Clock, Loop, system_clock
from shared.observability import ServiceMetrics, health_router, mount_observability
from shared.outbox import Outbox, OutboxRelay
from shared.pagination import LinkHeaderMiddleware
from shared.retention import Retention, processed_messages_pruner
from shared.settings import ServiceSettings
from shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Worker = Callable[[], Coroutine[Any, Any, None]]

ALWAYS_OPEN = ("/healthz", "/readyz", "/metrics")


@dataclass
class Runtime:
    settings: ServiceSettings
    tables: BusTables
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    outbox: Outbox
    metrics: ServiceMetrics
    notifier: Notifier
    relay: OutboxRelay
    # Held closed by the consumers while the database is unreachable (shared/consumer.py).
    gate: DatabaseGate
    # The one "now" of the service's code (tests may give another).
    clock: Clock = system_clock
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)
    loop_tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def create(
        cls, settings: ServiceSettings, *, tables: BusTables, notify_channels: Sequence[str] = ()
    ) -> Runtime:
        name = settings.service_name
        engine = make_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            application_name=name,
            statement_timeout_ms=settings.statement_timeout_ms,
        )
        bus = Bus(
            url=settings.amqp_url,
            exchange=settings.exchange_name,
            prefetch=settings.prefetch,
            delivery_limit=settings.delivery_limit,
            name=name,
        )
        notifier = Notifier(settings.database_url, [tables.notify_channel, *notify_channels])
        metrics = ServiceMetrics(name)
        relay = OutboxRelay(
            engine=engine,
            tables=tables,
            bus=bus,
            notifier=notifier,
            batch=settings.outbox_batch,
            metrics=metrics,
        )
        sessions = make_sessionmaker(engine)
        gate = DatabaseGate(
            sessions,
            initial_delay=settings.consumer_backoff_initial_seconds,
            max_delay=settings.consumer_backoff_max_seconds,
            metrics=metrics,
        )
        return cls(
            settings=settings,
            tables=tables,
            engine=engine,
            sessions=sessions,
            bus=bus,
            outbox=Outbox(tables),
            metrics=metrics,
            notifier=notifier,
            relay=relay,
            gate=gate,
        )

    def spawn(self, worker: Worker, name: str) -> None:
        self.tasks.append(asyncio.create_task(self._supervise(worker, name), name=name))

    async def _supervise(self, worker: Worker, name: str) -> None:
        # A loop that crashes is restarted: a transient database or broker error must not
        # leave a replica running without its dispatcher or relay.
        while True:
            try:
                await worker()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker %s crashed; restarting", name)
                await asyncio.sleep(1.0)

    @contextlib.asynccontextmanager
    async def running(
        self,
        *,
        subscriptions: Sequence[Subscription] = (),
        loops: Sequence[Loop] = (),
        workers: Sequence[tuple[str, Worker]] = (),
    ) -> AsyncIterator[Runtime]:
        if self.settings.run_workers:
            loops = [*loops, self._retention()]
            for loop in loops:
                if loop.wake_on is not None:
                    self.notifier.listen(loop.wake_on)
            self.notifier.start()
            await self._declare_queues(subscriptions)
            self.spawn(self.relay.run, "outbox-relay")
            slots = asyncio.Semaphore(
                self.settings.handler_concurrency or self.settings.database_pool_size
            )
            for sub in subscriptions:
                consumer = IdempotentConsumer(
                    name=f"{self.settings.service_name}.{sub.purpose}",
                    handlers=sub.handlers,
                    sessions=self.sessions,
                    tables=self.tables,
                    metrics=self.metrics,
                    slots=slots,
                    gate=self.gate,
                    batch_size=self.settings.consumer_batch,
                    lanes=1 if sub.ordered else self.settings.consumer_lanes,
                )
                self.bus.consume(
                    queue=self.settings.queue_name(sub.purpose),
                    routing_keys=list(sub.handlers),
                    handler=consumer,
                )
            for loop in loops:
                self.loops.append(loop)
                self.spawn(loop.run, loop.name)
                self.loop_tasks.append(self.tasks[-1])
            for name, worker in workers:
                self.spawn(worker, name)
            queues = [self.settings.queue_name(sub.purpose) for sub in subscriptions]
            # Dead-letter queues too: anything above 0 there is for an operator to look at
            # (docs/operations.md, replaying dead letters).
            queues += [f"{queue}.dead" for queue in queues]
            if queues:
                self.spawn(lambda: self._watch_queues(queues), "queue-depth")
        try:
            yield self
        finally:
            await self.shutdown()

    async def _declare_queues(self, subscriptions: Sequence[Subscription]) -> None:
        """This service's queues exist and are bound before its outbox relay publishes: on a
        first start, an event it emits about itself (an audit entry, say) would otherwise reach
        an exchange where its own queue is not bound yet, and be dropped. A broker that is not
        reachable yet does not hold the start up: the consumers declare them when it is."""
        queues = [(self.settings.queue_name(s.purpose), list(s.handlers)) for s in subscriptions]
        if not queues:
            return
        try:
            await asyncio.wait_for(self.bus.declare_queues(queues), timeout=10)
        except Exception as exc:  # noqa: BLE001  (the consumers retry on their own)
            log.warning("queues not declared before start: %s", exc)

    def _retention(self) -> Retention:
        settings = self.settings
        prune = processed_messages_pruner(
            self.sessions, self.tables.processed_messages, batch=settings.retention_batch
        )
        keep_for = timedelta(days=settings.processed_messages_retention_days)
        return Retention(
            self,
            [("processed messages", prune, keep_for)],
            every=settings.retention_interval_seconds,
        )

    async def _watch_queues(self, queues: list[str], every: float = 10.0) -> None:
        """Publishes each of this service's queues' depth: the signal to scale consumers on."""
        depth = self.metrics.gauge(
            "herald_queue_depth", "Messages ready in this service's queues", ["queue"]
        )
        while True:
            for queue, count in (await self.bus.queue_depths(queues)).items():
                depth.labels(queue).set(count)
            await asyncio.sleep(every)

    async def shutdown(self) -> None:
        """Stop taking work, hand back what is unacknowledged, flush the outbox, close."""
        await self.gate.stop()
        await self.bus.stop_consuming()
        for loop in self.loops:
            loop.stop()
        # A loop half-way through a step finishes it (a short wait), then everything is cancelled.
        if self.loop_tasks:
            await asyncio.wait(self.loop_tasks, timeout=2.0)
        await cancel_and_wait(self.tasks)
        self.tasks.clear()
        self.loops.clear()
        self.loop_tasks.clear()
        if self.settings.run_workers:
            try:
                await asyncio.wait_for(self.relay.drain(), 5)
            except Exception as exc:  # noqa: BLE001  (rows stay for the next start)
                log.warning("outbox not flushed at shutdown: %s", exc)
        await self.notifier.stop()
        await self.bus.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.engine.dispose(), 10)

    async def readiness(self) -> dict[str, bool]:
        database = True
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 5)
        except Exception:  # noqa: BLE001  (readiness only reports)
            database = False
        return {"database": database, "broker": await self.bus.is_reachable()}


def service_app(
    *,
    runtime: Runtime,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]],
    open_prefixes: tuple[str, ...] = (),
    version: str = "0.1.0",
    etags: bool = True,
    larger_bodies: dict[str, int] | None = None,
) -> FastAPI:
    settings = runtime.settings
    configure_logging(settings.service_name, settings.log_level)
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    # Innermost: every list page with a next_cursor gets its `Link` header, every resource
    # its ETag and If-Match (a proxy in front of services leaves that to them).
    app.add_middleware(LinkHeaderMiddleware)
    if etags:
        app.add_middleware(ETagMiddleware)
    # Text PostgreSQL cannot store is a 422 before any route runs. Network webhooks are
    # verified and kept as the exact bytes sent, so their bodies are left alone.
    app.add_middleware(InputGuard, raw_body_prefixes=("/hooks/",))
    install_data_error_handler(app)
    app.add_middleware(
        InternalTokenMiddleware,
        tokens=settings.internal_tokens,
        open_prefixes=ALWAYS_OPEN + open_prefixes,
    )
    # Outside everything but request ids and timing: no body above the limit reaches a route.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.request_max_bytes,
        larger=larger_bodies or {},
    )
    mount_observability(app, runtime.metrics)
    app.include_router(health_router(metrics=runtime.metrics, checks=runtime.readiness))
    return app


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# Dependencies are `async def` even when they do no I/O: FastAPI runs a plain `def` one in a
# worker thread, a thread hop on every request for a dictionary lookup.
async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(runtime_of(request).sessions) as session:
        yield session


S = TypeVar("S", bound=ServiceSettings)


def settings_dependency(kind: type[S]) -> Any:
    """The service's settings as a dependency, typed: in a service's `api/deps.py`,
    `SettingsDep = Annotated[SchedulerSettings, settings_dependency(SchedulerSettings)]`."""

    async def get_settings(request: Request) -> S:
        settings = runtime_of(request).settings
        if not isinstance(settings, kind):
            raise TypeError(f"this app runs with {type(settings).__name__}, not {kind.__name__}")
        return settings

    return Depends(get_settings)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# scope="function": the commit finishes before the response is sent, so a client never
# reads a 201 for work that then failed to commit, nor races its own next request.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
