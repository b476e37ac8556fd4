"""Bulk loading of benchmark datasets: the tables' keys and indexes are dropped during the
load and rebuilt after it, because one sorted build per index is many times faster than
maintaining every index row by row (on this machine 1,000,000 random-UUID rows into the
scheduler's targets take ~25 s through its five indexes, ~5 s without them)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg


async def connect(dsn: str) -> asyncpg.Connection:
    """A connection, waiting for a free slot while the server is full (a shared machine)."""
    for _ in range(60):
        try:
            return await asyncpg.connect(dsn)
        except asyncpg.TooManyConnectionsError:
            await asyncio.sleep(2)
    return await asyncpg.connect(dsn)


async def drop_indexes(conn: asyncpg.Connection, tables: list[str]) -> list[list[str]]:
    """Drops the foreign keys touching `tables`, then their primary keys and indexes; returns
    the statements that put them back, in groups to run in order (keys and indexes, then the
    foreign keys, which need the keys)."""
    oids = [await conn.fetchval("SELECT $1::regclass::oid", t) for t in tables]
    foreign = await conn.fetch(
        "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE contype = 'f' AND (conrelid = ANY($1) OR confrelid = ANY($1))",
        oids,
    )
    for fk in foreign:
        await conn.execute(f"ALTER TABLE {fk['tbl']} DROP CONSTRAINT {fk['conname']}")
    keys_and_indexes = []
    for table in tables:
        for name, definition in await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = $1::regclass AND contype IN ('p', 'u')",
            table,
        ):
            await conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            keys_and_indexes.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        schema, _, bare = table.rpartition(".")
        for name, definition in await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
            schema or "public",
            bare,
        ):
            await conn.execute(f"DROP INDEX {schema or 'public'}.{name}")
            keys_and_indexes.append(definition)
    foreign_keys = [
        f"ALTER TABLE {fk['tbl']} ADD CONSTRAINT {fk['conname']} {fk['def']}" for fk in foreign
    ]
    return [keys_and_indexes, foreign_keys]


async def rebuild(dsn: str, statements: list[str], *, parallel: int = 1) -> None:
    """Runs the statements over `parallel` connections. One is the fastest here: PostgreSQL
    sorts each index build with parallel workers of its own, and two builds side by side on
    two cores took 76 s against 61 s one after the other (10,000,000 samples)."""
    if not statements:
        return
    lanes = [statements[i::parallel] for i in range(parallel)]

    async def lane(batch: list[str]) -> None:
        conn = await connect(dsn)
        try:
            await conn.execute("SET maintenance_work_mem = '2GB'")
            for statement in batch:
                await conn.execute(statement)
        finally:
            await conn.close()

    await asyncio.gather(*(lane(b) for b in lanes if b))


@contextlib.asynccontextmanager
async def indexes_dropped(dsn: str, tables: list[str]) -> AsyncIterator[None]:
    """Within: the tables have no keys, indexes or foreign keys; after: all rebuilt."""
    conn = await connect(dsn)
    try:
        groups = await drop_indexes(conn, tables)
    finally:
        await conn.close()
    yield
    for group in groups:
        await rebuild(dsn, group)
