"""What only the platform's operators see of the gateway: readiness and Prometheus metrics.

The gateway is the one process reachable from the internet, so `/readyz` (which says which
of its dependencies is down) and `/metrics` (every route's traffic, queue depths) are not
public there: on its public port they take the platform admin token, and an internal port
(`GATEWAY_OPS_PORT`, never published) serves them, with `/healthz`, to probes and Prometheus
without one. `/healthz` stays open on the public port: it says nothing but "alive".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.edge.asgi import header, send_problem
from services.gateway.edge.keys import bearer_token
from shared.auth import tokens_match
from shared.errors import Unauthorized
from shared.observability import health_router
from shared.service import Runtime

OPERATOR_PATHS = frozenset({"/readyz", "/metrics"})


class OperatorPathsMiddleware:
    """Refuses `/readyz` and `/metrics` on the public port without the admin token."""

    def __init__(self, app: ASGIApp, *, admin_token: str) -> None:
        self.app = app
        self.admin_token = admin_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in OPERATOR_PATHS:
            token = bearer_token(header(scope, b"authorization"))
            if not tokens_match(token, self.admin_token):
                error = Unauthorized(
                    "Readiness and metrics are for the platform's operators: use the "
                    "gateway's internal port (GATEWAY_OPS_PORT) or the admin token."
                )
                await send_problem(send, scope, error)
                return
        await self.app(scope, receive, send)


def ops_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="Herald gateway (operators)", openapi_url=None, docs_url=None)
    app.include_router(health_router(metrics=runtime.metrics, checks=runtime.readiness))
    return app


class _OpsServer(uvicorn.Server):
    # The main server owns the process's signals and stops this one from its lifespan.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def serving_ops(runtime: Runtime, *, host: str, port: int) -> AsyncIterator[None]:
    """Runs the operators' port for as long as the block lasts (nothing when port is 0)."""
    if not port:
        yield
        return
    server = _OpsServer(
        uvicorn.Config(ops_app(runtime), host=host, port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve(), name="ops-server")
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
