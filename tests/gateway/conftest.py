"""The whole platform for the gateway's API-wide tests, started once for the package.

Schemathesis, the isolation sweep, the conventions sweep and the generated client all talk to
the same six processes (gateway, four services, sandbox) over real HTTP; each seeds its own
workspaces, so they do not depend on each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from deploy.runner import Platform
from tests.conftest import _admin, delete_bus_objects, sqlalchemy_url
from tests.e2e.conftest import ADMIN_TOKEN, platform_config
from tests.support.servers import free_port

# The API-wide tests send thousands of requests with one key: the limits are raised so they
# are counted (and their headers checked) without turning the sweep into a wall of 429s.
HIGH_LIMIT = 1_000_000
# The client webhook endpoint of the API-wide tests (world.hook_receiver) listens here: the
# platform is told before it starts that outbound fetches may reach it (it is on loopback).
HOOK_PORT = free_port()


@pytest.fixture(scope="package")
async def api_platform(template_database: str, tmp_path_factory) -> AsyncIterator[Platform]:
    name = f"{template_database.removesuffix('_tpl')}_gw{uuid.uuid4().hex[:6]}"
    conn = await _admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await conn.close()
    bus_prefix = f"tgw{uuid.uuid4().hex[:8]}."
    config = platform_config(
        sqlalchemy_url(name), bus_prefix, tmp_path=tmp_path_factory.mktemp("platform")
    )
    # Small pools: the machine's PostgreSQL is shared with other test runs.
    for service in ("gateway", "scheduler", "publisher", "inbox", "metrics"):
        config.extra_env[service] = {f"{service.upper()}_DATABASE_POOL_SIZE": "2"}
    config.extra_env["gateway"].update(
        GATEWAY_RATE_LIMIT_PER_KEY=str(HIGH_LIMIT),
        GATEWAY_RATE_LIMIT_PER_WORKSPACE=str(HIGH_LIMIT),
    )
    config.outbound_allow.append(f"127.0.0.1:{HOOK_PORT}")
    running = Platform(config)
    try:
        await running.start()
        yield running
    finally:
        running.stop()
        await delete_bus_objects(bus_prefix, kinds=("queues", "exchanges"))
        conn = await _admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def new_workspace(gateway: httpx.AsyncClient, name: str) -> dict[str, Any]:
    r = await gateway.post(
        "/v1/workspaces",
        json={"name": name, "timezone": "Europe/Paris"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert r.status_code == 201, r.text
    workspace: dict[str, Any] = r.json()
    return workspace
