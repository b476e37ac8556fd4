"""The metrics service: measures what worked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.metrics import consumers, workers
from services.metrics.api import best_times, campaigns, documents, ga4, links, posts, reports
from services.metrics.models import BUS
from services.metrics.settings import MetricsSettings
from shared.service import Runtime, service_app


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    settings = settings or MetricsSettings()
    runtime = Runtime.create(settings, tables=BUS)
    loops = workers.loops(runtime, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running(
            subscriptions=consumers.subscriptions(runtime, settings), loops=loops
        ):
            yield

    app = service_app(
        runtime=runtime,
        title="Herald metrics",
        description="Engagement over time, best time to post, short links and conversions.",
        lifespan=lifespan,
        # Short links and report downloads (signed links) are reached without an API key.
        open_prefixes=("/l/", "/reports/"),
    )
    # By name, for tests that drive one step at a time.
    app.state.loops = {loop.name: loop for loop in loops}
    for router in (posts, reports, best_times, links, documents, ga4, campaigns):
        app.include_router(router.router)
    return app
