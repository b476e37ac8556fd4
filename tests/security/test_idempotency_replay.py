"""Idempotency replay across keys: a stored response handed to another key of the workspace.

Stored idempotent responses were kept per workspace and in clear, so any key of the
workspace (an analyst's) could send the same request with the same `Idempotency-Key` and
read the answer an owner got: a fresh owner API key, an invitation token, a webhook secret.
Records now belong to the key that made them, and a response that carries a secret
(`Cache-Control: no-store`) is never kept: its replay is refused with a problem that says so.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.conftest import PG_HOST
from tests.security.edge import bearer, gateway_url, new_workspace


async def stored_bodies(platform) -> list[bytes]:  # noqa: ANN001
    conn = await asyncpg.connect(f"{PG_HOST}/{platform.config.database}")
    try:
        rows = await conn.fetch("SELECT response_body FROM gateway.idempotency_records")
    finally:
        await conn.close()
    return [bytes(r["response_body"]) for r in rows if r["response_body"] is not None]


@pytest.mark.timeout(300)
async def test_another_key_cannot_replay_a_secret(platform) -> None:  # noqa: ANN001
    async with httpx.AsyncClient(base_url=gateway_url(platform), timeout=30) as client:
        workspace = await new_workspace(client)
        owner = workspace["api_key"]
        r = await client.post(
            "/v1/api-keys", json={"name": "dash", "role": "analyst"}, headers=bearer(owner)
        )
        analyst = r.json()["api_key"]

        request = {"name": "ci", "role": "owner"}
        first = await client.post(
            "/v1/api-keys", json=request, headers={**bearer(owner), "Idempotency-Key": "k-1"}
        )
        assert first.status_code == 201, first.text
        secret = first.json()["api_key"]

        # The attack: the analyst sends the same request with the same key.
        stolen = await client.post(
            "/v1/api-keys", json=request, headers={**bearer(analyst), "Idempotency-Key": "k-1"}
        )
        assert secret not in stolen.text
        assert "idempotent-replayed" not in stolen.headers
        assert stolen.status_code == 403, stolen.text  # ran for real, as the analyst

        # Invitation tokens and webhook secrets likewise.
        invite = {"email": "x@example.com", "role": "admin"}
        token = (
            await client.post(
                "/v1/members/invitations",
                json=invite,
                headers={**bearer(owner), "Idempotency-Key": "k-2"},
            )
        ).json()["token"]
        stolen = await client.post(
            "/v1/members/invitations",
            json=invite,
            headers={**bearer(analyst), "Idempotency-Key": "k-2"},
        )
        assert token not in stolen.text and stolen.status_code == 403

        # Nothing secret is kept in the database, not even for the key that made it...
        stored = b"".join(await stored_bodies(platform))
        assert secret.encode() not in stored and token.encode() not in stored
        # ...so its own retry is told what happened instead of getting the secret again.
        again = await client.post(
            "/v1/api-keys", json=request, headers={**bearer(owner), "Idempotency-Key": "k-1"}
        )
        assert again.status_code == 409, again.text
        assert again.headers["content-type"].startswith("application/problem+json")
        assert again.json()["field"] == "Idempotency-Key"
        assert again.json()["original_status"] == 201
        assert secret not in again.text

        # A response without a secret still replays, for its own key only.
        r = await client.post(
            "/v1/posts/validate",
            json={"text": "hi", "targets": []},
            headers={**bearer(owner), "Idempotency-Key": "k-3"},
        )
        replay = await client.post(
            "/v1/posts/validate",
            json={"text": "hi", "targets": []},
            headers={**bearer(owner), "Idempotency-Key": "k-3"},
        )
        assert replay.headers.get("idempotent-replayed") == "true"
        assert replay.status_code == r.status_code and replay.content == r.content
