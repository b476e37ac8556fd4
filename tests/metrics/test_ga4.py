"""Clicks on Herald links reach the workspace's GA4 property (the sandbox's Measurement
Protocol) with the campaign's parameters, once each, through outages."""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update

from sandbox.app import create_app as create_sandbox
from services.metrics.ga4 import hit_body
from services.metrics.models import Click, Ga4Hit, Ga4Property
from shared.db import unit_of_work
from tests.conftest import identity
from tests.metrics.support import quiet_app
from tests.support.servers import free_port, serve

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"
UTM = {"source": "x", "medium": "social", "campaign": "winter", "id": "w-26", "content": "hero"}


@contextlib.asynccontextmanager
async def ga4_world(make_settings):
    sandbox = create_sandbox()
    async with serve(sandbox) as sandbox_url:
        ga4 = f"{sandbox_url}/_sandbox/ga4"
        async with (
            quiet_app(make_settings, ga4_url=ga4) as (app, runtime, client),
            httpx.AsyncClient(base_url=ga4) as network,
        ):
            prop = (await network.post("/properties", json={})).json()
            yield app, runtime, client, network, prop


async def _now(runtime):
    async with runtime.sessions() as session:
        return await session.scalar(select(func.now()))


async def _connect(client, workspace, prop):
    answer = await client.put("/v1/analytics/ga4", headers=identity(workspace), json=prop)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _link(client, workspace):
    made = await client.post(
        "/v1/links",
        headers=identity(workspace, "editor"),
        json={
            "url": "https://shop.example.com/winter?ref=herald",
            "utm": UTM,
        },
    )
    assert made.status_code == 201, made.text
    return made.json()


async def test_clicks_reach_ga4_once_with_the_campaign_parameters(make_settings):
    async with ga4_world(make_settings) as (app, runtime, client, network, prop):
        workspace = uuid.uuid4()
        shown = await _connect(client, workspace, prop)
        assert shown["measurement_id"] == prop["measurement_id"] and "api_secret" not in shown
        link = await _link(client, workspace)
        for agent in (BROWSER, BROWSER, "Mozilla/5.0 (iPhone; Mobile) Safari", "Googlebot/2.1"):
            followed = await client.get(
                f"/l/{link['code']}", headers={"user-agent": agent, "referer": "https://t.co/abc"}
            )
            assert followed.status_code == 302
        assert await app.state.loops["ga4"].run_once(now=await _now(runtime)) == 3  # not the bot
        assert await app.state.loops["ga4"].run_once(now=await _now(runtime)) == 0
        arrived = (await network.get("/events", params=prop)).json()["items"]
        views = [e for e in arrived if e["name"] == "page_view"]
        details = [e for e in arrived if e["name"] == "campaign_details"]
        assert len(views) == len(details) == 3
        async with runtime.sessions() as session:
            clicks = (await session.scalars(select(Click).order_by(Click.id))).all()
        human = [c for c in clicks if c.agent != "bot"]
        assert sorted(v["params"]["herald_click_id"] for v in views) == sorted(
            str(c.id) for c in human
        )
        expected = {
            "source": "x",
            "medium": "social",
            "campaign": "winter",
            "campaign_id": "w-26",
            "content": "hero",
        }
        for event in details:
            assert event["params"] == expected
        for view, click in zip(
            sorted(views, key=lambda v: int(v["params"]["herald_click_id"])), human, strict=True
        ):
            assert view["params"]["page_location"] == link["destination"]
            assert view["params"]["page_referrer"] == "https://t.co/abc"
            assert view["params"]["link_code"] == link["code"]
            assert {k: view["params"][k] for k in expected} == expected
            assert view["timestamp_micros"] == int(click.clicked_at.timestamp() * 1_000_000)
        # What Herald sends passes GA4's own validation.
        sent = hit_body(
            click_id=human[0].id,
            clicked_at=human[0].clicked_at,
            destination=link["destination"],
            code=link["code"],
            referrer="https://t.co/abc",
            utm=UTM,
        )
        check = await network.post("/debug/mp/collect", params=prop, json=sent)
        assert check.json() == {"validationMessages": []}
        status = (await client.get("/v1/analytics/ga4", headers=identity(workspace))).json()
        assert (status["hits_sent"], status["hits_pending"]) == (3, 0)
        async with runtime.sessions() as session:
            stored = await session.get(Ga4Property, workspace)
        assert prop["api_secret"].encode() not in stored.sealed_secret


