"""The gateway: the front door. Authenticates, routes, merges every service's OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.middleware import Middleware
from starlette.routing import Route

from services.gateway import consumers
from services.gateway.api import api_keys, audit, docs, members, webhooks, workspaces
from services.gateway.delivery import delivery_worker
from services.gateway.idempotency import IdempotencyMiddleware
from services.gateway.janitor import janitor, retention
from services.gateway.keys import KEYS_CHANNEL, Authenticator, FailedAttempts, KeyCache
from services.gateway.mcp import MCP_PATH, ApiCaller, McpEndpoint, build_server
from services.gateway.models import BUS
from services.gateway.openapi import MergedOpenApi
from services.gateway.ops import OperatorPathsMiddleware, serving_ops
from services.gateway.paths import PathGuardMiddleware
from services.gateway.proxy import Forwarder, ProxyMiddleware, proxy_endpoint
from services.gateway.ratelimit import RateLimitMiddleware
from services.gateway.settings import GatewaySettings
from services.gateway.webhook_events import openapi_webhooks
from services.gateway.webhooks import NOTIFY_CHANNEL
from shared.db import Notifier
from shared.service import Runtime, service_app

TITLE = "Herald API"
DESCRIPTION = (
    "Plan, publish, answer and measure across the social networks. Every `/v1` call takes "
    "`Authorization: Bearer <api key>`; errors are RFC 9457 problem+json.\n\n"
    "**Conventions.** Lists take `limit` and `cursor` and answer `next_cursor`, with a "
    '`Link: <…>; rel="next"` header while there is more. Resources answer with an `ETag`; '
    "`PUT`, `PATCH` and `DELETE` with a stale `If-Match` are refused (412; a post's version "
    "conflict is 409). Every response carries `X-Request-Id` (the one you sent, or a new one) "
    "and, on `/v1`, `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`. "
    "Timestamps are RFC 3339, in UTC. `Idempotency-Key` on a POST makes retries safe; it "
    "belongs to the API key that sent it. An answer that carries a secret shown once (a new "
    "API key, an invitation token, a webhook secret; marked `Cache-Control: no-store`) is "
    "never kept, so its retry gets a 409 naming the `resource_id` it created instead of the "
    "secret. Request bodies are limited in size (413).\n\n"
    "**Roles.** A key has one role: `owner`, `admin`, `editor`, `reviewer` or `analyst`. "
    "What each role may do is one table, published as `docs/roles.md` (generated from the "
    "code every service enforces); nobody grants a role above their own.\n\n"
    "**Client webhooks.** Subscribe with `POST /v1/webhooks`; the payloads are in the "
    "`webhooks` section. Deliveries are signed per the Standard Webhooks spec and retried "
    "after 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h (18 attempts over about 5 days); a "
    "subscription that fails for 5 days is disabled until re-enabled with PATCH.\n\n"
    "**Agents.** `/mcp` is a Model Context Protocol server (streamable HTTP, stateless, "
    "JSON answers) taking the same API key as bearer token: tools to list channels, validate "
    "and schedule posts, find posts, read the calendar, list and answer conversations, read "
    "analytics and best times, each one call of this API with the key's role."
)
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# FastAPI's own schema and docs routes; the gateway serves the merged ones instead.
_BUILTIN_DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    runtime = Runtime.create(settings, tables=BUS, notify_channels=[NOTIFY_CHANNEL])
    # Not trusted until the revocation channel below is listened to.
    cache = KeyCache(ttl=settings.key_cache_seconds, size=settings.key_cache_size, trusted=False)
    authenticator = Authenticator(
        sessions=runtime.sessions,
        cache=cache,
        failures=FailedAttempts(
            limit=settings.auth_failures_per_address,
            window_seconds=settings.auth_failure_window_seconds,
        ),
    )
    forwarder = Forwarder(settings=settings, authenticator=authenticator)
    # Agents' tools call the public API through this very app, as their own API key.
    mcp = McpEndpoint(build_server(ApiCaller(lambda: app)), authenticator=authenticator)
    # Every replica, workers or not, hears at once of keys revoked or changed elsewhere.
    revocations = Notifier(
        settings.database_url,
        [KEYS_CHANNEL],
        on_payload=lambda _channel, payload: cache.apply(payload),
        on_listening=cache.listening,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        forwarder.open()
        revocations.start()
        ops = serving_ops(runtime, host=settings.ops_host or settings.host, port=settings.ops_port)
        try:
            async with (
                ops,
                mcp.running(),
                runtime.running(
                    subscriptions=consumers.subscriptions(runtime),
                    workers=[
                        ("janitor", janitor(runtime, settings)),
                        ("webhook-retention", retention(runtime, settings)),
                        ("webhook-delivery", delivery_worker(runtime, settings)),
                    ],
                ),
            ):
                yield
        finally:
            await revocations.stop()
            await forwarder.close()

    app = service_app(
        runtime=runtime,
        title=TITLE,
        description=DESCRIPTION,
        lifespan=lifespan,
        # The gateway is the front door: it checks API keys itself, route by route.
        open_prefixes=("/",),
        # The services tag their resources; the gateway's own (webhooks) do it themselves.
        etags=False,
    )
    app.router.routes = [
        r for r in app.router.routes if getattr(r, "path", None) not in _BUILTIN_DOCS
    ]
    # Inside request ids and metrics: a refused or replayed request still gets its
    # X-Request-Id, and a 429 never reserves an idempotency key. Innermost, forwarding: what a
    # service owns never reaches the router below. First of them, a path that could escape
    # its route is refused before anything routes or counts it.
    app.user_middleware += [
        Middleware(PathGuardMiddleware),
        Middleware(OperatorPathsMiddleware, admin_token=settings.admin_token),
        Middleware(
            RateLimitMiddleware,
            sessions=runtime.sessions,
            authenticator=authenticator,
            admin_token=settings.admin_token,
            key_limit=settings.rate_limit_per_key,
            workspace_limit=settings.rate_limit_per_workspace,
            window_seconds=settings.rate_limit_window_seconds,
        ),
        Middleware(
            IdempotencyMiddleware,
            sessions=runtime.sessions,
            authenticator=authenticator,
            admin_token=settings.admin_token,
            ttl=timedelta(hours=settings.idempotency_ttl_hours),
            lock_for=timedelta(seconds=settings.idempotency_lock_seconds),
            max_body=settings.idempotency_max_body,
        ),
        Middleware(ProxyMiddleware, forwarder=forwarder),
    ]
    app.state.authenticator = authenticator
    app.state.forwarder = forwarder

    def own_document() -> dict[str, Any]:
        doc = get_openapi(
            title=TITLE, version=app.version, description=DESCRIPTION, routes=app.routes
        )
        hooks, schemas = openapi_webhooks()
        doc["webhooks"] = hooks
        doc.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        return doc

    app.state.openapi = MergedOpenApi(
        own=own_document,
        upstreams=settings.upstreams(),
        internal_token=settings.internal_token,
        ttl=settings.openapi_cache_seconds,
        fetch_timeout=settings.openapi_fetch_timeout,
    )
    app.include_router(docs.router)
    app.include_router(workspaces.router)
    app.include_router(api_keys.router)
    app.include_router(members.router)
    app.include_router(webhooks.router)
    app.include_router(audit.router)
    app.router.routes.append(
        Route(MCP_PATH, endpoint=mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    )
    # Last: ProxyMiddleware forwards what the route table knows before routing; this answers
    # the rest (and any forwarded path should the middleware be absent) with a 404.
    app.add_api_route(
        "/{path:path}", proxy_endpoint, methods=PROXY_METHODS, include_in_schema=False
    )
    return app
