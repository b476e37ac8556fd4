"""Revoked keys on other gateway replicas, and guessing keys for free.

Each replica cached an authenticated key for 30 s and only its own revocations cleared that
cache, so a key revoked through one replica kept working on the others; an unknown key cost
a database query every time, without any limit. Now a revocation (or a member's role going
down) reaches every replica through NOTIFY within a second, and an address that keeps
sending keys that are not valid is refused (429) before any lookup.
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from deploy.runner import Platform
from tests.e2e.conftest import platform_config
from tests.security.edge import bearer, eventually, gateway_url, new_workspace


@pytest.fixture
async def two_gateways(database_url: str, bus_prefix: str, tmp_path):  # noqa: ANN201
    config = platform_config(database_url, bus_prefix, tmp_path=tmp_path)
    config.replicas = {"gateway": 2}
    config.extra_env["gateway"] = {"GATEWAY_AUTH_FAILURES_PER_ADDRESS": "5"}
    running = Platform(config)
    try:
        await running.start()
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(300)
async def test_revocation_reaches_every_replica_within_a_second(two_gateways) -> None:  # noqa: ANN001
    one = httpx.AsyncClient(base_url=gateway_url(two_gateways, 0), timeout=10)
    other = httpx.AsyncClient(base_url=gateway_url(two_gateways, 1), timeout=10)
    async with one, other:
        workspace = await new_workspace(one)
        owner = workspace["api_key"]
        r = await one.post(
            "/v1/api-keys", json={"name": "ci", "role": "admin"}, headers=bearer(owner)
        )
        doomed = r.json()
        # The other replica has the key cached.
        for _ in range(3):
            assert (
                await other.get("/v1/api-keys", headers=bearer(doomed["api_key"]))
            ).status_code == 200

        r = await one.delete(f"/v1/api-keys/{doomed['id']}", headers=bearer(owner))
        assert r.status_code == 204

        async def refused() -> bool:
            r = await other.get("/v1/api-keys", headers=bearer(doomed["api_key"]))
            return r.status_code == 401

        await eventually(refused, within=1.0, every=0.02)

        # A member made analyst: their admin key loses its rights on the other replica too.
        r = await one.post(
            "/v1/members/invitations",
            json={"email": "m@example.com", "role": "admin"},
            headers=bearer(owner),
        )
        joined = (await one.post("/v1/members/accept", json={"token": r.json()["token"]})).json()
        member_key = joined["api_key"]
        assert (await other.get("/v1/api-keys", headers=bearer(member_key))).status_code == 200
        r = await one.patch(
            f"/v1/members/{joined['member']['id']}", json={"role": "analyst"}, headers=bearer(owner)
        )
        assert r.status_code == 200

        async def demoted() -> bool:
            r = await other.get("/v1/api-keys", headers=bearer(member_key))
            return r.status_code == 403

        await eventually(demoted, within=1.0, every=0.02)


@pytest.mark.timeout(300)
async def test_guessing_keys_is_rate_limited_per_address(two_gateways) -> None:  # noqa: ANN001
    async with httpx.AsyncClient(base_url=gateway_url(two_gateways, 0), timeout=10) as client:
        workspace = await new_workspace(client)
        # A key in use from that address before the guessing started.
        assert (
            await client.get("/v1/channels", headers=bearer(workspace["api_key"]))
        ).status_code == 200
        statuses = []
        for _ in range(12):
            guess = "hk_live_" + secrets.token_urlsafe(32)
            r = await client.get("/v1/channels", headers=bearer(guess))
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.headers["content-type"].startswith("application/problem+json")
                assert int(r.headers["retry-after"]) >= 1
        assert statuses[:5] == [401] * 5
        assert statuses[5:] == [429] * 7
        # Also through the gateway's own endpoints and for keys guessed on a proxied route.
        r = await client.get("/v1/api-keys", headers=bearer("hk_live_" + secrets.token_urlsafe(32)))
        assert r.status_code == 429
        # The key already in use keeps working from the same address (a key never seen by
        # this replica would need the very lookup that is refused until the window ends).
        r = await client.get("/v1/channels", headers=bearer(workspace["api_key"]))
        assert r.status_code == 200, r.text
