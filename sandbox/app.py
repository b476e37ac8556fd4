from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox import control, ga4
from sandbox.core import Sandbox
from sandbox.faults import FaultMiddleware
from sandbox.http import NetError, json
from sandbox.settings import SandboxSettings
from sandbox.state import NETWORKS


class NetworkDispatch:
    """Hands ``/{network}/…`` straight to that network's app, as a mount would.

    Route matching is most of a request's cost once benchmarks push thousands of posts a
    second; going by the first path segment skips matching against every other network.
    """

    def __init__(self, app: ASGIApp, subs: dict[str, ASGIApp]) -> None:
        self.app = app
        self.subs = subs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            network = path[1:].split("/", 1)[0]
            sub = self.subs.get(network)
            if sub is not None:
                root = scope.get("root_path", "")
                child = {**scope, "root_path": f"{root}/{network}", "app_root_path": root}
                await sub(child, receive, send)
                return
        await self.app(scope, receive, send)


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

    async def net_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NetError)
        return exc.response()

    app.add_exception_handler(NetError, net_error)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return json({"status": "ok"})

    # Before the control routes: `/_sandbox/{network}/…` would otherwise take `ga4`.
    app.include_router(ga4.router)
    app.include_router(control.router)
    subs: dict[str, ASGIApp] = {}
    for network in NETWORKS:
        module = importlib.import_module(f"sandbox.networks.{network}")
        sb.networks[network] = module
        sub = FastAPI(title=f"Sandbox: {network}", openapi_url="/openapi.json")
        sub.state.sandbox = sb
        sub.add_exception_handler(NetError, net_error)
        sub.include_router(module.router)
        subs[network] = sub
    app.add_middleware(NetworkDispatch, subs=subs)
    app.add_middleware(FaultMiddleware, faults=sb.faults)
    return app
