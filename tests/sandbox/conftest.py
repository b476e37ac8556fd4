from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from tests.support.waits import until


class Receiver:
    """Stands in for Herald's /hooks endpoints: answers handshakes, records raw deliveries."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.received: list[dict[str, Any]] = []
        self.fail_next = 0
        self.app = FastAPI()

        @self.app.get("/hooks/{network}")
        async def handshake(network: str, request: Request) -> Response:
            q = request.query_params
            secret = self.secrets[network].encode()
            if "crc_token" in q:
                digest = hmac.new(secret, q["crc_token"].encode(), hashlib.sha256).digest()
                return JSONResponse(
                    {"response_token": "sha256=" + base64.b64encode(digest).decode()}
                )
            if "hub.challenge" in q:
                return PlainTextResponse(q["hub.challenge"])
            if "challengeCode" in q:
                code = q["challengeCode"]
                resp = hmac.new(secret, code.encode(), hashlib.sha256).hexdigest()
                return JSONResponse({"challengeCode": code, "challengeResponse": resp})
            return Response(status_code=400)

        @self.app.post("/hooks/{network}")
        async def event(network: str, request: Request) -> Response:
            body = await request.body()
            self.received.append(
                {"network": network, "body": body, "headers": dict(request.headers)}
            )
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(status_code=500)
            return Response(status_code=200)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        await until(
            lambda: len(self.received) >= count,
            timeout=timeout,
            every=0.01,
            what=f"{count} deliveries (got {len(self.received)})",
        )
        return self.received


@pytest.fixture
def settings() -> SandboxSettings:
    return SandboxSettings(
        public_url="http://sandbox.test",
        webhook_base_url="http://receiver.test/hooks",
        webhook_backoff_seconds=0.01,
        fault_hang_seconds=0.2,
        processing_polls=1,
        # These tests look at each network's payloads; test_subscriptions.py at who gets them.
        require_subscriptions=False,
    )


@pytest.fixture
async def world(settings: SandboxSettings) -> AsyncIterator[tuple[httpx.AsyncClient, Receiver]]:
    from sandbox.state import NETWORKS, State

    apps = State(settings).apps
    receiver = Receiver({n: apps[n].client_secret for n in NETWORKS})
    app = create_app(settings, webhook_transport=httpx.ASGITransport(app=receiver.app))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as client:
        yield client, receiver
    await app.state.sandbox.deliveries.close()


@pytest.fixture
def client(world: tuple[httpx.AsyncClient, Receiver]) -> httpx.AsyncClient:
    return world[0]


@pytest.fixture
def receiver(world: tuple[httpx.AsyncClient, Receiver]) -> Receiver:
    return world[1]


async def new_account(
    client: httpx.AsyncClient, network: str, name: str = "Acme"
) -> dict[str, Any]:
    resp = await client.post(f"/_sandbox/{network}/accounts", json={"name": name})
    assert resp.status_code == 201, resp.text
    return resp.json()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pkce_pair() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(b"v" * 40).decode().rstrip("=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")
