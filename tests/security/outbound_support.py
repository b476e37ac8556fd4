"""Targets for the outbound attacks: a server that plays the internal service an attacker
points Herald at (it counts every request it gets), and the tricks used to get there
(redirects, huge or endless answers)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from deploy.runner import Platform
from tests.conftest import delete_bus_objects
from tests.e2e.conftest import platform_config
from tests.support.servers import free_port, serve
from tests.support.waits import until

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


def certificate_for(host: str, directory: Path) -> tuple[Path, Path, ssl.SSLContext]:
    """A private CA and a certificate for `host` only (no IP address in it): the server's
    cert and key files, and a client context that trusts the CA."""
    now = datetime.now(UTC)

    def build(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        signer: ec.EllipticCurvePrivateKey,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = build("Test CA", ca_key, ca_name, ca_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = build(host, leaf_key, ca_name, ca_key, ca=False)
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    trust = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return cert_file, key_file, trust


@contextlib.asynccontextmanager
async def running_tls_target(
    host: str, directory: Path
) -> AsyncIterator[tuple[Target, ssl.SSLContext]]:
    """The target over https on loopback, with a certificate naming `host` only."""
    cert_file, key_file, trust = certificate_for(host, directory)
    port = free_port()
    target = Target(url=f"https://{host}:{port}")
    server = uvicorn.Server(
        uvicorn.Config(
            target_app(target),
            host="127.0.0.1",
            port=port,
            log_config=None,
            ssl_certfile=str(cert_file),
            ssl_keyfile=str(key_file),
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        def started() -> bool:
            if task.done():
                task.result()
            return bool(server.started)

        await until(started, timeout=30, every=0.01, what="the server started")
        yield target, trust
    finally:
        server.should_exit = True
        await task
