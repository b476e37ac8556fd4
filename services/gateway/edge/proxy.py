"""Forwarding: pooled HTTP clients, bodies streamed both ways, the caller's identity added.

The upstream sees the client's request as sent, minus what must not cross: hop-by-hop headers,
the API key (services never need it) and any `x-herald-*` header the client made up. It gets
the identity the gateway vouches for, the internal token, the request id and a traceparent.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.edge.asgi import INVALID_KEY, send_problem
from services.gateway.edge.keys import Authenticator, KeyIdentity
from services.gateway.edge.routes import Route, resolve
from services.gateway.settings import GatewaySettings
from shared.auth import (
    INTERNAL_TOKEN_HEADER,
    PRINCIPAL_HEADER,
    ROLE_HEADER,
    TIMEZONE_HEADER,
    WORKSPACE_HEADER,
)
from shared.errors import BadGateway, DomainError, NotFound, Unauthorized, Unavailable
from shared.logs import request_id_var

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Headers the gateway sets itself on the way up.
_REPLACED = frozenset(
    {
        b"host",
        b"x-request-id",
        b"traceparent",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
    }
)
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_OWN_RESPONSE_HEADERS = frozenset({b"x-request-id", b"date", b"server"})
_RETRYABLE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class GatewayTimeout(DomainError):
    status, title, kind = 504, "Gateway timeout", "gateway-timeout"


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def _valid_traceparent(value: str | None) -> bool:
    # W3C trace context: version-traceid-parentid-flags, lowercase hex.
    if not value:
        return False
    parts = value.split("-")
    return (
        len(parts) == 4
        and [len(p) for p in parts] == [2, 32, 16, 2]
        and all(c in "0123456789abcdef" for c in value.replace("-", ""))
    )


def upstream_headers(
    request: Request, *, route: Route, identity: KeyIdentity | None, internal_token: str
) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    for name, value in request.headers.raw:
        if name in HOP_BY_HOP or name in _REPLACED or name.startswith(b"x-herald-"):
            continue
        # The API key stays at the gateway; a network webhook keeps whatever it sent.
        if name == b"authorization" and not route.raw:
            continue
        headers.append((name, value))
    traceparent = request.headers.get("traceparent")
    if not _valid_traceparent(traceparent):
        traceparent = new_traceparent()
    assert traceparent is not None
    client = request.client.host if request.client else ""
    forwarded_for = request.headers.get("x-forwarded-for")
    headers += [
        (b"x-request-id", (request_id_var.get() or secrets.token_hex(16)).encode("latin-1")),
        (b"traceparent", traceparent.encode("latin-1")),
        (
            b"x-forwarded-for",
            (f"{forwarded_for}, {client}" if forwarded_for else client).encode("latin-1"),
        ),
        (b"x-forwarded-proto", request.url.scheme.encode("latin-1")),
        (b"x-forwarded-host", request.headers.get("host", "").encode("latin-1")),
        (INTERNAL_TOKEN_HEADER.encode(), internal_token.encode()),
    ]
    if identity is not None:
        headers += [
            (WORKSPACE_HEADER.encode(), str(identity.workspace_id).encode()),
            (ROLE_HEADER.encode(), identity.role.encode()),
            (PRINCIPAL_HEADER.encode(), str(identity.key_id).encode()),
            (TIMEZONE_HEADER.encode(), identity.timezone.encode()),
        ]
    return headers


def make_client(settings: GatewaySettings, *, connections: int | None = None) -> httpx.AsyncClient:
    connections = connections or settings.upstream_max_connections
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.upstream_read_timeout, connect=settings.upstream_connect_timeout
        ),
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=settings.upstream_keepalive_seconds,
        ),
        # Redirects are the client's business (a short link's 302 must reach the reader).
        follow_redirects=False,
        # Compressed bodies pass through as they are; the client decodes them.
        headers={"accept-encoding": "identity"},
    )


class Forwarder:
    """Forwards over a few pooled clients taken in turn.

    One pool would do, but httpcore looks at every pooled connection on every request (is it
    expired? did the server close it?), which under load costs more than the forwarding
    itself; several smaller pools keep that scan short.
    """

    def __init__(self, *, settings: GatewaySettings, authenticator: Authenticator) -> None:
        self.upstreams = settings.upstreams()
        self.internal_token = settings.internal_token
        self.authenticator = authenticator
        self.settings = settings
        self._clients: list[httpx.AsyncClient] = []
        self._turn = 0

    @property
    def client(self) -> httpx.AsyncClient:
        if not self._clients:
            raise Unavailable("The gateway is starting or stopping.")
        self._turn = (self._turn + 1) % len(self._clients)
        return self._clients[self._turn]

    def open(self) -> None:
        pools = max(1, self.settings.upstream_pools)
        per_pool = max(1, self.settings.upstream_max_connections // pools)
        self._clients = [make_client(self.settings, connections=per_pool) for _ in range(pools)]

    async def close(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    async def identity_for(self, request: Request, route: Route) -> KeyIdentity | None:
        authorization = request.headers.get("authorization")
        if route.auth == "none":
            return None
        # An earlier middleware (rate limits, idempotency) may have looked the key up already.
        state = request.scope.get("state", {})
        known = state.get("identity")
        if known is not None:
            return known  # type: ignore[no-any-return]
        if state.get(INVALID_KEY):
            if route.auth == "optional":
                return None
            raise Unauthorized("The API key is not valid or has been revoked.")
        client = request.client.host if request.client else None
        if route.auth == "optional":
            return await self.authenticator.identify(authorization, client=client)
        return await self.authenticator.authenticate(authorization, client=client)

    async def send_upstream(self, request: Request, route: Route) -> httpx.Response:
        """The owning service's answer, headers read and body still to stream."""
        identity = await self.identity_for(request, route)
        path = request.url.path
        raw_path = request.scope.get("raw_path") or path.encode()
        url = self.upstreams[route.service] + raw_path.decode("latin-1")
        if request.scope.get("query_string"):
            url += "?" + request.scope["query_string"].decode("latin-1")
        has_body = (
            "content-length" in request.headers or "transfer-encoding" in request.headers
        ) and not (request.method in _BODYLESS and request.headers.get("content-length") == "0")
        client = self.client
        upstream_request = client.build_request(
            request.method,
            url,
            headers=upstream_headers(
                request, route=route, identity=identity, internal_token=self.internal_token
            ),
            content=request.stream() if has_body else None,
        )
        try:
            try:
                return await client.send(upstream_request, stream=True)
            except _STALE_CONNECTION:
                # A pooled connection the service closed just as it was reused. A request
                # that is idempotent and has no body to replay is sent once more, on a new one.
                if has_body or request.method not in _RETRYABLE:
                    raise
                return await client.send(upstream_request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            log.warning("%s unreachable: %r", route.service, exc)
            raise Unavailable(
                f"The {route.service} service is unreachable; try again shortly.",
                headers={"Retry-After": "5"},
            ) from exc
        except httpx.TimeoutException as exc:
            raise GatewayTimeout(f"The {route.service} service did not answer in time.") from exc
        except httpx.HTTPError as exc:
            log.warning("%s failed: %r", route.service, exc)
            raise BadGateway(f"The {route.service} service gave no valid answer.") from exc

    async def forward(self, request: Request) -> Response:
        path = request.url.path
        route = resolve(path)
        if route is None:
            raise NotFound(f"No such endpoint: {request.method} {path}.")
        upstream = await self.send_upstream(request, route)
        response = StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        response.raw_headers = downstream_headers(upstream)
        return response


def downstream_headers(upstream: httpx.Response) -> list[tuple[bytes, bytes]]:
    # The gateway's server sets its own Date and Server, and its own X-Request-Id.
    return [
        (name, value)
        for name, value in upstream.headers.raw
        if (lower := name.lower()) not in HOP_BY_HOP and lower not in _OWN_RESPONSE_HEADERS
    ]


@dataclass(frozen=True)
class ProxiedRoute:
    """What the request metrics label a forwarded request with (the route table's pattern)."""

    path: str


class ProxyMiddleware:
    """Sends what the route table owns straight to the service, past FastAPI's router.

    It sits innermost, after request ids, rate limits and idempotency, so forwarded requests
    get all of those; only the routing, dependency and response machinery that the gateway's
    own endpoints need is skipped. The body is streamed back chunk by chunk as it arrives.
    """

    def __init__(self, app: ASGIApp, *, forwarder: Forwarder) -> None:
        self.app = app
        self.forwarder = forwarder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = resolve(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = ProxiedRoute(route.pattern)
        try:
            upstream = await self.forwarder.send_upstream(Request(scope, receive), route)
        except DomainError as exc:
            await send_problem(send, scope, exc)
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": upstream.status_code,
                    "headers": downstream_headers(upstream),
                }
            )
            async for chunk in upstream.aiter_raw():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await upstream.aclose()


async def proxy_endpoint(request: Request) -> Response:
    forwarder: Forwarder = request.app.state.forwarder
    return await forwarder.forward(request)
