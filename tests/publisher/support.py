"""Helpers for the publisher's tests: a sandbox over real HTTP and a tap on the bus."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from sandbox.app import create_app as create_sandbox
from sandbox.settings import SandboxSettings
from shared.bus import Bus, OutgoingMessage
from shared.events import Envelope, PostDue
from tests.conftest import AMQP_URL
from tests.support.bus import Listener, listening
from tests.support.servers import free_port, serve
from tests.support.waits import until


@contextlib.asynccontextmanager
async def running_sandbox(**overrides: Any) -> AsyncIterator[str]:
    port = free_port()
    settings = SandboxSettings(
        port=port, public_url=f"http://127.0.0.1:{port}", fault_hang_seconds=5.0, **overrides
    )
    async with serve(create_sandbox(settings), port=port) as url:
        yield url


def Tap(exchange: str, routing_keys: list[str]) -> AbstractAsyncContextManager[Listener]:  # noqa: N802
    """A queue of this test's own on the exchange, to read what the publisher emitted."""
    return listening(exchange, *routing_keys)


async def wait_consuming(app: FastAPI, queue: str) -> None:
    runtime = app.state.runtime
    await until(lambda: runtime.bus.consuming.get(queue), timeout=10, what=f"{queue} consumed")


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
