"""A workspace, an API key and a connected sandbox X channel on the bench platform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Tenant:
    api_key: str
    workspace_id: str
    channel: dict[str, Any]
    account: dict[str, Any]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def tenant(platform: Any, network: str = "x") -> Tenant:
    config = platform.config
    async with (
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=10) as gateway,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=10) as sandbox,
    ):
        r = await gateway.post(
            "/v1/workspaces",
            json={"name": "Bench", "timezone": "UTC"},
            headers={"Authorization": f"Bearer {config.admin_token}"},
        )
        r.raise_for_status()
        ws = r.json()
        account = (await sandbox.post(f"/_sandbox/{network}/accounts", json={})).json()
        r = await gateway.post(
            "/v1/channels",
            json={"network": network, "credentials": account["credentials"]},
            headers={"Authorization": f"Bearer {ws['api_key']}"},
        )
        r.raise_for_status()
        return Tenant(
            api_key=ws["api_key"], workspace_id=ws["id"], channel=r.json(), account=account
        )
