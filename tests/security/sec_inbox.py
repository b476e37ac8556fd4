"""Helpers of the inbox-side attacks: the platform's public doors, spoken to as a stranger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from deploy.runner import Platform
from tests.e2e.flows import new_workspace


@dataclass
class Doors:
    """The gateway (as a workspace's key holder) and the sandbox (as the networks)."""

    gateway: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@asynccontextmanager
async def doors(platform: Platform, timezone: str = "Europe/London") -> AsyncIterator[Doors]:
    config = platform.config
    async with (
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gateway,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=30) as sandbox,
    ):
        key = await new_workspace(gateway, timezone=timezone)
        yield Doors(gateway=gateway, sandbox=sandbox, key=key)


async def sandbox_account(sandbox: httpx.AsyncClient, network: str, name: str) -> dict:
    r = await sandbox.post(f"/_sandbox/{network}/accounts", json={"name": name})
    assert r.status_code in (200, 201), r.text
    account: dict = r.json()
    return account


async def connect(doors: Doors, network: str, account: dict, *, key: str | None = None) -> dict:
    r = await doors.gateway.post(
        "/v1/channels",
        json={"network": network, "credentials": account["credentials"]},
        headers={"Authorization": f"Bearer {key or doors.key}"},
    )
    assert r.status_code == 201, r.text
    channel: dict = r.json()
    return channel
