"""Helpers for the gateway's tests: upstream stand-ins, a running gateway, a bus listener."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.auth import InternalTokenMiddleware
from tests.conftest import INTERNAL_TOKEN
from tests.support.bus import Listener, listening  # noqa: F401  (the tests' bus listener)
from tests.support.servers import lifespan, serve

ADMIN_TOKEN = "test-admin-token"


class TrackedTarget(BaseModel):
    """Same name as a metrics schema, different shape: the merged OpenAPI must keep both."""

    echo: str


@dataclass
class Echo:
    """An upstream that tells what reached it, and streams when asked."""

    name: str
    app: FastAPI
    release: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[dict[str, Any]] = field(default_factory=list)


def echo_upstream(name: str) -> Echo:
    app = FastAPI(title=f"echo {name}")
    echo = Echo(name=name, app=app)
    # `/v1/posts/...` belongs to the scheduler: another service documenting it would stop
    # the merged OpenAPI from building (a path the gateway cannot route to it).
    documented = name == "scheduler"
    app.add_middleware(
        InternalTokenMiddleware, token=INTERNAL_TOKEN, open_prefixes=("/hooks/", "/l/")
    )

    async def describe(request: Request) -> JSONResponse:
        body = b""
        async for chunk in request.stream():
            body += chunk
        seen = {
            "service": name,
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.url.query,
            "headers": [[k.decode(), v.decode()] for k, v in request.headers.raw],
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body": body.decode("latin-1") if len(body) < 10_000 else None,
        }
        echo.seen.append(seen)
        return JSONResponse(seen, headers={"x-echo": name})

    @app.get("/v1/posts/stream", tags=["echo"], include_in_schema=documented)
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            # Only a client that got the first chunk can let the rest go: proves streaming.
            await asyncio.wait_for(echo.release.wait(), 10)
            yield b"second\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.post("/v1/posts/slow", include_in_schema=False)
    async def slow(request: Request) -> JSONResponse:
        echo.entered.set()
        # Held until the test lets it go; the bound only keeps a broken test from hanging.
        await asyncio.wait_for(echo.release.wait(), 60)
        return await describe(request)

    @app.post("/v1/posts/fail", include_in_schema=False)
    async def fail(request: Request) -> JSONResponse:
        await describe(request)
        return JSONResponse({"title": "boom"}, status_code=503)

    @app.get(
        "/v1/posts/items/{item_id}",
        response_model=TrackedTarget,
        tags=["echo"],
        include_in_schema=documented,
    )
    async def item(item_id: str) -> TrackedTarget:
        return TrackedTarget(echo=item_id)

    @app.get("/l/{code}", include_in_schema=False)
    async def short_link(code: str) -> RedirectResponse:
        return RedirectResponse(f"https://example.com/{code}", status_code=302)

    app.add_api_route(
        "/{path:path}",
        describe,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    return echo


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient
    settings: GatewaySettings

    @property
    def runtime(self):  # noqa: ANN201  (shared.service.Runtime)
        return self.app.state.runtime

    async def workspace(self, name: str = "Acme", timezone: str = "Europe/Paris") -> dict:
        r = await self.client.post(
            "/v1/workspaces",
            json={"name": name, "timezone": timezone},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def key(self, owner_key: str, role: str, name: str = "k") -> dict:
        r = await self.client.post(
            "/v1/api-keys", json={"name": name, "role": role}, headers=bearer(owner_key)
        )
        assert r.status_code == 201, r.text
        return r.json()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextlib.asynccontextmanager
async def running_gateway(
    make_settings: Any, *, served: bool = False, **overrides: Any
) -> AsyncIterator[Gateway]:
    """The gateway app; over real HTTP when `served` (for streaming), else in-process."""
    settings = make_settings(GatewaySettings, admin_token=ADMIN_TOKEN, **overrides)
    app = create_app(settings)
    if served:
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as client:
            yield Gateway(app=app, client=client, settings=settings)
        return
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Gateway(app=app, client=client, settings=settings)


@contextlib.asynccontextmanager
async def echo_upstreams(*names: str) -> AsyncIterator[dict[str, tuple[Echo, str]]]:
    """One echo upstream per service name, each served over real HTTP."""
    async with contextlib.AsyncExitStack() as stack:
        out = {}
        for name in names:
            echo = echo_upstream(name)
            url = await stack.enter_async_context(serve(echo.app))
            out[name] = (echo, url)
        yield out