async def test_a_ga4_outage_delays_clicks_and_loses_none(make_settings):
    async with ga4_world(make_settings) as (app, runtime, client, network, prop):
        workspace = uuid.uuid4()
        await _connect(client, workspace, prop)
        link = await _link(client, workspace)
        for _ in range(2):
            await client.get(f"/l/{link['code']}", headers={"user-agent": BROWSER})
        loop = app.state.loops["ga4"]
        reachable = loop.settings.ga4_url
        loop.settings.ga4_url = f"http://127.0.0.1:{free_port()}/_sandbox/ga4"  # nobody there
        now = await _now(runtime)
        assert await loop.run_once(now=now) == 2
        async with runtime.sessions() as session:
            hits = (await session.scalars(select(Ga4Hit))).all()
        assert {(h.status, h.attempts) for h in hits} == {("pending", 1)}
        assert all(h.due_at > now and "ConnectError" in h.last_error for h in hits)
        assert await loop.run_once(now=now) == 0  # not due again yet
        loop.settings.ga4_url = reachable
        assert await loop.run_once(now=max(h.due_at for h in hits)) == 2
        arrived = (await network.get("/events", params=prop)).json()["items"]
        assert len([e for e in arrived if e["name"] == "page_view"]) == 2


async def test_old_clicks_are_given_up_and_removing_the_property_stops_sending(make_settings):
    async with ga4_world(make_settings) as (app, runtime, client, network, prop):
        workspace = uuid.uuid4()
        await _connect(client, workspace, prop)
        link = await _link(client, workspace)
        await client.get(f"/l/{link['code']}", headers={"user-agent": BROWSER})
        async with unit_of_work(runtime.sessions) as session:
            await session.execute(
                update(Click).values(clicked_at=datetime.now(UTC) - timedelta(hours=73))
            )
        assert await app.state.loops["ga4"].run_once(now=await _now(runtime)) == 1
        async with runtime.sessions() as session:
            assert await session.scalar(select(Ga4Hit.status)) == "expired"
        await client.get(f"/l/{link['code']}", headers={"user-agent": BROWSER})
        h = identity(workspace)
        assert (await client.delete("/v1/analytics/ga4", headers=h)).status_code == 204
        assert await app.state.loops["ga4"].run_once(now=await _now(runtime)) == 0
        await client.get(f"/l/{link['code']}", headers={"user-agent": BROWSER})
        async with runtime.sessions() as session:
            statuses = sorted((await session.scalars(select(Ga4Hit.status))).all())
        assert statuses == ["dropped", "expired"]  # the click after removal queued nothing
        assert (await network.get("/events", params=prop)).json()["items"] == []
        assert (await client.get("/v1/analytics/ga4", headers=h)).status_code == 404


