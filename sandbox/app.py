from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox import control
from sandbox.core import Sandbox
from sandbox.faults import FaultMiddleware
from sandbox.http import NetError, json
from sandbox.settings import SandboxSettings
from sandbox.state import NETWORKS


def create_app(
    settings: SandboxSettings | None = None,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the sandbox. ``webhook_transport`` lets a test receive webhooks in-process."""
    settings = settings or SandboxSettings()
    sb = Sandbox(settings, webhook_transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await sb.deliveries.close()

    app = FastAPI(
        title="Herald network sandbox",
        description="Fake social networks with the real APIs' paths and shapes.",
        lifespan=lifespan,
    )
    app.state.sandbox = sb

    @app.exception_handler(NetError)
    async def net_error(request: Request, exc: NetError) -> Response:
        return exc.response()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return json({"status": "ok"})

    app.include_router(control.router)
    for network in NETWORKS:
        module = importlib.import_module(f"sandbox.networks.{network}")
        sb.networks[network] = module
        app.include_router(module.router, prefix=f"/{network}")
    app.add_middleware(FaultMiddleware, faults=sb.faults)
    return app
