"""Input PostgreSQL cannot store is a 422 naming the field, never a 500, and changes nothing.

Found by schemathesis against the running platform: a NUL character in a string (PostgreSQL
text cannot hold U+0000), an integer wider than its column, a derived string longer than its
column. Each reached the database and came back as a 500.
"""

from __future__ import annotations

import httpx

from tests.e2e.conftest import ADMIN_TOKEN
from tests.security.sec_inbox import connect, doors, sandbox_account

NUL = "\u0000"


def refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, (field, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    assert r.json()["field"] == field, (field, r.json())


async def test_nul_characters_and_wide_numbers_are_refused_by_name(platform) -> None:
    async with doors(platform) as d:
        gw, auth = d.gateway, d.auth
        channel = await connect(d, "x", await sandbox_account(d.sandbox, "x", "Acme"))

        # The three schemathesis found.
        r = await gw.put(
            "/v1/inbox/keywords",
            headers=auth,
            json={"keywords": [{"term": f"bad{NUL}word", "weight": -1}]},
        )
        refused(r, "keywords[0].term")
        r = await gw.post(
            "/v1/inbox/rules", headers=auth, json={"name": "vip", "pattern": "vip", "tags": ["vip"]}
        )
        assert r.status_code == 201, r.text
        rule = r.json()
        r = await gw.put(
            f"/v1/inbox/rules/{rule['id']}",
            headers=auth,
            json={**_writable(rule), "position": 100000000000000000},
        )
        refused(r, "position")
        r = await gw.post(
            "/v1/members/invitations",
            headers=auth,
            json={"email": "dana@example.com", "role": "analyst"},
        )
        assert r.status_code == 201, r.text
        r = await gw.post(
            "/v1/members/accept", json={"token": r.json()["token"], "name": "D" * 200}
        )
        assert r.status_code == 201, r.text  # the longest name the document allows fits

        # The same kinds of input elsewhere: every service, body, query and path.
        r = await gw.post(
            "/v1/posts",
            headers=auth,
            json={"text": f"Hello{NUL}", "targets": [{"channel_id": channel["id"]}]},
        )
        refused(r, "text")
        r = await gw.post(
            "/v1/posts",
            headers=auth,
            json={
                "text": "Hello",
                "tags": ["ok", f"t{NUL}"],
                "targets": [{"channel_id": channel["id"]}],
            },
        )
        refused(r, "tags[1]")
        r = await gw.post("/v1/links", headers=auth, json={"url": f"https://example.com/{NUL}"})
        refused(r, "url")
        r = await gw.get("/v1/conversations", headers=auth, params={"q": f"a{NUL}b"})
        refused(r, "query.q")
        r = await gw.get("/v1/conversations/%00", headers=auth)
        assert r.status_code in (404, 422), r.text
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        r = await gw.post("/v1/workspaces", headers=admin, json={"name": "B", "timezone": "UTC"})
        assert r.status_code == 201, r.text
        r = await gw.patch(
            f"/v1/workspaces/{r.json()['id']}", headers=admin, json={"rate_limit": 2**40}
        )
        refused(r, "rate_limit")
        r = await gw.post(
            "/v1/inbox/rules",
            headers=auth,
            json={"name": "deep", "pattern": "x", "position": -(2**40)},
        )
        refused(r, "position")

        # Credentials go into HTTP headers: a line break or a non-ASCII letter could not be
        # sent, and the publisher answered 503 as if the network were down.
        for token in ("line\nbreak", "caf\u00e9"):
            r = await gw.post(
                "/v1/channels",
                headers=auth,
                json={"network": "x", "credentials": {"access_token": token}},
            )
            refused(r, "credentials.access_token")
        # No token at all: "Bearer " is not even a valid header, the network never sees it.
        for credentials in ({}, {"access_token": ""}, {"access_token": "token "}):
            r = await gw.post(
                "/v1/channels", headers=auth, json={"network": "x", "credentials": credentials}
            )
            refused(r, "credentials")

        # A zone name longer than a file name may be was looked up as a file (OSError).
        long_zone = "Europe/" + "x" * 300
        r = await gw.post(
            "/v1/posts",
            headers=auth,
            json={
                "text": "Hi",
                "targets": [{"channel_id": channel["id"]}],
                "schedule": {"at": "2031-01-01T09:00:00", "timezone": long_zone},
            },
        )
        refused(r, "schedule.timezone")
        r = await gw.patch(
            f"/v1/channels/{channel['id']}", headers=auth, json={"timezone": long_zone}
        )
        refused(r, "timezone")

        # A number JSON reads as infinity is not a value either.
        r = await gw.post(
            "/v1/conversions",
            headers={**auth, "content-type": "application/json"},
            content=b'{"name": "sale", "value": 1e400, "link_code": "abc"}',
        )
        refused(r, "value")

        # Nothing was kept from any of them.
        r = await gw.get("/v1/inbox/keywords", headers=auth)
        assert r.json()["keywords"] == []
        r = await gw.get("/v1/inbox/rules", headers=auth)
        assert [x["id"] for x in r.json()["items"]] == [rule["id"]]
        assert r.json()["items"][0]["position"] == 0


def _writable(rule: dict) -> dict:
    return {k: v for k, v in rule.items() if k not in ("id", "created_by", "created_at")}