async def test_ga4_settings_are_refused_when_wrong(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        good = {"measurement_id": "G-ABC123XYZ", "api_secret": "s3cr3t-value"}
        cases = [
            (identity(workspace), {**good, "measurement_id": "UA-1234-1"}, 422, "measurement_id"),
            (identity(workspace), {**good, "api_secret": "x"}, 422, "api_secret"),
            (identity(workspace, "analyst"), good, 403, None),
        ]
        for headers, body, status, field in cases:
            answer = await client.put("/v1/analytics/ga4", headers=headers, json=body)
            assert answer.status_code == status, answer.text
            assert answer.json().get("field") == field
        async with runtime.sessions() as session:
            assert await session.get(Ga4Property, workspace) is None


async def test_the_sandbox_validates_and_drops_like_ga4(make_settings):
    async with (
        serve(create_sandbox()) as url,
        httpx.AsyncClient(base_url=f"{url}/_sandbox/ga4") as network,
    ):
        prop = (await network.post("/properties", json={})).json()
        now = int(time.time() * 1_000_000)
        event = {"name": "page_view", "params": {"page_location": "https://e.com/"}}
        cases = [
            ({"client_id": "1.2", "events": [event]}, []),
            ({"events": [event]}, [("client_id", "VALUE_REQUIRED")]),
            (
                {"client_id": "1.2", "events": [{"name": "session_start"}]},
                [("events[0].name", "NAME_RESERVED")],
            ),
            (
                {"client_id": "1.2", "events": [{"name": "2fast"}]},
                [("events[0].name", "NAME_INVALID")],
            ),
            ({"client_id": "1.2", "events": [event] * 26}, [("events", "EXCEEDED_MAX_ENTITIES")]),
            (
                {"client_id": "1.2", "events": [{"name": "x", "params": {"campaign": "c" * 101}}]},
                [("events[0].params.campaign", "VALUE_INVALID")],
            ),
            (
                {"client_id": "1.2", "events": [{"name": "x", "params": {"ga_x": 1}}]},
                [("events[0].params.ga_x", "NAME_RESERVED")],
            ),
            (
                {
                    "client_id": "1.2",
                    "timestamp_micros": now - 73 * 3600 * 1_000_000,
                    "events": [event],
                },
                [("timestamp_micros", "VALUE_OUT_OF_BOUNDS")],
            ),
        ]
        for body, expected in cases:
            messages = (await network.post("/debug/mp/collect", params=prop, json=body)).json()
            got = [(m["fieldPath"], m["validationCode"]) for m in messages["validationMessages"]]
            assert got == expected, body
            # The real endpoint answers 204 either way and keeps only what is valid.
            assert (await network.post("/mp/collect", params=prop, json=body)).status_code == 204
        wrong = {**prop, "api_secret": "not-it"}
        body = {"client_id": "1.2", "events": [event]}
        messages = (await network.post("/debug/mp/collect", params=wrong, json=body)).json()
        assert messages["validationMessages"][0]["fieldPath"] == "api_secret"
        assert (await network.post("/mp/collect", params=wrong, json=body)).status_code == 204
        kept = await network.get("/events", params={"measurement_id": prop["measurement_id"]})
        assert [e["name"] for e in kept.json()["items"]] == ["page_view"]


async def test_a_secret_whose_key_is_gone_fails_its_clicks_and_the_loop_goes_on(make_settings):
    async with ga4_world(make_settings) as (app, runtime, client, network, prop):
        workspace = uuid.uuid4()
        await _connect(client, workspace, prop)
        link = await _link(client, workspace)
        await client.get(f"/l/{link['code']}", headers={"user-agent": BROWSER})
        loop = app.state.loops["ga4"]
        # The key that sealed the secret was removed from the settings.
        loop.settings.encryption_keys = {"k2": base64.b64encode(b"k" * 32).decode()}
        loop.settings.active_key_id = "k2"
        assert await loop.run_once(now=await _now(runtime)) == 1
        async with runtime.sessions() as session:
            hit = await session.scalar(select(Ga4Hit))
        assert hit.status == "failed" and "cannot be opened" in hit.last_error
        # Setting the property again seals it with the current key; new clicks go out.
        await _connect(client, workspace, prop)
        await client.get(f"/l/{link['code']}", headers={"user-agent": BROWSER})
        assert await loop.run_once(now=await _now(runtime)) == 1
        arrived = (await network.get("/events", params=prop)).json()["items"]
        assert [e["name"] for e in arrived] == ["campaign_details", "page_view"]
