"""The transactional outbox: events are rows committed with the state change they describe.

`Outbox.add` writes the row inside the caller's transaction (and a NOTIFY that fires only on
commit); `OutboxRelay` publishes committed rows in order with publisher confirms and deletes
them afterwards. Work that rolled back leaves no event; a crash between commit and publish
leaves the row for the next relay, and consumers drop the duplicate a crash after publish
but before delete can cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.bus import Bus, OutgoingMessage
from shared.db import BusTables, Notifier
from shared.events.envelope import Envelope
from shared.observability import ServiceMetrics

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, tables: BusTables) -> None:
        self.table = tables.outbox
        self.channel = tables.notify_channel

    async def add(self, session: AsyncSession, *envelopes: Envelope) -> None:
        if not envelopes:
            return
        await session.execute(
            self.table.insert(),
            [
                {
                    "event_id": e.id,
                    "routing_key": e.type,
                    "body": e.model_dump_json().encode(),
                }
                for e in envelopes
            ],
        )
        await session.execute(text(f"NOTIFY {self.channel}"))


class OutboxRelay:
    """Publishes the outbox. Several replicas may run it; one at a time holds the batch."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        tables: BusTables,
        bus: Bus,
        notifier: Notifier,
        batch: int = 500,
        idle_poll: float = 1.0,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.table = tables.outbox
        self.channel = tables.notify_channel
        self.bus = bus
        self.notifier = notifier
        self.batch = batch
        self.idle_poll = idle_poll
        self.metrics = metrics
        # One advisory lock per schema keeps the order: the oldest rows go first, always.
        self.lock_key = zlib.crc32(f"outbox:{self.table.schema}".encode())
        self.published = 0

    async def drain_once(self) -> int:
        async with self.engine.begin() as conn:
            got = await conn.scalar(select(func.pg_try_advisory_xact_lock(self.lock_key)))
            if not got:
                return 0
            rows = (
                await conn.execute(
                    select(self.table.c.id, self.table.c.event_id, self.table.c.routing_key,
                           self.table.c.body)
                    .order_by(self.table.c.id)
                    .limit(self.batch)
                )
            ).all()
            if not rows:
                return 0
            await self.bus.publish(
                [
                    OutgoingMessage(
                        routing_key=row.routing_key,
                        body=row.body,
                        message_id=str(row.event_id),
                    )
                    for row in rows
                ]
            )
            await conn.execute(delete(self.table).where(self.table.c.id.in_([r.id for r in rows])))
        self.published += len(rows)
        if self.metrics is not None:
            self.metrics.outbox_published.inc(len(rows))
        return len(rows)

    async def drain(self) -> int:
        total = 0
        while True:
            n = await self.drain_once()
            total += n
            if n < self.batch:
                return total

    async def run(self) -> None:
        delay = 0.2
        measured = 0.0
        while True:
            try:
                await self.drain()
                delay = 0.2
                # The backlog is what operators alert on when the broker is away; counting
                # the (normally tiny) table every few seconds is cheap enough.
                if self.metrics is not None and time.monotonic() - measured > 5:
                    self.metrics.outbox_backlog.set(await self.backlog())
                    measured = time.monotonic()
                await self.notifier.wait(self.channel, self.idle_poll)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  (the rows stay; try again shortly)
                log.warning("outbox relay: %s; retrying in %.1fs", exc, delay)
                if self.metrics is not None:
                    with contextlib.suppress(Exception):
                        self.metrics.outbox_backlog.set(await self.backlog())
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def backlog(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(self.table)) or 0)
