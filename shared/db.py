"""Database access: the engine, the one commit point, bus tables and LISTEN/NOTIFY wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


async def insert_once(
    session: AsyncSession, model: type[Any], *, keys: Sequence[Any], **values: Any
) -> bool:
    """Inserts the row unless one with the same `keys` is there (events arrive at least once,
    so a fact recorded twice must count once). True when this call inserted it."""
    inserted = await session.execute(
        pg_insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(*keys)
    )
    return inserted.first() is not None


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    application_name: str = "herald",
    statement_timeout_ms: int = 0,
) -> AsyncEngine:
    server_settings = {"application_name": application_name}
    if statement_timeout_ms > 0:
        # A runaway query (or one a client made expensive) is cancelled by PostgreSQL instead
        # of holding a connection and its locks for ever.
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # A liveness ping before each checkout: a connection the server dropped (a restart, a
        # cut) is replaced before a request uses it, so the request does not fail with a 500.
        # It costs a round trip per checkout on the read path; dropping it needs requests to
        # retry on a dead connection first.
        pool_pre_ping=True,
        # Errors and logs never carry bound values: they hold tokens, secrets and messages.
        hide_parameters=True,
        connect_args={"server_settings": server_settings},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@contextlib.asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The one commit point: requests, consumers and loops all go through here.

    Domain code only flushes; what it did is committed together, or not at all.
    """
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def asyncpg_dsn(url: str) -> str:
    """SQLAlchemy's `postgresql+asyncpg://` URL in the form asyncpg itself takes."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass(frozen=True)
class BusTables:
    outbox: Table
    processed_messages: Table
    notify_channel: str


def bus_tables(metadata: MetaData) -> BusTables:
    """The outbox and the idempotency record, in the service's own schema."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(always=False), primary_key=True),
        Column("event_id", PG_UUID(as_uuid=True), nullable=False),
        Column("routing_key", String(200), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("attempts", Integer, nullable=False, server_default="0"),
    )
    processed = Table(
        "processed_messages",
        metadata,
        Column("consumer", String(200), nullable=False),
        Column("message_id", Text, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "message_id"),
    )
    return BusTables(
        outbox=outbox, processed_messages=processed, notify_channel=f"{metadata.schema}_outbox"
    )


class Notifier:
    """Wakes a sleeping loop early when PostgreSQL says `NOTIFY <channel>`.

    Keeps its own connection and reconnects on loss; while disconnected, loops simply fall
    back to their poll interval, so a lost notification costs latency, never work.

    A listener that needs what was said, not only that something was (`on_payload`, called
    with the channel and the payload), must also know when it may have missed something:
    `on_listening(True)` once every channel is listened to again, `on_listening(False)` when
    the connection is lost.
    """

    def __init__(
        self,
        url: str,
        channels: list[str],
        *,
        on_payload: Callable[[str, str], None] | None = None,
        on_listening: Callable[[bool], None] | None = None,
    ) -> None:
        self.dsn = asyncpg_dsn(url)
        self.channels = channels
        self.events = {name: asyncio.Event() for name in channels}
        self.on_payload = on_payload
        self.on_listening = on_listening
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        event = self.events.get(channel)
        if event is not None:
            event.set()
        if self.on_payload is not None:
            self.on_payload(channel, payload)

    def _listening(self, now: bool) -> None:
        if self.on_listening is not None:
            self.on_listening(now)

    async def _keep_listening(self) -> None:
        while True:
            try:
                self._conn = await asyncpg.connect(self.dsn)
                for name in self.channels:
                    await self._conn.add_listener(name, self._on_notify)
                # Anything that happened while we were away is found by the next drain.
                for event in self.events.values():
                    event.set()
                lost = asyncio.Event()
                self._conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                self._listening(True)
                await lost.wait()
            except asyncio.CancelledError:
                self._listening(False)
                raise
            except Exception as exc:  # noqa: BLE001  (reconnect whatever the cause)
                log.warning("notify listener lost: %s", exc)
            self._listening(False)
            await asyncio.sleep(1.0)

    def listen(self, channel: str) -> None:
        """Adds a channel before `start` (a loop's `wake_on`)."""
        if channel not in self.events:
            self.channels.append(channel)
            self.events[channel] = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_listening(), name="notifier")

    async def stop(self) -> None:
        if self._task:
            await cancel_and_wait([self._task])
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def wait(self, channel: str, timeout: float) -> None:  # noqa: ASYNC109
        event = self.events[channel]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()
