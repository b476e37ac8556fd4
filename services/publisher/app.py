"""The publisher: the only service that calls the networks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.publisher import consumers, workers
from services.publisher.adapters import Adapters
from services.publisher.api import channels, networks, previews
from services.publisher.crypto import Keyring
from services.publisher.models import BUS
from services.publisher.sending import Credentials
from services.publisher.settings import PublisherSettings
from shared.service import Runtime, service_app


def create_app(settings: PublisherSettings | None = None) -> FastAPI:
    settings = settings or PublisherSettings()
    runtime = Runtime.create(settings, tables=BUS)
    keyring = Keyring(keys=settings.encryption_keys, active_key_id=settings.active_key_id)
    credentials = Credentials(runtime=runtime, keyring=keyring, settings=settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        adapters = Adapters(settings)
        app.state.adapters = adapters
        loops = workers.loops(runtime, settings, adapters=adapters, credentials=credentials)
        app.state.loops = {loop.name: loop for loop in loops}
        app.state.token_refresher = app.state.loops["token-refresher"]
        subscriptions = consumers.subscriptions(
            runtime, adapters=adapters, credentials=credentials, settings=settings
        )
        try:
            async with runtime.running(subscriptions=subscriptions, loops=loops):
                yield
        finally:
            await adapters.close()

    app = service_app(
        runtime=runtime,
        title="Herald publisher",
        description="Channels (connected accounts) and publishing to the networks.",
        lifespan=lifespan,
    )
    app.state.keyring = keyring
    app.include_router(channels.router)
    app.include_router(networks.router)
    app.include_router(previews.router)
    return app
