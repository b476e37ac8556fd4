import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import event, func, select

from services.metrics.links import agent_class
from services.metrics.models import Click, Conversion, Link
from tests.conftest import identity
from tests.metrics.support import connect_channel, publish, quiet_app

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
IPAD = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


def test_user_agents_are_classed():
    assert agent_class(IPHONE) == "mobile"
    assert agent_class(DESKTOP) == "desktop"
    assert agent_class(IPAD) == "tablet"
    assert agent_class(PREVIEW) == "bot"
    assert agent_class("Twitterbot/1.0") == "bot"
    assert agent_class(None) == "unknown"


async def test_short_link_redirects_with_utm_and_counts_clicks(make_settings):
    async with quiet_app(make_settings, public_url="https://go.example") as (app, runtime, client):
        workspace = uuid.uuid4()
        h = identity(workspace, "editor")
        r = await client.post(
            "/v1/links",
            headers=h,
            json={
                "url": "https://shop.example/winter?ref=home&utm_source=old",
                "utm": {"source": "x", "utm_medium": "social", "campaign": "winter"},
            },
        )
        assert r.status_code == 201, r.text
        link = r.json()
        assert link["short_url"] == f"https://go.example/l/{link['code']}"
        query = parse_qs(urlsplit(link["destination"]).query)
        assert query == {
            "ref": ["home"],
            "utm_source": ["x"],
            "utm_medium": ["social"],
            "utm_campaign": ["winter"],
        }

        # No gateway identity needed: short links are public.
        for agent in (IPHONE, DESKTOP, PREVIEW):
            hit = await client.get(
                f"/l/{link['code']}", headers={"user-agent": agent, "referer": "https://t.co/abc"}
            )
            assert hit.status_code == 302
            assert hit.headers["location"] == link["destination"]
        unknown = await client.get("/l/nope123", headers={"user-agent": IPHONE})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        # The click is recorded by the very statement that finds the destination: one round
        # trip to the database per redirect, whatever the burst.
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
        try:
            hits = await asyncio.gather(
                *(
                    client.get(f"/l/{link['code']}", headers={"user-agent": DESKTOP})
                    for _ in range(20)
                )
            )
        finally:
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
        assert {hit.status_code for hit in hits} == {302}
        work = [s for s in statements if "clicks" in s or "links" in s]
        assert len(work) == 20 and all("INSERT INTO metrics.clicks" in s for s in work)

        async with runtime.sessions() as session:
            agents = (await session.scalars(select(Click.agent).order_by(Click.id))).all()
            referrers = set((await session.scalars(select(Click.referrer))).all())
            total = await session.scalar(select(func.count()).select_from(Click))
        assert agents[:3] == ["mobile", "desktop", "bot"]
        assert "https://t.co/abc" in referrers
        assert total == 23  # the unknown code recorded nothing

        listed = await client.get("/v1/links", headers=identity(workspace, "analyst"))
        assert listed.status_code == 200
        [item] = listed.json()["items"]
        assert (item["clicks"], item["bot_clicks"]) == (22, 1)
        assert item["short_url"] == link["short_url"]
        # Another workspace sees none of it.
        theirs = await client.get("/v1/links", headers=identity(uuid.uuid4()))
        assert theirs.json()["items"] == []
        as_csv = await client.get("/v1/links", headers={**h, "accept": "text/csv"})
        assert as_csv.text.splitlines()[0].startswith("code,short_url,destination")


