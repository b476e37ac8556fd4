"""Helpers for the scheduler's tests: a running app with a client, channels, a bus listener."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from services.scheduler.app import create_app
from services.scheduler.models import Post, Target
from services.scheduler.readmodels import record_channel
from services.scheduler.settings import SchedulerSettings
from shared.bus import Bus, OutgoingMessage
from shared.db import unit_of_work
from shared.events import ChannelConnected, Envelope, EventData
from tests.conftest import AMQP_URL
from tests.support.bus import Listener, listening  # noqa: F401  (the tests' bus listener)
from tests.support.servers import lifespan
from tests.support.waits import until


@dataclass
class Scheduler:
    app: FastAPI
    client: httpx.AsyncClient
    settings: SchedulerSettings

    @property
    def runtime(self):  # noqa: ANN201  (shared.service.Runtime)
        return self.app.state.runtime

    async def add_channel(
        self,
        *,
        workspace_id: uuid.UUID,
        network: str = "x",
        timezone: str = "UTC",
        channel_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Records a channel the way the `channel.connected` consumer does."""
        channel_id = channel_id or uuid.uuid4()
        facts = ChannelConnected(
            channel_id=channel_id,
            network=network,
            external_id=f"acct-{channel_id.hex[:8]}",
            name="Test channel",
            timezone=timezone,
            status="active",
        )
        async with unit_of_work(self.runtime.sessions) as session:
            await record_channel(
                session, workspace_id=workspace_id, facts=facts, facts_at=datetime.now(UTC)
            )
        return channel_id

    async def count(self, model: type[Post] | type[Target]) -> int:
        async with self.runtime.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@contextlib.asynccontextmanager
async def running_scheduler(settings: SchedulerSettings) -> AsyncIterator[Scheduler]:
    app = create_app(settings)
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scheduler") as client:
            yield Scheduler(app=app, client=client, settings=settings)


async def wait_consuming(scheduler: Scheduler, *purposes: str) -> None:
    for purpose in purposes:
        queue = scheduler.settings.queue_name(purpose)
        await until(
            lambda q=queue: scheduler.runtime.bus.consuming.get(q),
            timeout=10,
            what=f"{queue} to be consumed",
        )


async def publish(exchange: str, *events: tuple[EventData, uuid.UUID | None]) -> None:
    """Puts events on the bus as another service's outbox relay would."""
    bus = Bus(url=AMQP_URL, exchange=exchange)
    try:
        messages = []
        for data, workspace_id in events:
            envelope = Envelope.of(data, workspace_id=workspace_id)
            messages.append(
                OutgoingMessage(
                    routing_key=envelope.type,
                    body=envelope.model_dump_json().encode(),
                    message_id=str(envelope.id),
                )
            )
        await bus.publish(messages)
    finally:
        await bus.close()


async def eventually(check: Callable[[], object], within: float = 10.0) -> None:
    """Retries a check written as asserts (sync or async) until it stops failing."""

    async def holds() -> bool:
        result = check()
        if asyncio.iscoroutine(result):
            await result
        return True

    await until(holds, timeout=within, what="the check to pass", retry_on=(AssertionError,))
