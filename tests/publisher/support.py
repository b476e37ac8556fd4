"""Helpers for the publisher's tests: a sandbox over real HTTP and a tap on the bus."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
from fastapi import FastAPI

from sandbox.app import create_app as create_sandbox
from sandbox.settings import SandboxSettings
from shared.bus import Bus, OutgoingMessage
from shared.events import Envelope, PostDue
from tests.conftest import AMQP_URL
from tests.support.servers import free_port, serve


@contextlib.asynccontextmanager
async def running_sandbox(**overrides: Any) -> AsyncIterator[str]:
    port = free_port()
    settings = SandboxSettings(
        port=port, public_url=f"http://127.0.0.1:{port}", fault_hang_seconds=5.0, **overrides
    )
    async with serve(create_sandbox(settings), port=port) as url:
        yield url


class Tap:
    """A queue of this test's own on the exchange, to read what the publisher emitted."""

    def __init__(self, exchange: str, routing_keys: list[str]) -> None:
        self.exchange = exchange
        self.routing_keys = routing_keys
        self.events: list[Envelope] = []

    async def __aenter__(self) -> Tap:
        self.conn = await aio_pika.connect(AMQP_URL)
        channel = await self.conn.channel()
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in self.routing_keys:
            await queue.bind(exchange, routing_key=key)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                self.events.append(Envelope.model_validate_json(message.body))

        await queue.consume(on_message)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()

    def of(self, event_type: str) -> list[Envelope]:
        return [e for e in self.events if e.type == event_type]

    async def wait(self, event_type: str, count: int = 1, seconds: float = 20) -> list[Envelope]:
        for _ in range(int(seconds / 0.05)):
            if len(self.of(event_type)) >= count:
                return self.of(event_type)
            await asyncio.sleep(0.05)
        raise AssertionError(f"expected {count} {event_type}, got {self.events!r}")


async def wait_consuming(app: FastAPI, queue: str) -> None:
    runtime = app.state.runtime
    for _ in range(200):
        if runtime.bus.consuming.get(queue):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{queue} never started consuming")


def post_due(*, channel: dict[str, Any], text: str, target_id: uuid.UUID | None = None,
             **extra: Any) -> PostDue:
    return PostDue(
        post_id=uuid.uuid4(),
        target_id=target_id or uuid.uuid4(),
        channel_id=uuid.UUID(channel["id"]),
        network=channel["network"],
        text=text,
        due_at=datetime.now(UTC),
        **extra,
    )


async def send(exchange: str, *envelopes: Envelope) -> None:
    bus = Bus(url=AMQP_URL, exchange=exchange)
    try:
        await bus.publish(
            [
                OutgoingMessage(
                    routing_key=e.type, body=e.model_dump_json().encode(), message_id=str(e.id)
                )
                for e in envelopes
            ]
        )
    finally:
        await bus.close()


async def sandbox_posts(sandbox_url: str, network: str, account: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        r = await client.get(f"/_sandbox/{network}/posts", params={"account": account})
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body


async def new_account(sandbox_url: str, network: str, name: str = "Acme") -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        r = await client.post(f"/_sandbox/{network}/accounts", json={"name": name})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


async def network_apps(sandbox_url: str, *networks: str) -> dict[str, dict[str, str]]:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        apps = {}
        for network in networks:
            app = (await client.get(f"/_sandbox/{network}/app")).json()
            apps[network] = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
        return apps


async def put_faults(sandbox_url: str, *rules: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        r = await client.put("/_sandbox/faults", json=list(rules))
        assert r.status_code == 200, r.text
