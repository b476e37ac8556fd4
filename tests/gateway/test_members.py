from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from services.gateway.models import Invitation
from tests.gateway.support import Gateway, bearer, running_gateway


async def invite(gw: Gateway, key: str, email: str, role: str) -> dict:
    r = await gw.client.post(
        "/v1/members/invitations", json={"email": email, "role": role}, headers=bearer(key)
    )
    assert r.status_code == 201, r.text
    return r.json()


async def join(gw: Gateway, token: str, name: str | None = None) -> dict:
    r = await gw.client.post("/v1/members/accept", json={"token": token, "name": name})
    assert r.status_code == 201, r.text
    return r.json()


async def test_invite_accept_list_change_role_and_remove(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        ws = await gw.workspace()
        owner = ws["api_key"]
        inv = await invite(gw, owner, "Dana@Example.com", "admin")
        assert inv["token"].startswith("hinv_") and inv["email"] == "dana@example.com"
        expires = datetime.fromisoformat(inv["expires_at"])
        assert timedelta(days=6.99) < expires - datetime.now(UTC) <= timedelta(days=7)
        async with gw.runtime.sessions() as session:
            stored = await session.scalar(select(Invitation))
        assert inv["token"] not in stored.token_hash

        joined = await join(gw, inv["token"], name="Dana")
        assert joined["member"]["role"] == "admin" and joined["workspace_id"] == ws["id"]
        dana = joined["api_key"]
        # The key works with the member's role, and the token is spent.
        assert (await gw.client.get("/v1/members", headers=bearer(dana))).status_code == 200
        again = await gw.client.post("/v1/members/accept", json={"token": inv["token"]})
        assert again.status_code == 404
        assert (
            await gw.client.post("/v1/members/accept", json={"token": "hinv_nope"})
        ).status_code == 404

        members = (await gw.client.get("/v1/members", headers=bearer(owner))).json()["items"]
        assert [(m["email"], m["name"], m["role"]) for m in members] == [
            ("dana@example.com", "Dana", "admin")
        ]
        dup = await gw.client.post(
            "/v1/members/invitations",
            headers=bearer(owner),
            json={"email": "dana@example.com", "role": "editor"},
        )
        assert dup.status_code == 409

        # Dana's extra keys are hers; a role change applies to all of them.
        extra = (await gw.key(dana, "editor"))["api_key"]
        member_id = joined["member"]["id"]
        r = await gw.client.patch(
            f"/v1/members/{member_id}", json={"role": "analyst"}, headers=bearer(owner)
        )
        assert r.status_code == 200 and r.json()["role"] == "analyst"
        keys = (await gw.client.get("/v1/api-keys", headers=bearer(owner))).json()["items"]
        assert sorted(k["role"] for k in keys) == ["analyst", "analyst", "owner"]
        assert (await gw.client.get("/v1/members", headers=bearer(dana))).status_code == 403

        assert (
            await gw.client.delete(f"/v1/members/{member_id}", headers=bearer(owner))
        ).status_code == 204
        for key in (dana, extra):
            r = await gw.client.get("/v1/webhooks", headers=bearer(key))
            assert r.status_code == 401
        assert (await gw.client.get("/v1/members", headers=bearer(owner))).json()["items"] == []


async def test_nobody_grants_above_their_own_role(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        owner = (await gw.workspace())["api_key"]
        admin = await join(gw, (await invite(gw, owner, "a@x.io", "admin"))["token"])
        admin_key = admin["api_key"]
        r = await gw.client.post(
            "/v1/members/invitations",
            headers=bearer(admin_key),
            json={"email": "b@x.io", "role": "owner"},
        )
        assert r.status_code == 403
        owner_member = await join(gw, (await invite(gw, owner, "o@x.io", "owner"))["token"])
        # An admin may neither change nor remove an owner, nor promote to owner.
        oid = owner_member["member"]["id"]
        assert (
            await gw.client.patch(
                f"/v1/members/{oid}", json={"role": "editor"}, headers=bearer(admin_key)
            )
        ).status_code == 403
        assert (
            await gw.client.delete(f"/v1/members/{oid}", headers=bearer(admin_key))
        ).status_code == 403
        editor = await join(gw, (await invite(gw, admin_key, "e@x.io", "editor"))["token"])
        eid = editor["member"]["id"]
        assert (
            await gw.client.patch(
                f"/v1/members/{eid}", json={"role": "owner"}, headers=bearer(admin_key)
            )
        ).status_code == 403
        # Editors do not manage members at all.
        assert (
            await gw.client.post(
                "/v1/members/invitations",
                headers=bearer(editor["api_key"]),
                json={"email": "z@x.io", "role": "analyst"},
            )
        ).status_code == 403
        # Another workspace sees none of it.
        intruder = (await gw.workspace(name="Other"))["api_key"]
        assert (
            await gw.client.patch(
                f"/v1/members/{eid}", json={"role": "analyst"}, headers=bearer(intruder)
            )
        ).status_code == 404
        assert (
            await gw.client.delete(f"/v1/members/{eid}", headers=bearer(intruder))
        ).status_code == 404
        assert (await gw.client.get("/v1/members", headers=bearer(intruder))).json()["items"] == []


async def test_last_owner_is_protected_and_invitations_expire(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        ws = await gw.workspace()
        first = ws["api_key"]
        boss = await join(gw, (await invite(gw, first, "boss@x.io", "owner"))["token"])
        deputy = await join(gw, (await invite(gw, first, "deputy@x.io", "owner"))["token"])
        bid = boss["member"]["id"]
        # Other owner keys exist, so a member may step down...
        assert (
            await gw.client.patch(
                f"/v1/members/{deputy['member']['id']}",
                json={"role": "admin"},
                headers=bearer(deputy["api_key"]),
            )
        ).status_code == 200
        assert (
            await gw.client.delete(
                f"/v1/api-keys/{ws['api_key_id']}", headers=bearer(boss["api_key"])
            )
        ).status_code == 204
        # ...but once the member holds the only owner keys left, they may not.
        r = await gw.client.patch(
            f"/v1/members/{bid}", json={"role": "admin"}, headers=bearer(boss["api_key"])
        )
        assert r.status_code == 409
        r = await gw.client.delete(f"/v1/members/{bid}", headers=bearer(boss["api_key"]))
        assert r.status_code == 409

        late = await invite(gw, boss["api_key"], "late@x.io", "editor")
        async with gw.runtime.sessions() as session:
            await session.execute(
                update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        r = await gw.client.post("/v1/members/accept", json={"token": late["token"]})
        assert r.status_code == 404
