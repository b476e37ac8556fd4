import base64
import uuid

import pytest
from sqlalchemy import select

from services.gateway.models import ApiKey
from services.gateway.settings import GatewaySettings
from tests.gateway.support import (
    ADMIN_TOKEN,
    bearer,
    echo_upstreams,
    listening,
    running_gateway,
)


async def test_workspace_creation_returns_owner_key_once_and_emits_event(make_settings):
    async with running_gateway(make_settings) as gw:
        async with listening(gw.settings.exchange_name, "workspace.created") as listener:
            ws = await gw.workspace(name="Acme", timezone="Asia/Jerusalem")
            await listener.wait_for_count(1)
        assert ws["name"] == "Acme" and ws["timezone"] == "Asia/Jerusalem"
        assert ws["api_key"].startswith("hk_live_") and len(ws["api_key"]) > 40
        event = listener.envelopes[0]
        assert event.workspace_id == uuid.UUID(ws["id"])
        assert event.data["timezone"] == "Asia/Jerusalem"
        # Only the hash is stored.
        async with gw.runtime.sessions() as session:
            stored = (await session.scalars(select(ApiKey))).all()
        assert len(stored) == 1 and stored[0].role == "owner"
        assert ws["api_key"] not in (stored[0].secret_hash, stored[0].display_prefix)
        listed = await gw.client.get("/v1/api-keys", headers=bearer(ws["api_key"]))
        assert listed.status_code == 200
        assert "api_key" not in listed.json()["items"][0]
        assert ws["api_key"] not in listed.text


