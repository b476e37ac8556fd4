"""Forwarding: one pooled HTTP client, bodies streamed both ways, the caller's identity added.

The upstream sees the client's request as sent, minus what must not cross: hop-by-hop headers,
the API key (services never need it) and any `x-herald-*` header the client made up. It gets
the identity the gateway vouches for, the internal token, the request id and a traceparent.
"""

from __future__ import annotations

import logging
import secrets

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from services.gateway.keys import Authenticator, KeyIdentity
from services.gateway.routes import Route, resolve
from services.gateway.settings import GatewaySettings
from shared.auth import (
    INTERNAL_TOKEN_HEADER,
    PRINCIPAL_HEADER,
    ROLE_HEADER,
    TIMEZONE_HEADER,
    WORKSPACE_HEADER,
)
from shared.errors import BadGateway, DomainError, NotFound, Unavailable
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
_REPLACED = frozenset({b"host", b"x-request-id", b"traceparent", b"x-forwarded-for",
                       b"x-forwarded-proto", b"x-forwarded-host"})
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


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
        (b"x-forwarded-for",
         (f"{forwarded_for}, {client}" if forwarded_for else client).encode("latin-1")),
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


def make_client(settings: GatewaySettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.upstream_read_timeout, connect=settings.upstream_connect_timeout
        ),
        limits=httpx.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=settings.upstream_max_connections,
        ),
        # Redirects are the client's business (a short link's 302 must reach the reader).
        follow_redirects=False,
        # Compressed bodies pass through as they are; the client decodes them.
        headers={"accept-encoding": "identity"},
    )


class Forwarder:
    def __init__(self, *, settings: GatewaySettings, authenticator: Authenticator) -> None:
        self.upstreams = settings.upstreams()
        self.internal_token = settings.internal_token
        self.authenticator = authenticator
        self.settings = settings
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise Unavailable("The gateway is starting or stopping.")
        return self._client

    def open(self) -> None:
        self._client = make_client(self.settings)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def identity_for(self, request: Request, route: Route) -> KeyIdentity | None:
        authorization = request.headers.get("authorization")
        if route.auth == "none":
            return None
        # An earlier middleware (rate limits, idempotency) may have looked the key up already.
        known = request.scope.get("state", {}).get("identity")
        if known is not None:
            return known  # type: ignore[no-any-return]
        if route.auth == "optional":
            return await self.authenticator.identify(authorization)
        return await self.authenticator.authenticate(authorization)

    async def forward(self, request: Request) -> Response:
        path = request.url.path
        route = resolve(path)
        if route is None:
            raise NotFound(f"No such endpoint: {request.method} {path}.")
        identity = await self.identity_for(request, route)
        raw_path = request.scope.get("raw_path") or path.encode()
        url = self.upstreams[route.service] + raw_path.decode("latin-1")
        if request.scope.get("query_string"):
            url += "?" + request.scope["query_string"].decode("latin-1")
        has_body = (
            "content-length" in request.headers or "transfer-encoding" in request.headers
        ) and not (request.method in _BODYLESS and request.headers.get("content-length") == "0")
        upstream_request = self.client.build_request(
            request.method,
            url,
            headers=upstream_headers(
                request, route=route, identity=identity, internal_token=self.internal_token
            ),
            content=request.stream() if has_body else None,
        )
        try:
            upstream = await self.client.send(upstream_request, stream=True)
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
        response = StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        response.raw_headers = [
            (name, value)
            for name, value in upstream.headers.raw
            if name.lower() not in HOP_BY_HOP and name.lower() != b"x-request-id"
        ]
        return response


async def proxy_endpoint(request: Request) -> Response:
    forwarder: Forwarder = request.app.state.forwarder
    return await forwarder.forward(request)
