"""The metrics service: measures what worked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.metrics import consumers
from services.metrics.api import best_times, documents, ga4, links, posts, reports
from services.metrics.api import campaigns as campaigns_api
from services.metrics.best_times import BestTimesLoop
from services.metrics.collection import COLLECT_CHANNEL, CollectionLoop
from services.metrics.ga4 import GA4_CHANNEL, Ga4Loop
from services.metrics.models import BUS
from services.metrics.report_jobs import REPORT_CHANNEL, ReportLoop
from services.metrics.settings import MetricsSettings
from shared.service import Runtime, service_app


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    settings = settings or MetricsSettings()
    runtime = Runtime.create(
        settings, tables=BUS, notify_channels=[COLLECT_CHANNEL, REPORT_CHANNEL, GA4_CHANNEL]
    )
    collector = CollectionLoop(runtime, settings)
    best = BestTimesLoop(runtime, settings)
    report_loop = ReportLoop(runtime, settings)
    ga4_loop = Ga4Loop(runtime, settings)
    subscriptions = consumers.subscriptions(runtime, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running(
            subscriptions=subscriptions,
            workers=[
                ("collector", collector.run),
                ("best-times", best.run),
                ("reports", report_loop.run),
                ("ga4", ga4_loop.run),
            ],
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
    app.state.settings = settings
    app.state.collector = collector
    app.state.best_times = best
    app.state.reports = report_loop
    app.state.ga4 = ga4_loop
    app.include_router(posts.router)
    app.include_router(reports.router)
    app.include_router(best_times.router)
    app.include_router(links.router)
    app.include_router(documents.router)
    app.include_router(ga4.router)
    app.include_router(campaigns_api.router)
    return app