@pytest.mark.parametrize(
    ("headers", "body", "status", "field"),
    [
        ({}, {"name": "A", "timezone": "UTC"}, 401, None),
        ({"Authorization": "Bearer wrong"}, {"name": "A", "timezone": "UTC"}, 401, None),
        (
            {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            {"name": "A", "timezone": "Mars/Base"},
            422,
            "timezone",
        ),
        (
            {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            {"name": "A", "timezone": "localtime"},
            422,
            "timezone",
        ),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}"}, {"name": "", "timezone": "UTC"}, 422, "name"),
    ],
)
async def test_workspace_creation_refuses_bad_input(make_settings, headers, body, status, field):
    async with running_gateway(make_settings, run_workers=False) as gw:
        r = await gw.client.post("/v1/workspaces", json=body, headers=headers)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
        if field:
            assert r.json()["field"] == field
        async with gw.runtime.sessions() as session:
            assert (await session.scalars(select(ApiKey))).all() == []


async def test_malformed_json_is_a_problem(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        r = await gw.client.post(
            "/v1/workspaces",
            content=b"{not json",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "application/json"},
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"


async def test_key_lifecycle_and_immediate_revocation(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        ws = await gw.workspace()
        owner = ws["api_key"]
        editor = await gw.key(owner, "editor", name="frontend")
        assert editor["role"] == "editor" and editor["api_key"].startswith("hk_live_")

        listed = (await gw.client.get("/v1/api-keys", headers=bearer(owner))).json()
        assert {k["name"] for k in listed["items"]} == {"Owner key", "frontend"}
        assert all("api_key" not in k for k in listed["items"])

        # An editor may not manage keys.
        r = await gw.client.get("/v1/api-keys", headers=bearer(editor["api_key"]))
        assert r.status_code == 403
        # Warm the cache, then revoke: the very next call is refused.
        r = await gw.client.post(
            "/v1/api-keys",
            json={"name": "x", "role": "analyst"},
            headers=bearer(editor["api_key"]),
        )
        assert r.status_code == 403
        r = await gw.client.delete(f"/v1/api-keys/{editor['id']}", headers=bearer(owner))
        assert r.status_code == 204
        r = await gw.client.get("/v1/api-keys", headers=bearer(editor["api_key"]))
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        r = await gw.client.get("/v1/analytics/posts/x", headers=bearer(editor["api_key"]))
        assert r.status_code == 401

        again = await gw.client.delete(f"/v1/api-keys/{editor['id']}", headers=bearer(owner))
        assert again.status_code == 404
        with_revoked = await gw.client.get(
            "/v1/api-keys", params={"include_revoked": "true"}, headers=bearer(owner)
        )
        revoked = [k for k in with_revoked.json()["items"] if k["id"] == editor["id"]]
        assert revoked and revoked[0]["revoked_at"] is not None

        # The last owner key cannot be revoked: the workspace would be locked out.
        r = await gw.client.delete(f"/v1/api-keys/{ws['api_key_id']}", headers=bearer(owner))
        assert r.status_code == 409


async def test_admins_cannot_grant_or_revoke_more_than_they_hold(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        ws = await gw.workspace()
        admin = await gw.key(ws["api_key"], "admin")
        r = await gw.client.post(
            "/v1/api-keys", json={"name": "o", "role": "owner"}, headers=bearer(admin["api_key"])
        )
        assert r.status_code == 403
        r = await gw.client.delete(
            f"/v1/api-keys/{ws['api_key_id']}", headers=bearer(admin["api_key"])
        )
        assert r.status_code == 403
        assert (await gw.key(admin["api_key"], "editor"))["role"] == "editor"


async def test_keys_are_scoped_to_their_workspace(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        a = await gw.workspace(name="A")
        b = await gw.workspace(name="B")
        a_editor = await gw.key(a["api_key"], "editor")
        r = await gw.client.delete(f"/v1/api-keys/{a_editor['id']}", headers=bearer(b["api_key"]))
        assert r.status_code == 404
        listed = (await gw.client.get("/v1/api-keys", headers=bearer(b["api_key"]))).json()
        assert [k["id"] for k in listed["items"]] == [b["api_key_id"]]


async def test_key_list_paginates(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        ws = await gw.workspace()
        for i in range(4):
            await gw.key(ws["api_key"], "analyst", name=f"k{i}")
        seen, cursor = [], None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (
                await gw.client.get("/v1/api-keys", params=params, headers=bearer(ws["api_key"]))
            ).json()
            seen += [k["name"] for k in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == ["Owner key", "k0", "k1", "k2", "k3"]
        bad = await gw.client.get(
            "/v1/api-keys", params={"cursor": "nonsense"}, headers=bearer(ws["api_key"])
        )
        assert bad.status_code == 422 and bad.json()["field"] == "cursor"


def test_placeholder_admin_token_is_refused_outside_development():
    # A real key: the public development key is refused outside development too.
    keys = {"encryption_keys": {"k1": base64.b64encode(b"k" * 32).decode()}, "active_key_id": "k1"}
    with pytest.raises(ValueError, match="admin_token"):
        GatewaySettings(environment="production", internal_token="s3cret-internal", **keys)
    with pytest.raises(ValueError, match="encryption_keys"):
        GatewaySettings(
            environment="production", internal_token="s3cret-internal", admin_token="real-admin"
        )
    settings = GatewaySettings(
        environment="production", internal_token="s3cret-internal", admin_token="real-admin",
        **keys,
    )
    assert settings.port == 8000


def test_admin_token_falls_back_to_the_platform_variable(monkeypatch):
    monkeypatch.setenv("HERALD_ADMIN_TOKEN", "from-herald")
    assert GatewaySettings().admin_token == "from-herald"
    monkeypatch.setenv("GATEWAY_ADMIN_TOKEN", "from-gateway")
    assert GatewaySettings().admin_token == "from-gateway"


async def test_an_unreachable_key_store_answers_503_not_a_crash(make_settings):
    async with (
        echo_upstreams("scheduler") as ups,
        running_gateway(
            make_settings,
            run_workers=False,
            scheduler_url=ups["scheduler"][1],
            database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
        ) as gw,
    ):
        for method, headers in (("GET", {}), ("POST", {"Idempotency-Key": "k1"})):
            r = await gw.client.request(
                method, "/v1/posts", headers={**bearer("hk_live_unknown"), **headers}, json={}
            )
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["retry-after"] == "5"
        echo, _ = ups["scheduler"]
        assert echo.seen == []
