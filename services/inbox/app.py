"""The inbox service: everything the audience says, received, threaded and answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.inbox import consumers
from services.inbox.api import conversations, hooks
from services.inbox.api.deps import InboxCounters
from services.inbox.models import BUS, RECEIPTS_CHANNEL
from services.inbox.receipts import process_receipts
from services.inbox.settings import InboxSettings
from shared.db import unit_of_work
from shared.service import Runtime, service_app


def create_app(settings: InboxSettings | None = None) -> FastAPI:
    settings = settings or InboxSettings()
    runtime = Runtime.create(settings, tables=BUS, notify_channels=[RECEIPTS_CHANNEL])

    async def receipt_worker() -> None:
        while True:
            async with unit_of_work(runtime.sessions) as session:
                claimed = await process_receipts(
                    session,
                    outbox=runtime.outbox,
                    batch=settings.receipt_batch,
                    max_attempts=settings.receipt_max_attempts,
                )
            if claimed < settings.receipt_batch:
                await runtime.notifier.wait(RECEIPTS_CHANNEL, settings.receipt_idle_poll)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running(
            subscriptions=consumers.subscriptions(runtime),
            workers=[("receipts", receipt_worker)],
        ):
            yield

    app = service_app(
        runtime=runtime,
        title="Herald inbox",
        description="Comments, mentions and messages from every network, in one place.",
        lifespan=lifespan,
        open_prefixes=("/hooks/",),
    )
    app.state.counters = InboxCounters.create(runtime.metrics)
    app.include_router(hooks.router)
    app.include_router(conversations.router)
    return app
