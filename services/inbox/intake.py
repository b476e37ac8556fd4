"""The receivers' write path: verified webhooks committed to `inbox.receipts`, many per commit.

Every receiver waits for its receipt to be committed before it answers 200, so a 200 always
means "kept". Committing each webhook on its own costs a transaction (and a WAL flush) per
request and capped ingest far below what the HTTP layer can take; here concurrent requests
join the next batch instead: one `INSERT … SELECT FROM unnest(…)` statement per batch, each
writer on its own plain asyncpg connection (no ORM, no session, no pool checkout with its
pre-ping or reset round trips). A few batches are in flight at once, so a burst never waits
behind a single commit.

The worker that turns receipts into messages is woken by one NOTIFY per burst, sent from its
own short statement after the batch commits: a NOTIFY inside the inserting transaction would
serialise every batch's commit on PostgreSQL's notification queue lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass, field

import asyncpg

from services.inbox.models import RECEIPTS_CHANNEL
from services.inbox.normalise import Identity
from services.inbox.settings import InboxSettings
from shared.db import asyncpg_dsn

log = logging.getLogger(__name__)

# `inbox.receipts.event_key` is VARCHAR(300); a delivery that batches many events can name
# more ids than that, so long keys are replaced by their digest (still one key per event set).
EVENT_KEY_MAX = 300

INSERT = """
INSERT INTO inbox.receipts (network, event_key, account_id, status, body)
SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::bytea[])
ON CONFLICT (network, event_key) DO NOTHING
RETURNING network, event_key
"""


def fit_event_key(key: str) -> str:
    if len(key) <= EVENT_KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class IntakeFull(RuntimeError):
    """More webhooks wait to be written than the writer keeps in memory: the receiver answers
    503 and the network delivers the webhook again later."""


@dataclass
class _Pending:
    network: str
    event_key: str
    account_id: str | None
    status: str
    body: bytes
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ReceiptWriter:
    """Stores receipts in batches; `store` returns once its receipt is committed."""

    def __init__(
        self,
        database_url: str,
        *,
        connections: int = 2,
        max_batch: int = 500,
        wake_interval: float = 0.02,
        max_pending: int = 10_000,
        max_pending_bytes: int = 64 * 1024 * 1024,
        statement_timeout_ms: int = 0,
    ) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.connections = connections
        self.max_batch = max_batch
        self.wake_interval = wake_interval
        # While the database is slow or away, waiting webhooks pile up here: bounded, so a
        # flood costs 503s (the networks retry) rather than the process's memory.
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self.server_settings = {"application_name": "herald-inbox-intake"}
        if statement_timeout_ms > 0:
            self.server_settings["statement_timeout"] = str(statement_timeout_ms)
        self._queue: list[_Pending] = []
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def for_settings(cls, settings: InboxSettings) -> ReceiptWriter:
        return cls(
            settings.database_url,
            connections=settings.intake_connections,
            max_batch=settings.intake_max_batch,
            wake_interval=settings.receipt_wake_interval,
            max_pending=settings.intake_max_pending,
            max_pending_bytes=settings.intake_max_pending_bytes,
            statement_timeout_ms=settings.statement_timeout_ms,
        )

    async def start(self) -> None:
        self._running = True
        self._tasks = [
            asyncio.create_task(self._flush_forever(), name=f"receipt-writer-{n}")
            for n in range(self.connections)
        ]
        self._tasks.append(asyncio.create_task(self._wake_forever(), name="receipt-waker"))

    async def stop(self) -> None:
        # Requests still waiting get their batch written before the connections close.
        if self._queue:
            conn = await self._connect()
            try:
                while self._queue:
                    await self._flush(conn, self._take())
            finally:
                await conn.close()
        self._running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn, server_settings=self.server_settings)

    async def store(self, *, network: str, identity: Identity, body: bytes) -> bool:
        """Keeps the raw webhook once per network event; False when it is a redelivery."""
        if not self._running:
            raise RuntimeError("the receipt writer is not running")
        if (
            len(self._queue) >= self.max_pending
            or self._pending_bytes + len(body) > self.max_pending_bytes
        ):
            raise IntakeFull(
                f"{len(self._queue)} webhooks ({self._pending_bytes} bytes) already wait"
            )
        pending = _Pending(
            network=network,
            event_key=fit_event_key(identity.event_key),
            account_id=identity.account_id,
            status="pending" if identity.understood else "unknown",
            body=body,
        )
        self._queue.append(pending)
        self._pending_bytes += len(body)
        self._ready.set()
        # Shielded: a client that hangs up must not cancel the write other requests share.
        return await asyncio.shield(pending.done)

    def _take(self) -> list[_Pending]:
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        self._pending_bytes -= sum(len(p.body) for p in batch)
        if not self._queue:
            self._ready.clear()
        return batch

    async def _flush_forever(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while True:
                await self._ready.wait()
                if conn is None or conn.is_closed():
                    try:
                        conn = await self._connect()
                    except Exception as exc:  # noqa: BLE001  (the waiting requests get a 503)
                        self._fail(self._take(), exc)
                        await asyncio.sleep(0.5)
                        continue
                batch = self._take()
                if batch:
                    await self._flush(conn, batch)
        finally:
            if conn is not None:
                conn.terminate()

    def _fail(self, batch: list[_Pending], exc: Exception) -> None:
        log.warning("receipts not stored (%d in the batch): %s", len(batch), exc)
        for p in batch:
            if not p.done.done():
                p.done.set_exception(exc)

    async def _flush(self, conn: asyncpg.Connection, batch: list[_Pending]) -> None:
        try:
            rows = await conn.fetch(
                INSERT,
                [p.network for p in batch],
                [p.event_key for p in batch],
                [p.account_id for p in batch],
                [p.status for p in batch],
                [p.body for p in batch],
            )
        except Exception as exc:  # noqa: BLE001  (every waiting request learns it failed)
            self._fail(batch, exc)
            # After an error the connection's state is unknown: start afresh.
            conn.terminate()
            return
        inserted = {(r["network"], r["event_key"]) for r in rows}
        woke = False
        for p in batch:
            key = (p.network, p.event_key)
            # The same event twice in one batch: the first copy is the one stored.
            stored = key in inserted
            inserted.discard(key)
            if stored and p.status == "pending":
                woke = True
            if not p.done.done():
                p.done.set_result(stored)
        if woke:
            self._wake.set()

    async def _wake_forever(self) -> None:
        # At most one NOTIFY per `wake_interval`: a burst of batches wakes the workers once.
        conn: asyncpg.Connection | None = None
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                started = time.monotonic()
                try:
                    if conn is None or conn.is_closed():
                        conn = await self._connect()
                    await conn.execute(f"NOTIFY {RECEIPTS_CHANNEL}")
                except Exception as exc:  # noqa: BLE001  (the workers' idle poll finds the rows)
                    log.warning("could not wake the receipt workers: %s", exc)
                    conn = None
                await asyncio.sleep(max(0.0, self.wake_interval - (time.monotonic() - started)))
        finally:
            if conn is not None:
                conn.terminate()
