"""The scheduler service: the content calendar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.scheduler import consumers, workers
from services.scheduler.api import (
    calendar,
    campaigns,
    channels,
    freezes,
    media,
    posts,
    review,
    templates,
)
from services.scheduler.api import settings as settings_api
from services.scheduler.channels import ChannelLookup
from services.scheduler.ical import FEED_PATH
from services.scheduler.media import MEDIA_PATH, MediaLinks, build_store
from services.scheduler.models import BUS
from services.scheduler.planning import DUE_CHANNEL
from services.scheduler.previews import LinkPreviews
from services.scheduler.review_links import REVIEW_PATH
from services.scheduler.settings import SchedulerSettings
from shared.service import Runtime, service_app


def create_app(settings: SchedulerSettings | None = None) -> FastAPI:
    settings = settings or SchedulerSettings()
    runtime = Runtime.create(settings, tables=BUS, notify_channels=[DUE_CHANNEL])
    loops = workers.loops(runtime, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running(subscriptions=consumers.subscriptions(runtime), loops=loops):
            yield

    app = service_app(
        runtime=runtime,
        title="Herald scheduler",
        description="The content calendar: posts, variants, approvals, slots and due times.",
        lifespan=lifespan,
        # Signed media URLs: the signature is the permission (networks fetch them).
        open_prefixes=(FEED_PATH, REVIEW_PATH, MEDIA_PATH),
        larger_bodies={"/v1/media": settings.media_max_bytes},
    )
    app.state.media_store = build_store(settings)
    app.state.media_links = MediaLinks.from_settings(settings)
    app.state.channel_lookup = ChannelLookup(
        publisher_url=settings.publisher_url,
        internal_token=settings.internal_token,
        timeout=settings.channel_lookup_timeout,
    )
    app.state.link_previews = LinkPreviews(
        publisher_url=settings.publisher_url,
        internal_token=settings.internal_token,
        timeout=settings.link_preview_timeout,
    )
    # Tests and operators drain the dispatcher by hand (`app.state.dispatcher.drain()`).
    app.state.dispatcher = next(loop for loop in loops if isinstance(loop, workers.Dispatcher))
    for router in (
        templates.router,
        review.router,
        review.public_router,
        campaigns.router,
        posts.router,
        settings_api.router,
        channels.router,
        channels.queue_router,
        calendar.router,
        calendar.feed_router,
        media.router,
        media.public_router,
        freezes.router,
    ):
        app.include_router(router)
    return app
