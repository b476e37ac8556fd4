"""Steps of the end-to-end flows, spoken through the public API only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.conftest import ADMIN_TOKEN
from tests.support.waits import until


async def new_workspace(gateway: httpx.AsyncClient, timezone: str = "Asia/Jerusalem") -> str:
    r = await gateway.post(
        "/v1/workspaces",
        json={"name": "Acme", "timezone": timezone},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert r.status_code == 201, r.text
    key: str = r.json()["api_key"]
    return key


async def connect_x_channel(
    gateway: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> dict[str, Any]:
    account = (await sandbox.post("/_sandbox/x/accounts", json={"name": "Acme"})).json()
    r = await gateway.post(
        "/v1/channels",
        json={"network": "x", "credentials": account["credentials"], "name": "Acme on X"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 201, r.text
    channel: dict[str, Any] = r.json()
    channel["account"] = account
    return channel


def local_wall_clock(seconds_from_now: float, timezone: str) -> str:
    at = datetime.now(ZoneInfo(timezone)) + timedelta(seconds=seconds_from_now)
    return at.replace(tzinfo=None).isoformat(timespec="seconds")


async def wait_for(
    check: Any, *, seconds: float = 30, interval: float = 0.2, what: str = "condition"
) -> Any:
    return await until(check, timeout=seconds, every=interval, what=what)
