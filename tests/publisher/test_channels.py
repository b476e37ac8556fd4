import uuid

import asyncpg
import httpx
import pytest

from services.publisher.app import create_app
from services.publisher.settings import DEVELOPMENT_KEY, PublisherSettings
from tests.conftest import identity
from tests.publisher.support import Tap, new_account
from tests.support.servers import lifespan


async def test_connect_list_update_and_disconnect_an_x_channel(
    publisher_settings, sandbox_url, database_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    account = await new_account(sandbox_url, "x")
    async with (
        Tap(settings.exchange_name, ["channel.*", "audit.recorded"]) as tap,
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        r = await client.post(
            "/v1/channels",
            json={"network": "x", "credentials": account["credentials"], "name": "Acme on X"},
            headers=identity(workspace, timezone="Asia/Jerusalem"),
        )
        assert r.status_code == 201, r.text
        channel = r.json()
        assert channel["external_id"] == account["external_id"]
        assert channel["name"] == "Acme on X"
        assert channel["timezone"] == "Asia/Jerusalem"
        assert channel["status"] == "active"
        connected = await tap.wait("channel.connected")
        assert connected[0].data["channel_id"] == channel["id"]
        assert connected[0].workspace_id == workspace

        listed = (await client.get("/v1/channels", headers=identity(workspace))).json()
        assert [c["id"] for c in listed["items"]] == [channel["id"]]
        other = uuid.uuid4()
        assert (await client.get("/v1/channels", headers=identity(other))).json()["items"] == []
        hidden = await client.get(f"/v1/channels/{channel['id']}", headers=identity(other))
        assert hidden.status_code == 404
        assert hidden.headers["content-type"] == "application/problem+json"
        analyst = await client.post(
            "/v1/channels",
            json={"network": "x", "credentials": account["credentials"]},
            headers=identity(workspace, role="analyst"),
        )
        assert analyst.status_code == 403

        patched = await client.patch(
            f"/v1/channels/{channel['id']}",
            json={"name": "Acme", "timezone": "Europe/Paris"},
            headers=identity(workspace),
        )
        assert patched.status_code == 200, patched.text
        assert (patched.json()["name"], patched.json()["timezone"]) == ("Acme", "Europe/Paris")
        bad_zone = await client.patch(
            f"/v1/channels/{channel['id']}",
            json={"timezone": "Mars/Olympus"},
            headers=identity(workspace),
        )
        assert bad_zone.status_code == 422 and bad_zone.json()["field"] == "timezone"
        await tap.wait("channel.updated")

        gone = await client.delete(f"/v1/channels/{channel['id']}", headers=identity(workspace))
        assert gone.status_code == 204
        assert (
            await client.get(f"/v1/channels/{channel['id']}", headers=identity(workspace))
        ).status_code == 404
        await tap.wait("channel.disconnected")
        # Who did it, for the audit log: the refused and invalid calls record nothing.
        entries = [e.data for e in await tap.wait("audit.recorded", count=3)]
        assert [e["action"] for e in entries] == [
            "channel.connected",
            "channel.updated",
            "channel.disconnected",
        ]
        assert {(e["actor"], e["actor_role"], e["service"]) for e in entries} == {
            ("key-owner", "owner", "publisher")
        }
        assert {e["resource_id"] for e in entries} == {channel["id"]}
        assert entries[0]["details"] == {"network": "x"}
        assert entries[1]["details"] == {"name": "Acme", "timezone": "Europe/Paris"}
        assert all(e.workspace_id == workspace for e in tap.of("audit.recorded"))

    # The credentials are sealed at rest: the access token is nowhere in the row.
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch("SELECT credentials, key_id FROM publisher.channels")
        assert rows == []  # disconnected above
    finally:
        await conn.close()


async def test_credentials_are_encrypted_at_rest(publisher_settings, sandbox_url, database_url):
    settings = publisher_settings(run_workers=False)
    app = create_app(settings)
    workspace = uuid.uuid4()
    account = await new_account(sandbox_url, "x")
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        r = await client.post(
            "/v1/channels",
            json={"network": "x", "credentials": account["credentials"]},
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        row = await conn.fetchrow("SELECT credentials, key_id FROM publisher.channels")
    finally:
        await conn.close()
    assert row["key_id"] == settings.active_key_id
    assert account["credentials"]["access_token"].encode() not in row["credentials"]


async def test_refused_credentials_and_unknown_network_store_nothing(
    publisher_settings, sandbox_url
):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["channel.*"]) as tap,
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        refused = await client.post(
            "/v1/channels",
            json={"network": "x", "credentials": {"access_token": "not-a-token"}},
            headers=identity(workspace),
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "credentials"
        unknown = await client.post(
            "/v1/channels",
            json={"network": "myspace", "credentials": {}},
            headers=identity(workspace),
        )
        assert unknown.status_code == 422
        assert unknown.json()["field"] == "network"
        listed = (await client.get("/v1/channels", headers=identity(workspace))).json()
        assert listed["items"] == []
        networks = (await client.get("/v1/networks", headers=identity(workspace))).json()
        by_name = {n["network"]: n for n in networks["items"]}
        assert by_name["x"]["publishing"] is True
        assert len(by_name) == 9
    assert tap.of("channel.connected") == []


def test_settings_refuse_the_development_key_in_production():
    with pytest.raises(ValueError, match="development"):
        PublisherSettings(environment="production", internal_token="s3cret-token")
    ok = PublisherSettings(
        environment="production",
        internal_token="s3cret-token",
        encryption_keys={"k2": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="},
        active_key_id="k2",
    )
    assert ok.encryption_keys["k2"] != DEVELOPMENT_KEY
    with pytest.raises(ValueError, match="32 bytes"):
        PublisherSettings(encryption_keys={"short": "c2hvcnQ="}, active_key_id="short")


async def test_channels_list_a_page_at_a_time_with_a_cursor(publisher_settings, sandbox_url):
    app = create_app(publisher_settings(run_workers=False))
    workspace = uuid.uuid4()
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client,
    ):
        created = []
        for n in range(3):
            account = await new_account(sandbox_url, "x", name=f"Acme {n}")
            r = await client.post(
                "/v1/channels",
                json={"network": "x", "credentials": account["credentials"]},
                headers=identity(workspace),
            )
            assert r.status_code == 201, r.text
            created.append(r.json()["id"])
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            r = await client.get("/v1/channels", params=params, headers=identity(workspace))
            assert r.status_code == 200, r.text
            page = r.json()
            assert len(page["items"]) <= 2
            seen += [c["id"] for c in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                assert "link" not in r.headers
                break
            assert 'rel="next"' in r.headers["link"]
        assert seen == created and pages == 2
        bad = await client.get(
            "/v1/channels", params={"cursor": "nope"}, headers=identity(workspace)
        )
        assert bad.status_code == 422 and bad.json()["field"] == "cursor"
        too_many = await client.get(
            "/v1/channels", params={"limit": 201}, headers=identity(workspace)
        )
        assert too_many.status_code == 422
