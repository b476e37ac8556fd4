"""The publisher: the only service that calls the networks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.publisher import consumers
from services.publisher.adapters import Adapters
from services.publisher.api import channels, networks
from services.publisher.crypto import Keyring
from services.publisher.jobs import NOTIFY_CHANNEL
from services.publisher.models import BUS
from services.publisher.refresher import TokenRefresher
from services.publisher.sending import PublishLoop
from services.publisher.settings import PublisherSettings
from services.publisher.subscriptions import NOTIFY_SUBSCRIPTIONS, SubscriptionKeeper
from shared.service import Runtime, service_app


def create_app(settings: PublisherSettings | None = None) -> FastAPI:
    settings = settings or PublisherSettings()
    runtime = Runtime.create(
        settings,
        tables=BUS,
        notify_channels=[NOTIFY_CHANNEL, NOTIFY_SUBSCRIPTIONS, "publisher_refresher"],
    )
    keyring = Keyring(keys=settings.encryption_keys, active_key_id=settings.active_key_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        adapters = Adapters(settings)
        app.state.adapters = adapters
        loop = PublishLoop(runtime=runtime, settings=settings, adapters=adapters, keyring=keyring)
        keeper = SubscriptionKeeper(
            runtime=runtime, settings=settings, adapters=adapters, credentials=loop.credentials
        )
        refresher = TokenRefresher(
            runtime=runtime,
            settings=settings,
            adapters=adapters,
            keyring=keyring,
            credentials=loop.credentials,
        )
        app.state.subscription_keeper = keeper
        app.state.token_refresher = refresher
        try:
            async with runtime.running(
                subscriptions=consumers.subscriptions(
                    runtime,
                    adapters=adapters,
                    credentials=loop.credentials,
                    settings=settings,
                ),
                workers=[
                    ("publish-loop", loop.run),
                    ("webhook-subscriptions", keeper.run),
                    ("token-refresher", refresher.run),
                ],
            ):
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
    return app
