"""Role escalation through a member's role: promoting someone must not promote their keys.

An admin issues an analyst-scoped key for an integration; when an owner promotes that admin,
the integration key used to become an owner key (every key of the member took the new role).
"""

from __future__ import annotations

import httpx
import pytest

from tests.security.edge import bearer, gateway_url, new_workspace


async def key_roles(client: httpx.AsyncClient, owner: str) -> dict[str, str]:
    r = await client.get("/v1/api-keys", headers=bearer(owner))
    assert r.status_code == 200, r.text
    return {k["id"]: k["role"] for k in r.json()["items"]}


@pytest.mark.timeout(300)
async def test_promoting_a_member_never_raises_their_keys(platform) -> None:  # noqa: ANN001
    async with httpx.AsyncClient(base_url=gateway_url(platform), timeout=30) as client:
        workspace = await new_workspace(client)
        owner = workspace["api_key"]
        r = await client.post(
            "/v1/members/invitations",
            json={"email": "ada@example.com", "role": "admin"},
            headers=bearer(owner),
        )
        assert r.status_code == 201, r.text
        r = await client.post("/v1/members/accept", json={"token": r.json()["token"]})
        assert r.status_code == 201, r.text
        member_id, admin_key = r.json()["member"]["id"], r.json()["api_key"]
        admin_key_id = r.json()["api_key_id"]

        # The admin's narrow keys: one for an analytics integration, one for a reviewer bot.
        made = {}
        for role in ("analyst", "reviewer", "editor"):
            r = await client.post(
                "/v1/api-keys", json={"name": role, "role": role}, headers=bearer(admin_key)
            )
            assert r.status_code == 201, r.text
            made[role] = r.json()
        analyst = made["analyst"]["api_key"]
        assert (await client.get("/v1/api-keys", headers=bearer(analyst))).status_code == 403

        # The attack: the member is promoted to owner.
        r = await client.patch(
            f"/v1/members/{member_id}", json={"role": "owner"}, headers=bearer(owner)
        )
        assert r.status_code == 200 and r.json()["role"] == "owner"

        roles = await key_roles(client, owner)
        assert roles[made["analyst"]["id"]] == "analyst"
        assert roles[made["reviewer"]["id"]] == "reviewer"
        assert roles[made["editor"]["id"]] == "editor"
        assert roles[admin_key_id] == "admin"
        # Still an analyst key in use: it may read, not manage keys nor delete the workspace.
        assert (await client.get("/v1/api-keys", headers=bearer(analyst))).status_code == 403
        r = await client.post(
            "/v1/api-keys", json={"name": "x", "role": "owner"}, headers=bearer(analyst)
        )
        assert r.status_code == 403
        assert (await client.get("/v1/channels", headers=bearer(analyst))).status_code == 200

        # Down with the member: made reviewer, every key keeps at most what a reviewer may do
        # and what it could already do (the editor key shares only reading with a reviewer).
        r = await client.patch(
            f"/v1/members/{member_id}", json={"role": "reviewer"}, headers=bearer(owner)
        )
        assert r.status_code == 200
        roles = await key_roles(client, owner)
        assert roles[admin_key_id] == "reviewer"
        assert roles[made["editor"]["id"]] == "analyst"
        assert roles[made["reviewer"]["id"]] == "reviewer"
        assert roles[made["analyst"]["id"]] == "analyst"
        # And back up: nothing comes back with the role.
        r = await client.patch(
            f"/v1/members/{member_id}", json={"role": "admin"}, headers=bearer(owner)
        )
        assert r.status_code == 200
        roles = await key_roles(client, owner)
        assert roles[admin_key_id] == "reviewer"
        assert roles[made["editor"]["id"]] == "analyst"
        assert (await client.get("/v1/api-keys", headers=bearer(admin_key))).status_code == 403
