"""Fixtures of the inbox tests: a real inbox (and sandbox) over HTTP, and ways to feed it."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.inbox.app import create_app
from services.inbox.settings import InboxSettings
from shared.bus import Bus, OutgoingMessage
from shared.db import asyncpg_dsn
from shared.events import ChannelConnected, Envelope, EventData, PostPublished
from tests.conftest import AMQP_URL, identity
from tests.support.bus import listening
from tests.support.servers import free_port, serve
from tests.support.waits import until

X_SECRET = "x-consumer-secret-for-tests"


def x_sign(body: bytes, secret: str = X_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }


@dataclass
class Inbox:
    """A running inbox: its URL, a client, its database and a way to publish events to it."""

    url: str
    client: httpx.AsyncClient
    settings: InboxSettings
    app: Any
    bus: Bus
    workspace_id: uuid.UUID = field(default_factory=uuid.uuid4)
    listeners: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def publish(self, data: EventData, workspace_id: uuid.UUID | None = None) -> Envelope:
        envelope = Envelope.of(data, workspace_id=workspace_id or self.workspace_id)
        await self.bus.publish(
            [
                OutgoingMessage(
                    routing_key=envelope.type,
                    body=envelope.model_dump_json().encode(),
                    message_id=str(envelope.id),
                )
            ]
        )
        return envelope

    async def connect_channel(
        self, *, network: str, external_id: str, workspace_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        channel_id = uuid.uuid4()
        await self.publish(
            ChannelConnected(
                channel_id=channel_id, network=network, external_id=external_id,
                name=f"{network} {external_id}", timezone="UTC", status="active",
            ),
            workspace_id,
        )
        return channel_id

    async def publish_post(
        self, *, channel_id: uuid.UUID, network: str, external_id: str
    ) -> uuid.UUID:
        post_id = uuid.uuid4()
        await self.publish(
            PostPublished(
                post_id=post_id, target_id=uuid.uuid4(), channel_id=channel_id, network=network,
                external_id=external_id, published_at=datetime.now(UTC),
            )
        )
        return post_id

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(asyncpg_dsn(self.settings.database_url))
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def conversations(self, **params: Any) -> dict[str, Any]:
        r = await self.client.get(
            "/v1/conversations", params=params, headers=identity(self.workspace_id)
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def wait_for(
        self, check: Callable[[], Any], timeout: float = 10.0  # noqa: ASYNC109
    ) -> Any:
        """Polls `check` (sync or async) until it returns something truthy."""
        return await until(check, timeout=timeout)

    async def spy(self) -> list[Envelope]:
        """Every event published on this test's exchange from now on, in arrival order."""
        spy = listening(self.settings.exchange_name, "#")
        return (await self.listeners.enter_async_context(spy)).envelopes

    async def wait_consuming(self) -> None:
        runtime = self.app.state.runtime
        for purpose in ("channels", "posts", "replies"):
            queue = self.settings.queue_name(purpose)
            await self.wait_for(lambda q=queue: runtime.bus.consuming.get(q))


@pytest.fixture
def inbox_port() -> int:
    return free_port()


@pytest.fixture
def start_inbox(
    make_settings: Callable[..., InboxSettings], inbox_port: int
) -> Callable[..., Any]:
    """Starts the inbox on `inbox_port` with the given app secrets (an async context)."""

    def start(
        network_apps: dict[str, dict[str, str]] | None = None,
        clock: ManualClock | None = None,
        **overrides: Any,
    ) -> Any:
        settings = make_settings(
            InboxSettings,
            network_apps=network_apps or {"x": {"client_secret": X_SECRET}},
            **overrides,
        )
        return _running(settings, inbox_port, clock)

    return start


class ManualClock:
    """The inbox's clock, moved by the test: hours of traffic replayed without waiting."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class _running:
    def __init__(self, settings: InboxSettings, port: int, clock: ManualClock | None) -> None:
        self.settings = settings
        self.port = port
        self.clock = clock

    async def __aenter__(self) -> Inbox:
        self.app = (
            create_app(self.settings, clock=self.clock) if self.clock else create_app(self.settings)
        )
        self._serve = serve(self.app, port=self.port)
        url = await self._serve.__aenter__()
        self.client = httpx.AsyncClient(base_url=url, timeout=10)
        self.bus = Bus(url=AMQP_URL, exchange=self.settings.exchange_name)
        inbox = Inbox(url=url, client=self.client, settings=self.settings, app=self.app,
                      bus=self.bus)
        await inbox.wait_consuming()
        self.inbox = inbox
        return inbox

    async def __aexit__(self, *exc: object) -> None:
        await self.inbox.listeners.aclose()
        await self.client.aclose()
        await self.bus.close()
        await self._serve.__aexit__(*exc)


@pytest.fixture
async def inbox(start_inbox: Callable[..., Any]) -> AsyncIterator[Inbox]:
    async with start_inbox() as running:
        yield running
