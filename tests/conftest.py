"""Test infrastructure: a throwaway database per test and a bus prefix per test, for real.

Every run creates a template database migrated with every service's Alembic tree once, then
each test that asks for `database_url` gets its own copy of it (CREATE DATABASE … TEMPLATE),
dropped afterwards. Every test that asks for `bus_prefix` gets its own exchange and queue
names; the run deletes them at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import aio_pika
import asyncpg
import pytest

from shared import busadmin
from shared.auth import (
    INTERNAL_TOKEN_HEADER,
    PRINCIPAL_HEADER,
    ROLE_HEADER,
    TIMEZONE_HEADER,
    WORKSPACE_HEADER,
)
from shared.bus import Bus
from shared.migrations import ROOT, SERVICES, upgrade
from shared.settings import ServiceSettings

PG_HOST = os.environ.get("HERALD_TEST_PG", "postgresql://postgres@localhost:5432")
AMQP_URL = os.environ.get("HERALD_TEST_AMQP_URL", "amqp://guest:guest@localhost:5672/")
INTERNAL_TOKEN = "test-internal-token"
RUN_ID = uuid.uuid4().hex[:8]
_counter = itertools.count(1)

S = TypeVar("S", bound=ServiceSettings)


def sqlalchemy_url(database: str) -> str:
    return PG_HOST.replace("postgresql://", "postgresql+asyncpg://") + "/" + database


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(PG_HOST + "/postgres")


@pytest.fixture(scope="session")
async def template_database() -> AsyncIterator[str]:
    name = f"herald_t{RUN_ID}_tpl"
    conn = await _admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = sqlalchemy_url(name)
    # Alembic's env runs its own event loop, so it runs in a thread.
    for service in SERVICES:
        if (ROOT / "services" / service / "migrations" / "env.py").exists():
            await asyncio.to_thread(upgrade, service, url)
    yield name
    conn = await _admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def database_url(template_database: str) -> AsyncIterator[str]:
    name = f"herald_t{RUN_ID}_{next(_counter)}"
    conn = await _admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await conn.close()
    yield sqlalchemy_url(name)
    conn = await _admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def _bus_cleanup() -> AsyncIterator[str]:
    prefix = f"t{RUN_ID}"
    yield prefix
    await delete_bus_objects(prefix)


async def delete_bus_objects(prefix: str, kinds: tuple[str, ...] = ("queues", "exchanges")) -> None:
    """The run's queues and exchanges on the test broker (see shared.busadmin)."""
    await busadmin.delete_bus_objects(AMQP_URL, prefix, kinds)


@pytest.fixture
async def bus_prefix(_bus_cleanup: str) -> AsyncIterator[str]:
    prefix = f"{_bus_cleanup}_{next(_counter)}."
    yield prefix
    # Quorum queues are heavy for a single broker: remove each test's as soon as it ends
    # rather than letting hundreds pile up until the end of the run. Queues declared by
    # other processes (the platform tests) are removed by those tests' fixtures.
    mine = sorted(q for q in Bus.declared_queues if q.startswith(prefix))
    if mine:
        Bus.declared_queues.difference_update(mine)
        with contextlib.suppress(Exception):
            connection = await aio_pika.connect(AMQP_URL, timeout=15)
            async with connection:
                channel = await connection.channel()
                for queue in mine:
                    await channel.queue_delete(queue)


@pytest.fixture
def make_settings(database_url: str, bus_prefix: str) -> Callable[..., Any]:
    """Builds a service's settings pointed at this test's database and bus prefix."""

    def build(cls: type[S], **overrides: Any) -> S:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "amqp_url": AMQP_URL,
            "bus_prefix": bus_prefix,
            "internal_token": INTERNAL_TOKEN,
            "log_level": "WARNING",
        }
        values.update(overrides)
        return cls(**values)

    return build


def identity(
    workspace_id: uuid.UUID | str, role: str = "owner", timezone: str = "UTC"
) -> dict[str, str]:
    """The headers the gateway forwards for an authenticated API key."""
    return {
        INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN,
        WORKSPACE_HEADER: str(workspace_id),
        ROLE_HEADER: role,
        PRINCIPAL_HEADER: f"key-{role}",
        TIMEZONE_HEADER: timezone,
    }
