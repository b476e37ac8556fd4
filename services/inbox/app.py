"""The inbox service: everything the audience says, received, threaded and answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.inbox import consumers, workers
from services.inbox.api import alerts, conversations, hooks, rules, saved_replies, sla
from services.inbox.api import contests as contests_api
from services.inbox.counters import InboxCounters
from services.inbox.fastpath import HookFastPath
from services.inbox.intake import ReceiptWriter
from services.inbox.models import BUS, CONTESTS_CHANNEL, RECEIPTS_CHANNEL
from services.inbox.scorers import analyser_for
from services.inbox.settings import InboxSettings
from shared.loops import Clock, system_clock
from shared.service import Runtime, service_app

ROUTERS = (hooks, conversations, saved_replies, rules, alerts, contests_api, sla)


def create_app(settings: InboxSettings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    """`clock` is the time receipt retries and crisis windows are measured by (the wall clock
    unless a caller, such as a test replaying a day of traffic, supplies its own)."""
    settings = settings or InboxSettings()
    runtime = Runtime.create(
        settings, tables=BUS, notify_channels=[RECEIPTS_CHANNEL, CONTESTS_CHANNEL]
    )
    runtime.clock = clock
    counters = InboxCounters.create(runtime.metrics)
    analyser = analyser_for(settings)
    writer = ReceiptWriter.for_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The receivers store through the writer whether or not this process also runs the
        # loops: a receivers-only replica (INBOX_RUN_WORKERS=false) leaves processing to
        # others, which the writer's NOTIFY wakes.
        await writer.start()
        try:
            async with runtime.running(
                subscriptions=consumers.subscriptions(runtime, analyser=analyser),
                loops=workers.loops(runtime, settings, analyser=analyser, counters=counters),
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
    app.state.receipt_writer = writer
    app.state.analyser = analyser
    if settings.hooks_fast_path:
        app.add_middleware(
            HookFastPath,
            settings=settings,
            writer=writer,
            counters=counters,
            metrics=runtime.metrics,
        )
    for module in ROUTERS:
        app.include_router(module.router)
    return app
