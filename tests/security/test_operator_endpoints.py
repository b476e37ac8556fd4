"""/metrics and /readyz were public on the gateway, the one process the internet reaches.

Metrics list every route's traffic and the queues; readiness says which dependency is down.
On the public port they now take the platform admin token; an internal port that is never
published serves them to probes and Prometheus. /healthz stays open.
"""

from __future__ import annotations

import httpx
import pytest

from deploy.runner import Platform
from tests.e2e.conftest import ADMIN_TOKEN, platform_config
from tests.security.edge import bearer, gateway_url
from tests.support.servers import free_port


@pytest.fixture
async def gateway_with_ops_port(database_url: str, bus_prefix: str, tmp_path):  # noqa: ANN201
    config = platform_config(database_url, bus_prefix, tmp_path=tmp_path)
    ops_port = free_port()
    config.extra_env["gateway"] = {"GATEWAY_OPS_PORT": str(ops_port)}
    running = Platform(config)
    try:
        await running.start()
        yield running, ops_port
    finally:
        running.stop()


@pytest.mark.timeout(300)
async def test_operator_endpoints_are_not_public(gateway_with_ops_port) -> None:  # noqa: ANN001
    platform, ops_port = gateway_with_ops_port
    async with httpx.AsyncClient(base_url=gateway_url(platform), timeout=10) as client:
        for path in ("/metrics", "/readyz"):
            r = await client.get(path)
            assert r.status_code == 401, (path, r.status_code, r.text[:200])
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "herald_http_request_seconds" not in r.text
            r = await client.get(path, headers=bearer("hk_live_not-the-admin-token"))
            assert r.status_code == 401
            # The operator still has them.
            assert (await client.get(path, headers=bearer(ADMIN_TOKEN))).status_code == 200
        r = await client.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}

    # Probes and Prometheus use the internal port, without a token.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops_port}", timeout=10) as ops:
        assert (await ops.get("/healthz")).status_code == 200
        assert (await ops.get("/readyz")).json() == {"status": "ready"}
        assert "herald_http_request_seconds" in (await ops.get("/metrics")).text
        assert (await ops.get("/v1/channels")).status_code == 404
