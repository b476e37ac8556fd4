"""The scheduler service: the content calendar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from services.scheduler import consumers
from services.scheduler.api import calendar as calendar_api
from services.scheduler.api import campaigns as campaigns_api
from services.scheduler.api import channels as channels_api
from services.scheduler.api import freezes as freezes_api
from services.scheduler.api import posts
from services.scheduler.api import review as review_api
from services.scheduler.api import settings as settings_api
from services.scheduler.api import templates as templates_api
from services.scheduler.channels import ChannelLookup
from services.scheduler.dispatch import dispatcher
from services.scheduler.ical import FEED_PATH
from services.scheduler.models import BUS
from services.scheduler.posts import DUE_CHANNEL
from services.scheduler.review_links import REVIEW_PATH
from services.scheduler.settings import SchedulerSettings
from shared.service import Runtime, service_app


def create_app(settings: SchedulerSettings | None = None) -> FastAPI:
    settings = settings or SchedulerSettings()
    runtime = Runtime.create(settings, tables=BUS, notify_channels=[DUE_CHANNEL])
    loop = dispatcher(
        runtime,
        batch=settings.dispatch_batch,
        max_sleep=settings.dispatch_max_sleep,
        default_missed_after=settings.default_missed_after_seconds,
        recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running(
            subscriptions=consumers.subscriptions(runtime),
            workers=[("dispatcher", loop.run)],
        ):
            yield

    app = service_app(
        runtime=runtime,
        title="Herald scheduler",
        description="The content calendar: posts, variants, approvals, slots and due times.",
        lifespan=lifespan,
        open_prefixes=(FEED_PATH, REVIEW_PATH),
    )
    app.state.channel_lookup = ChannelLookup(
        publisher_url=settings.publisher_url,
        internal_token=settings.internal_token,
        timeout=settings.channel_lookup_timeout,
    )
    app.state.dispatcher = loop
    app.include_router(templates_api.router)
    app.include_router(review_api.router)
    app.include_router(review_api.public_router)
    app.include_router(campaigns_api.router)
    app.include_router(posts.router)
    app.include_router(settings_api.router)
    app.include_router(channels_api.router)
    app.include_router(channels_api.queue_router)
    app.include_router(calendar_api.router)
    app.include_router(calendar_api.feed_router)
    app.include_router(freezes_api.router)
    return app
