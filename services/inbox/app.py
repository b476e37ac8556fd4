"""The inbox service: everything the audience says, received, threaded and answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import text

from services.inbox import consumers
from services.inbox.api import conversations, hooks, rules, saved_replies
from services.inbox.api.deps import InboxCounters
from services.inbox.models import BUS, RECEIPTS_CHANNEL
from services.inbox.polling import request_due_fetches
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
                    fresh_for=timedelta(hours=settings.poll_fresh_post_hours),
                )
            if claimed < settings.receipt_batch:
                await runtime.notifier.wait(RECEIPTS_CHANNEL, settings.receipt_idle_poll)

    receipts_waiting = asyncio.Event()

    async def receipt_waker() -> None:
        # One NOTIFY per burst of stored receipts, from outside the receivers' transactions,
        # so any replica's worker wakes at once.
        while True:
            await receipts_waiting.wait()
            receipts_waiting.clear()
            async with unit_of_work(runtime.sessions) as session:
                await session.execute(text(f"NOTIFY {RECEIPTS_CHANNEL}"))
            await asyncio.sleep(settings.receipt_wake_interval)

    async def poll_worker() -> None:
        while True:
            async with unit_of_work(runtime.sessions) as session:
                requested = await request_due_fetches(
                    session,
                    outbox=runtime.outbox,
                    now=datetime.now(UTC),
                    fresh_interval=timedelta(seconds=settings.poll_fresh_interval_seconds),
                    stale_interval=timedelta(seconds=settings.poll_stale_interval_seconds),
                    post_window=timedelta(days=settings.poll_post_window_days),
                    batch=settings.poll_batch,
                )
            if requested < settings.poll_batch:
                await asyncio.sleep(settings.poll_tick_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running(
            subscriptions=consumers.subscriptions(runtime),
            workers=[("receipts", receipt_worker), ("polls", poll_worker),
                     ("receipt-waker", receipt_waker)],
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
    app.state.receipts_waiting = receipts_waiting
    app.include_router(hooks.router)
    app.include_router(conversations.router)
    app.include_router(saved_replies.router)
    app.include_router(rules.router)
    return app
