"""The front door assembled: who is calling (keys and their cache, told of revocations), what
every request passes through (middlewares, in order), where it goes (proxy, MCP, console)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.routing import Route

from services.gateway.edge.asgi import Callers
from services.gateway.edge.console import console_router
from services.gateway.edge.idempotency import IdempotencyMiddleware
from services.gateway.edge.keys import KEYS_CHANNEL, Authenticator, FailedAttempts, KeyCache
from services.gateway.edge.mcp import MCP_PATH, ApiCaller, McpEndpoint, build_server
from services.gateway.edge.ops import OperatorPathsMiddleware, serving_ops
from services.gateway.edge.paths import PathGuardMiddleware
from services.gateway.edge.proxy import Forwarder, ProxyMiddleware, proxy_endpoint
from services.gateway.edge.ratelimit import RateLimitMiddleware
from services.gateway.settings import GatewaySettings
from shared.db import Notifier
from shared.service import Runtime

PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# FastAPI's own schema and docs routes; the gateway serves the merged ones instead.
BUILTIN_DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


class FrontDoor:
    def __init__(self, app: FastAPI, runtime: Runtime, settings: GatewaySettings) -> None:
        self.app = app
        self.runtime = runtime
        self.settings = settings
        # Not trusted until the revocation channel below is listened to.
        cache = KeyCache(
            ttl=settings.key_cache_seconds, size=settings.key_cache_size, trusted=False
        )
        self.authenticator = Authenticator(
            sessions=runtime.sessions,
            cache=cache,
            failures=FailedAttempts(
                limit=settings.auth_failures_per_address,
                window_seconds=settings.auth_failure_window_seconds,
            ),
        )
        self.forwarder = Forwarder(settings=settings, authenticator=self.authenticator)
        # Agents' tools call the public API through this very app, as their own API key.
        self.mcp = McpEndpoint(
            build_server(ApiCaller(lambda: app)), authenticator=self.authenticator
        )
        # Every replica, workers or not, hears at once of keys revoked or changed elsewhere.
        self.revocations = Notifier(
            settings.database_url,
            [KEYS_CHANNEL],
            on_payload=lambda _channel, payload: cache.apply(payload),
            on_listening=cache.listening,
        )

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[None]:
        settings = self.settings
        self.forwarder.open()
        self.revocations.start()
        ops = serving_ops(
            self.runtime, host=settings.ops_host or settings.host, port=settings.ops_port
        )
        try:
            async with ops, self.mcp.running():
                yield
        finally:
            await self.revocations.stop()
            await self.forwarder.close()

    def install(self) -> None:
        """The middlewares and the state the routes read."""
        app = self.app
        app.router.routes = [
            r for r in app.router.routes if getattr(r, "path", None) not in BUILTIN_DOCS
        ]
        app.user_middleware += self.middleware()
        app.state.authenticator = self.authenticator
        app.state.forwarder = self.forwarder

    def add_routes(self) -> None:
        """After the gateway's own routers: the console, `/mcp`, and last the proxy route.
        ProxyMiddleware forwards what the route table knows before routing; the proxy route
        answers the rest (and any forwarded path should the middleware be absent) with a 404."""
        app = self.app
        app.include_router(console_router(self.settings.console_dist))
        app.router.routes.append(
            Route(
                MCP_PATH,
                endpoint=self.mcp,
                methods=["GET", "POST", "DELETE"],
                include_in_schema=False,
            )
        )
        app.add_api_route(
            "/{path:path}", proxy_endpoint, methods=PROXY_METHODS, include_in_schema=False
        )

    def middleware(self) -> list[Middleware]:
        # Inside request ids and metrics: a refused or replayed request still gets its
        # X-Request-Id, and a 429 never reserves an idempotency key. Innermost, forwarding:
        # what a service owns never reaches the router below. First of them, a path that
        # could escape its route is refused before anything routes or counts it.
        settings, sessions = self.settings, self.runtime.sessions
        callers = Callers(self.authenticator, settings.admin_token)
        return [
            Middleware(PathGuardMiddleware),
            Middleware(OperatorPathsMiddleware, admin_token=settings.admin_token),
            Middleware(
                RateLimitMiddleware,
                sessions=sessions,
                callers=callers,
                key_limit=settings.rate_limit_per_key,
                workspace_limit=settings.rate_limit_per_workspace,
                window_seconds=settings.rate_limit_window_seconds,
            ),
            Middleware(
                IdempotencyMiddleware,
                sessions=sessions,
                callers=callers,
                ttl=timedelta(hours=settings.idempotency_ttl_hours),
                lock_for=timedelta(seconds=settings.idempotency_lock_seconds),
                max_body=settings.idempotency_max_body,
            ),
            Middleware(ProxyMiddleware, forwarder=self.forwarder),
        ]
