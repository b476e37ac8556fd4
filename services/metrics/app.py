"""The metrics service: measures what worked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.metrics import consumers
from services.metrics.api import posts
from services.metrics.models import BUS
from services.metrics.settings import MetricsSettings
from shared.service import Runtime, service_app


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    settings = settings or MetricsSettings()
    runtime = Runtime.create(settings, tables=BUS)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running(subscriptions=consumers.subscriptions(runtime)):
            yield

    app = service_app(
        runtime=runtime,
        title="Herald metrics",
        description="Engagement over time, best time to post, short links and conversions.",
        lifespan=lifespan,
        open_prefixes=("/l/",),
    )
    app.include_router(posts.router)
    return app
