"""Path escape through the gateway: dot-segments route one way and are forwarded another.

The gateway chooses the service by the decoded path, so `/l/../X` is a public short link of
the metrics service; the forwarded URL is then normalised to `/X`, which the service answers
with the internal token the gateway added. Every such path is refused (400) before routing.
"""

from __future__ import annotations

import httpx
import pytest

from tests.security.edge import bearer, gateway_url, new_workspace, raw_request

# Raw paths as an attacker sends them: plain, percent-encoded dots, encoded slashes.
ESCAPES = [
    "/l/../openapi.json",
    "/hooks/../openapi.json",
    "/l/%2e%2e/openapi.json",
    "/l/.%2E/openapi.json",
    "/l/x%2F..%2F..%2Fopenapi.json",
    "/hooks/x%2f..%2f..%2fopenapi.json",
    "/l/./x",
    "/hooks/x/..%5c..%5copenapi.json",
]


@pytest.mark.timeout(300)
async def test_dot_segments_never_reach_another_path(platform) -> None:  # noqa: ANN001
    base = gateway_url(platform)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        workspace = await new_workspace(client)
        key = workspace["api_key"]

        for raw_path in ESCAPES:
            r = await raw_request(base, raw_path)
            assert r.status == 400, (raw_path, r.status, r.body[:200])
            assert r.headers["content-type"].startswith("application/problem+json")
            assert b'"openapi":' not in r.body

        # With a key too: a key route must not lead out of its service's API.
        r = await raw_request(base, "/v1/posts/../../openapi.json", headers=bearer(key))
        assert r.status == 400, (r.status, r.body[:200])

        # What is not an escape still routes as before.
        r = await client.get("/l/no-such-code")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await client.get("/v1/channels", headers=bearer(key))
        assert r.status_code == 200, r.text
        r = await raw_request(base, "/v1/channels?q=a/../b", headers=bearer(key))
        assert r.status == 200, r.body[:200]
