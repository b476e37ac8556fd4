"""Forgetting by age: rows that only record the past are deleted once they are old enough.

Every service prunes its `processed_messages` (the idempotency record: a redelivery comes
within minutes of the first delivery, so days of it are plenty); services add their own tables
(the inbox's webhook receipts, the gateway's webhook deliveries and attempts) with the same
helper. Deleting runs in small batches, one transaction each, so it never holds locks for
long nor builds one huge transaction; every replica may run it, deleting what another already
deleted costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, Table, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import unit_of_work
from shared.loops import Loop

if TYPE_CHECKING:
    from shared.service import Runtime

log = logging.getLogger(__name__)

# One pruning step: deletes what is older than `before`, returns how many rows went.
Prune = Callable[[datetime], Awaitable[int]]


async def delete_older_than(
    sessions: async_sessionmaker[AsyncSession],
    table: Table,
    column: str,
    *,
    before: datetime,
    batch: int,
    keep_when: str = "",
) -> int:
    """Deletes `table`'s rows whose `column` is before `before`, `batch` rows per transaction.

    `keep_when` is an SQL condition on the table's own columns for rows that stay whatever
    their age (work not done yet). Table, column and condition come from the code, never
    from a request.
    """
    name = f"{table.schema}.{table.name}" if table.schema else table.name
    condition = f"{column} < :before" + (f" AND NOT ({keep_when})" if keep_when else "")
    # ctid = ANY(ARRAY(...)): a TID scan of the chosen rows, where `IN (SELECT ...)` would
    # join against the whole table.
    statement = text(
        f"DELETE FROM {name} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {name} WHERE {condition} LIMIT :batch))"
    )
    total = 0
    while True:
        async with unit_of_work(sessions) as session:
            result = await session.execute(statement, {"before": before, "batch": batch})
        deleted = result.rowcount if isinstance(result, CursorResult) else 0
        total += deleted
        if deleted < batch:
            return total


def pruner(
    sessions: async_sessionmaker[AsyncSession],
    table: Table,
    column: str,
    *,
    batch: int,
    keep_when: str = "",
) -> Prune:
    """A pruning step over `table` by the age in `column` (see `delete_older_than`)."""

    async def prune(before: datetime) -> int:
        return await delete_older_than(
            sessions, table, column, before=before, batch=batch, keep_when=keep_when
        )

    return prune


def processed_messages_pruner(
    sessions: async_sessionmaker[AsyncSession], table: Table, *, batch: int
) -> Prune:
    return pruner(sessions, table, "processed_at", batch=batch)


def retention_loop(
    steps: Sequence[tuple[str, Prune, timedelta]], *, every: float
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A worker that runs each `(what, prune, keep_for)` step every `every` seconds."""

    async def run() -> None:
        while True:
            now = datetime.now(UTC)
            for what, prune, keep_for in steps:
                deleted = await prune(now - keep_for)
                if deleted:
                    log.info("retention: %d %s older than %s deleted", deleted, what, keep_for)
            await asyncio.sleep(every)

    return run


class Retention(Loop):
    """Runs each `(what, prune, keep_for)` step every `every` seconds, "now" from the runtime's
    clock. A step deletes in batches until nothing old is left, so there is never more to do
    at once: `step` answers 0 and the loop waits out its pause."""

    name = "retention"

    def __init__(
        self, runtime: Runtime, steps: Sequence[tuple[str, Prune, timedelta]], *, every: float
    ) -> None:
        super().__init__(runtime, batch=1, every=every)
        self.steps = list(steps)

    async def step(self) -> int:
        now = self.clock()
        for what, prune, keep_for in self.steps:
            deleted = await prune(now - keep_for)
            if deleted:
                log.info("retention: %d %s older than %s deleted", deleted, what, keep_for)
        return 0