async def test_link_list_pages_with_a_cursor(make_settings):
    async with quiet_app(make_settings) as (_app, _runtime, client):
        workspace = uuid.uuid4()
        h = identity(workspace)
        codes = []
        for i in range(5):
            r = await client.post("/v1/links", headers=h, json={"url": f"https://a.example/{i}"})
            codes.append(r.json()["code"])
        seen, cursor = [], None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/v1/links", params=params, headers=h)).json()
            seen += [i["code"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(codes) and len(seen) == 5
        bad = await client.get("/v1/links", params={"cursor": "???"}, headers=h)
        assert bad.status_code == 422 and bad.json()["field"] == "cursor"


async def test_bad_link_and_conversion_input_stores_nothing(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        h = identity(workspace, "editor")
        cases = [
            ("/v1/links", {"url": "not a url"}, 422, "url"),
            (
                "/v1/links",
                {"url": "https://a.example", "utm": {"colour": "red"}},
                422,
                "utm.colour",
            ),
            ("/v1/conversions", {"name": "signup"}, 422, "link_code"),
            ("/v1/conversions", {"link_code": "missing"}, 404, "link_code"),
            ("/v1/conversions", {"post_id": str(uuid.uuid4())}, 404, "post_id"),
        ]
        for path, body, status, field in cases:
            r = await client.post(path, json=body, headers=h)
            assert r.status_code == status, (body, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["field"] == field, (body, r.json())
        analyst = await client.post(
            "/v1/links", json={"url": "https://a.example"}, headers=identity(workspace, "analyst")
        )
        assert analyst.status_code == 403
        async with runtime.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Link)) == 0
            assert await session.scalar(select(func.count()).select_from(Conversion)) == 0


async def test_conversion_rates_per_post_campaign_and_network(make_settings):
    async with quiet_app(make_settings) as (app, runtime, client):
        workspace = uuid.uuid4()
        now = datetime.now(UTC)
        x = await connect_channel(runtime, workspace=workspace, network="x", now=now)
        li = await connect_channel(runtime, workspace=workspace, network="linkedin", now=now)
        a = await publish(
            runtime, workspace=workspace, channel_id=x, published_at=now, campaign="winter"
        )
        b = await publish(
            runtime,
            workspace=workspace,
            channel_id=li,
            network="linkedin",
            published_at=now,
            campaign="spring",
        )
        h = identity(workspace, "editor")
        link_a = (
            await client.post(
                "/v1/links",
                headers=h,
                json={"url": "https://shop.example", "post_id": str(a.post_id)},
            )
        ).json()
        link_b = (
            await client.post(
                "/v1/links",
                headers=h,
                json={
                    "url": "https://shop.example",
                    "post_id": str(b.post_id),
                    "utm": {"campaign": "spring-sale"},
                },
            )
        ).json()
        for code, n in ((link_a["code"], 10), (link_b["code"], 4)):
            for _ in range(n):
                await client.get(f"/l/{code}", headers={"user-agent": DESKTOP})
        # Preview fetchers are not readers: they do not dilute the rate.
        await client.get(f"/l/{link_a['code']}", headers={"user-agent": PREVIEW})
        for body in (
            [{"link_code": link_a["code"], "value": 20, "currency": "eur"}] * 2
            + [{"link_code": link_b["code"], "value": 5}]
            + [{"post_id": str(b.post_id)}]
        ):
            r = await client.post("/v1/conversions", json=body, headers=h)
            assert r.status_code == 201, r.text
        assert r.json()["post_id"] == str(b.post_id)
        mismatch = await client.post(
            "/v1/conversions",
            headers=h,
            json={"link_code": link_a["code"], "post_id": str(b.post_id)},
        )
        assert mismatch.status_code == 422 and mismatch.json()["field"] == "post_id"

        async def rates(group_by):
            r = await client.get(
                "/v1/analytics/conversions",
                params={"group_by": group_by},
                headers=identity(workspace, "analyst"),
            )
            assert r.status_code == 200, r.text
            return {
                i["key"]: (i["clicks"], i["conversions"], i["rate"], i["value"])
                for i in r.json()["items"]
            }

        assert await rates("post") == {
            str(a.post_id): (10, 2, 0.2, 40.0),
            str(b.post_id): (4, 2, 0.5, 5.0),
        }
        # The link's utm_campaign wins over the post's campaign; a conversion recorded
        # against the post alone takes the post's.
        assert await rates("campaign") == {
            "winter": (10, 2, 0.2, 40.0),
            "spring-sale": (4, 1, 0.25, 5.0),
            "spring": (0, 1, None, 0.0),
        }
        assert await rates("network") == {"x": (10, 2, 0.2, 40.0), "linkedin": (4, 2, 0.5, 5.0)}
        bad = await client.get(
            "/v1/analytics/conversions", params={"group_by": "colour"}, headers=h
        )
        assert bad.status_code == 422 and bad.json()["field"] == "group_by"
        as_csv = await client.get(
            "/v1/analytics/conversions",
            params={"group_by": "network"},
            headers={**h, "accept": "text/csv"},
        )
        assert as_csv.text.splitlines()[0] == "key,clicks,conversions,rate,value"
        past = await client.get(
            "/v1/analytics/conversions",
            headers=h,
            params={
                "group_by": "post",
                "from": (now - timedelta(days=9)).isoformat(),
                "to": (now - timedelta(days=8)).isoformat(),
            },
        )
        assert past.json()["items"] == []
