"""The gateway: the front door. Authenticates, routes, merges every service's OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.gateway import consumers, workers
from services.gateway.api import api_keys, audit, docs, members, webhooks, workspaces
from services.gateway.edge.front_door import FrontDoor
from services.gateway.edge.openapi import DESCRIPTION, TITLE, merged_openapi
from services.gateway.models import BUS
from services.gateway.settings import GatewaySettings
from shared.service import Runtime, service_app


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    runtime = Runtime.create(settings, tables=BUS)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with (
            front_door.open(),
            runtime.running(
                subscriptions=consumers.subscriptions(runtime),
                loops=workers.loops(runtime, settings),
            ),
        ):
            yield

    app = service_app(
        runtime=runtime,
        title=TITLE,
        description=DESCRIPTION,
        lifespan=lifespan,
        # The gateway is the front door: it checks API keys itself, route by route.
        open_prefixes=("/",),
        # The services tag their resources; the gateway's own (webhooks) do it themselves.
        etags=False,
        larger_bodies={"/v1/media": settings.media_max_bytes},
    )
    front_door = FrontDoor(app, runtime, settings)
    front_door.install()
    app.state.openapi = merged_openapi(app, settings)
    for router in (docs, workspaces, api_keys, members, webhooks, audit):
        app.include_router(router.router)
    front_door.add_routes()
    return app
