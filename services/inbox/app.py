"""The inbox service: everything the audience says, received, threaded and answered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from services.inbox import consumers, contests, crisis
from services.inbox.api import alerts, conversations, hooks, rules, saved_replies
from services.inbox.api import contests as contests_api
from services.inbox.api.deps import InboxCounters
from services.inbox.api.fastpath import HookFastPath
from services.inbox.intake import ReceiptWriter
from services.inbox.models import BUS, CONTESTS_CHANNEL, RECEIPTS_CHANNEL
from services.inbox.polling import request_due_fetches
from services.inbox.receipts import process_receipts
from services.inbox.retention import receipt_retention
from services.inbox.scorers import analyser_for
from services.inbox.settings import InboxSettings
from shared.db import unit_of_work
from shared.service import Runtime, service_app

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


def create_app(settings: InboxSettings | None = None, *, clock: Clock = wall_clock) -> FastAPI:
    """`clock` is the time receipt retries and crisis windows are measured by (the wall clock
    unless a caller, such as a test replaying a day of traffic, supplies its own)."""
    settings = settings or InboxSettings()
    runtime = Runtime.create(
        settings, tables=BUS, notify_channels=[RECEIPTS_CHANNEL, CONTESTS_CHANNEL]
    )
    counters = InboxCounters.create(runtime.metrics)
    analyser = analyser_for(settings)
    writer = ReceiptWriter(
        settings.database_url,
        connections=settings.intake_connections,
        max_batch=settings.intake_max_batch,
        wake_interval=settings.receipt_wake_interval,
        max_pending=settings.intake_max_pending,
        max_pending_bytes=settings.intake_max_pending_bytes,
        statement_timeout_ms=settings.statement_timeout_ms,
    )

    async def receipt_worker() -> None:
        while True:
            async with unit_of_work(runtime.sessions) as session:
                claimed = await process_receipts(
                    session,
                    outbox=runtime.outbox,
                    batch=settings.receipt_batch,
                    max_attempts=settings.receipt_max_attempts,
                    now=clock(),
                    retry_first=settings.receipt_retry_seconds,
                    retry_most=settings.receipt_retry_max_seconds,
                    fresh_for=timedelta(hours=settings.poll_fresh_post_hours),
                    analyser=analyser,
                )
            if claimed:
                # New messages may have tipped a scope into (or out of) a crisis.
                crisis_due.set()
            if claimed < settings.receipt_batch:
                await runtime.notifier.wait(RECEIPTS_CHANNEL, settings.receipt_idle_poll)

    crisis_due = asyncio.Event()

    async def crisis_worker() -> None:
        while True:
            started = asyncio.get_running_loop().time()
            async with unit_of_work(runtime.sessions) as session:
                result = await crisis.evaluate(session, outbox=runtime.outbox, now=clock())
            counters.crisis_evaluations.labels("skipped" if result is None else "done").inc()
            # A storm keeps the receipt worker busy; one evaluation per interval is enough.
            pause = settings.crisis_min_interval_seconds - (
                asyncio.get_running_loop().time() - started
            )
            if pause > 0:
                await asyncio.sleep(pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(crisis_due.wait(), settings.crisis_tick_seconds)
            crisis_due.clear()

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

    async def contest_worker() -> None:
        retry = timedelta(seconds=settings.contest_retry_seconds)
        while True:
            async with unit_of_work(runtime.sessions) as session:
                handled = await contests.run_due(
                    session, outbox=runtime.outbox, now=clock(), retry=retry
                )
            if handled:
                continue
            async with unit_of_work(runtime.sessions) as session:
                due = await contests.next_due(session)
            # Sleeps until the next end or draw time (a new contest's NOTIFY wakes it sooner);
            # a due contest another replica holds locked is looked at again shortly.
            pause = settings.contest_tick_seconds
            if due is not None:
                pause = min(pause, max((due - clock()).total_seconds(), 0.1))
            await runtime.notifier.wait(CONTESTS_CHANNEL, pause)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The receivers store through the writer whether or not this process also runs the
        # workers: a receivers-only replica (INBOX_RUN_WORKERS=false) leaves processing to
        # others, which the writer's NOTIFY wakes.
        await writer.start()
        try:
            async with runtime.running(
                subscriptions=consumers.subscriptions(runtime, analyser=analyser),
                workers=[
                    ("receipts", receipt_worker),
                    ("polls", poll_worker),
                    ("crisis", crisis_worker),
                    ("receipt-retention", receipt_retention(runtime, settings)),
                    ("contests", contest_worker),
                ],
            ):
                yield
        finally:
            await writer.stop()

    app = service_app(
        runtime=runtime,
        title="Herald inbox",
        description="Comments, mentions and messages from every network, in one place.",
        lifespan=lifespan,
        open_prefixes=("/hooks/",),
    )
    app.state.counters = counters
    if settings.hooks_fast_path:
        app.add_middleware(
            HookFastPath,
            settings=settings,
            writer=writer,
            counters=counters,
            metrics=runtime.metrics,
        )
    app.state.receipt_writer = writer
    app.state.analyser = analyser
    app.include_router(hooks.router)
    app.include_router(conversations.router)
    app.include_router(saved_replies.router)
    app.include_router(rules.router)
    app.include_router(alerts.router)
    app.include_router(contests_api.router)
    return app
