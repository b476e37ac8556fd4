"""Targets for the outbound attacks: a server that plays the internal service an attacker
points Herald at (it counts every request it gets), and the tricks used to get there
(redirects, huge or endless answers)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from deploy.runner import Platform
from tests.conftest import delete_bus_objects
from tests.e2e.conftest import platform_config
from tests.support.servers import serve

# A valid 1×1 PNG: what an attacker's "image" may look like on the way in.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f6a4"
    "b40000000049454e44ae426082"
)


@dataclass
class Target:
    url: str
    hits: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    # The `webhook-id` of every client webhook received (one per send).
    webhook_ids: list[str] = field(default_factory=list)

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://")


def target_app(target: Target) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def count(request: Request, call_next):  # type: ignore[no-untyped-def]
        target.hits.append(request.url.path)
        target.hosts.append(request.headers.get("host", ""))
        if "webhook-id" in request.headers:
            target.webhook_ids.append(request.headers["webhook-id"])
        return await call_next(request)

    @app.get("/secret.png")
    async def secret() -> Response:
        return Response(PNG, media_type="image/png")

    @app.post("/hook")
    async def hook() -> Response:
        return PlainTextResponse("ok")

    @app.api_route("/redirect", methods=["GET", "POST"])
    async def redirect(to: str) -> Response:
        return RedirectResponse(to, status_code=307)

    @app.api_route("/chatty", methods=["GET", "POST"])
    async def chatty() -> Response:
        # What an internal service might say: long, with control characters in it.
        body = "root:x:0:0\x00\x1b[31m" + "internal-detail " * 400
        return PlainTextResponse(body, status_code=500)

    @app.get("/huge")
    async def huge(size: int) -> Response:
        return Response(b"\xff" * size, media_type="image/png")

    @app.get("/chunked")
    async def chunked(size: int) -> Response:
        # No Content-Length: only counting while reading finds out it is too large.
        async def pieces() -> AsyncIterator[bytes]:
            for _ in range(size // 65536 + 1):
                yield b"\xff" * 65536

        return StreamingResponse(pieces(), media_type="image/png")

    @app.get("/endless")
    async def endless() -> Response:
        async def forever() -> AsyncIterator[bytes]:
            while True:
                yield b"\xff" * 65536
                await asyncio.sleep(0)

        return StreamingResponse(forever(), media_type="image/png")

    @app.api_route("/trickle", methods=["GET", "POST"])
    async def trickle(seconds: float = 30.0) -> Response:
        # One byte at a time, each well within any read timeout: only a total deadline
        # ends it early.
        async def drip() -> AsyncIterator[bytes]:
            for _ in range(int(seconds / 0.2)):
                yield b"."
                await asyncio.sleep(0.2)

        return StreamingResponse(drip(), media_type="text/plain")

    return app


@contextlib.asynccontextmanager
async def running_target() -> AsyncIterator[Target]:
    target = Target(url="")
    async with serve(target_app(target)) as url:
        target.url = url
        yield target


@dataclass
class OutboundWorld:
    """A running platform, a target it is told it may reach (the development allow-list),
    and one it must never reach (an internal service, as far as Herald can tell)."""

    platform: Platform
    allowed: Target
    internal: Target


@contextlib.asynccontextmanager
async def outbound_world(
    database_url: str,
    bus_prefix: str,
    tmp_path: Path,
    extra_env: dict[str, dict[str, str]] | None = None,
) -> AsyncIterator[OutboundWorld]:
    async with running_target() as allowed, running_target() as internal:
        config = platform_config(database_url, bus_prefix, tmp_path=tmp_path)
        config.outbound_allow.append(allowed.host_port)
        config.extra_env.update(extra_env or {})
        platform = Platform(config)
        try:
            await platform.start()
            yield OutboundWorld(platform=platform, allowed=allowed, internal=internal)
        finally:
            platform.stop()
            await delete_bus_objects(bus_prefix, kinds=("queues",))
