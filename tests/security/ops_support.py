"""Helpers of the operations attacks: a database a test can take away, the bus seen from outside."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg

from deploy.runner import Platform
from shared.bus import Bus, OutgoingMessage
from shared.db import asyncpg_dsn
from shared.events import ChannelConnected, Envelope
from tests.conftest import AMQP_URL, delete_bus_objects
from tests.e2e.conftest import platform_config
from tests.support.tcp_proxy import TcpProxy
from tests.support.waits import until


@contextlib.asynccontextmanager
async def database_proxy(database_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test's PostgreSQL; yields it and the database URL through it."""
    parts = urlsplit(database_url)
    proxy = TcpProxy(target_host=parts.hostname or "localhost", target_port=parts.port or 5432)
    await proxy.start()
    user = f"{parts.username}@" if parts.username else ""
    proxied = urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))
    try:
        yield proxy, proxied
    finally:
        await proxy.stop()


def take_database_away(proxy: TcpProxy) -> None:
    """Every open connection drops and new ones are refused, as when PostgreSQL goes down."""
    proxy.accepting = False
    proxy.cut()


def bring_database_back(proxy: TcpProxy) -> None:
    proxy.accepting = True


def channel_connected(workspace_id: uuid.UUID) -> Envelope:
    channel_id = uuid.uuid4()
    return Envelope.of(
        ChannelConnected(
            channel_id=channel_id,
            network="x",
            external_id=f"acct-{channel_id.hex[:8]}",
            name="Acme on X",
            timezone="",
            status="active",
        ),
        workspace_id=workspace_id,
    )


def outgoing(envelope: Envelope) -> OutgoingMessage:
    return OutgoingMessage(
        routing_key=envelope.type,
        body=envelope.model_dump_json().encode(),
        message_id=str(envelope.id),
    )


async def publish(exchange: str, envelopes: list[Envelope]) -> None:
    """Publishes as a service's outbox relay does (confirmed, persistent)."""
    producer = Bus(url=AMQP_URL, exchange=exchange)
    try:
        await producer.publish([outgoing(e) for e in envelopes])
    finally:
        await producer.close()


async def queue_depth(queue: str) -> int:
    connection = await aio_pika.connect(AMQP_URL, timeout=15)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0


async def scalar(database_url: str, sql: str, *args: Any) -> Any:
    """One value read straight from PostgreSQL (not through any proxy)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def wait_until(
    check: Callable[[], Awaitable[Any]], *, seconds: float = 60, what: str = "condition"
) -> Any:
    return await until(check, timeout=seconds, every=0.1, what=what)


async def deadletters(*args: str) -> str:
    """Runs `python -m shared.deadletters ARGS` as an operator would; returns what it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.deadletters",
        *args,
        env={**os.environ, "HERALD_AMQP_URL": AMQP_URL},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


SERVICES = ("gateway", "scheduler", "publisher", "inbox", "metrics")


@contextlib.asynccontextmanager
async def platform_with_env(
    database_url: str, bus_prefix: str, tmp_path: Path, env: dict[str, dict[str, str]]
) -> AsyncIterator[Platform]:
    """The whole platform as processes (as the `platform` fixture), with extra settings."""
    config = platform_config(database_url, bus_prefix, tmp_path=tmp_path)
    config.extra_env = env
    running = Platform(config)
    try:
        await running.start()
        yield running
    finally:
        running.stop()
        await delete_bus_objects(bus_prefix, kinds=("queues",))
