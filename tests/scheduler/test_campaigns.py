"""Campaigns as things: their API, posts in them, UTM on links, the string campaigns migrated."""

import asyncio
import uuid
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from sqlalchemy import text

from services.scheduler.settings import SchedulerSettings
from shared.events import Envelope
from shared.migrations import upgrade
from tests.conftest import PG_HOST, RUN_ID, identity, sqlalchemy_url
from tests.scheduler.support import listening, running_scheduler

WINTER = {
    "name": "Winter sale",
    "starts_at": "2030-12-01T00:00:00Z",
    "ends_at": "2031-01-01T00:00:00Z",
    "goal": {"metric": "conversions", "target": 500},
    "utm": {"source": "herald", "medium": "social", "campaign": "winter-sale"},
    "tags": ["q4", "sale"],
}


async def _outbox(s) -> list[Envelope]:
    async with s.runtime.sessions() as session:
        rows = await session.execute(text("SELECT body FROM scheduler.outbox ORDER BY id"))
        return [Envelope.model_validate_json(row.body) for row in rows]


async def test_campaigns_are_created_listed_read_and_changed(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    h = identity(workspace)
    async with running_scheduler(settings) as s:
        r = await s.client.post("/v1/campaigns", json=WINTER, headers=h)
        assert r.status_code == 201, r.text
        winter = r.json()
        assert winter["goal"] == {"metric": "conversions", "target": 500}
        assert winter["utm"] == WINTER["utm"] and winter["version"] == 1
        assert r.headers["location"] == f"/v1/campaigns/{winter['id']}"

        for body, status, field in [
            (WINTER, 409, "name"),
            ({**WINTER, "name": "b", "ends_at": "2030-11-01T00:00:00Z"}, 422, "ends_at"),
            ({**WINTER, "name": "c", "goal": {"metric": "likes", "target": 1}}, 422, "goal.metric"),
            ({**WINTER, "name": "d", "utm": {"source": "x" * 201}}, 422, "utm.source"),
            ({"name": ""}, 422, "name"),
        ]:
            r = await s.client.post("/v1/campaigns", json=body, headers=h)
            assert r.status_code == status, (body, r.text)
            assert r.json()["field"] == field
        assert (await s.client.post("/v1/campaigns", json={"name": "e"}, headers=identity(
            workspace, "analyst"))).status_code == 403  # fmt: skip

        spring = (await s.client.post("/v1/campaigns", json={"name": "Spring"}, headers=h)).json()
        r = await s.client.get("/v1/campaigns", params={"limit": 1}, headers=h)
        page = r.json()
        assert [c["id"] for c in page["items"]] == [spring["id"]] and page["next_cursor"]
        r = await s.client.get("/v1/campaigns", params={"cursor": page["next_cursor"]}, headers=h)
        assert [c["id"] for c in r.json()["items"]] == [winter["id"]]
        r = await s.client.get("/v1/campaigns", params={"tag": "sale"}, headers=h)
        assert [c["id"] for c in r.json()["items"]] == [winter["id"]]
        r = await s.client.get(f"/v1/campaigns/{winter['id']}", headers=identity(uuid.uuid4()))
        assert r.status_code == 404

        # A post in it by name; renaming the campaign renames it on its posts.
        channel = await s.add_channel(workspace_id=workspace, network="x")
        r = await s.client.post(
            "/v1/posts",
            json={"text": "sale!", "targets": [{"channel_id": str(channel)}],
                  "campaign": "Winter sale"},
            headers=h,
        )  # fmt: skip
        post = r.json()
        assert post["campaign_id"] == winter["id"]
        r = await s.client.patch(
            f"/v1/campaigns/{winter['id']}",
            json={"name": "Winter deals", "goal": None, "tags": ["q4"]},
            headers={**h, "If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Winter deals" and r.json()["goal"] is None
        assert r.json()["utm"] == WINTER["utm"] and r.json()["version"] == 2
        got = (await s.client.get(f"/v1/posts/{post['id']}", headers=h)).json()
        assert got["campaign"] == "Winter deals"
        r = await s.client.patch(
            f"/v1/campaigns/{winter['id']}", json={"name": "Spring"}, headers=h
        )
        assert r.status_code == 409
        r = await s.client.patch(
            f"/v1/campaigns/{winter['id']}",
            json={"tags": []},
            headers={**h, "If-Match": '"1"'},
        )
        assert r.status_code == 412 and r.json()["field"] == "If-Match"

        events = [(e.type, e.data.get("name")) for e in await _outbox(s)
                  if e.type.startswith("campaign.")]  # fmt: skip
        assert events == [
            ("campaign.created", "Winter sale"),
            ("campaign.created", "Spring"),
            ("campaign.updated", "Winter deals"),
        ]


async def test_posts_join_campaigns_by_name_or_id_and_say_so(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    h = identity(workspace)
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, network="x")
        winter = (await s.client.post("/v1/campaigns", json=WINTER, headers=h)).json()

        async def new_post(**fields):
            r = await s.client.post(
                "/v1/posts",
                json={"text": "hi", "targets": [{"channel_id": str(channel)}], **fields},
                headers=h,
            )
            return r

        by_id = (await new_post(campaign_id=winter["id"])).json()
        assert by_id["campaign"] == "Winter sale" and by_id["campaign_id"] == winter["id"]
        # A name no campaign has makes one (clients that send a string keep working).
        fresh = (await new_post(campaign="Flash")).json()
        r = await s.client.get(f"/v1/campaigns/{fresh['campaign_id']}", headers=h)
        assert r.status_code == 200 and r.json()["name"] == "Flash"
        r = await new_post(campaign_id=str(uuid.uuid4()))
        assert r.status_code == 422 and r.json()["field"] == "campaign_id"
        r = await new_post(campaign="Flash", campaign_id=winter["id"])
        assert r.status_code == 422 and r.json()["field"] == "campaign"

        # Moving a post between campaigns, and out of any.
        r = await s.client.patch(
            f"/v1/posts/{fresh['id']}",
            json={"campaign_id": winter["id"]},
            headers={**h, "If-Match": '"1"'},
        )
        assert r.status_code == 200 and r.json()["campaign"] == "Winter sale", r.text
        r = await s.client.patch(
            f"/v1/posts/{fresh['id']}", json={"campaign": None}, headers={**h, "If-Match": '"2"'}
        )
        assert r.status_code == 200 and r.json()["campaign_id"] is None, r.text
        # A change of text only says nothing about campaigns.
        r = await s.client.patch(
            f"/v1/posts/{by_id['id']}", json={"text": "hello"}, headers={**h, "If-Match": '"1"'}
        )
        assert r.status_code == 200

        sets = [
            (e.data["post_id"], e.data["campaign_id"])
            for e in await _outbox(s)
            if e.type == "post.campaign_set"
        ]
        assert sets == [
            (by_id["id"], winter["id"]),
            (fresh["id"], fresh["campaign_id"]),
            (fresh["id"], winter["id"]),
            (fresh["id"], None),
        ]
        r = await s.client.get("/v1/posts", params={"campaign": "Winter sale"}, headers=h)
        assert {p["id"] for p in r.json()["items"]} == {by_id["id"]}


async def test_the_campaigns_utm_parameters_go_on_the_links_as_the_post_goes_out(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    h = identity(workspace)
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace, network="mastodon")
        winter = (await s.client.post("/v1/campaigns", json=WINTER, headers=h)).json()
        copy = (
            "Deals at https://shop.example.com/sale?ref=1, and our story "
            "(https://blog.example.com/p?utm_source=mine)."
        )
        r = await s.client.post(
            "/v1/posts",
            json={"text": copy, "targets": [{"channel_id": str(channel)}],
                  "schedule": {"now": True}, "campaign_id": winter["id"]},
            headers=h,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        # What was saved is what the author wrote.
        assert r.json()["text"] == copy
        await heard.wait_for(lambda got: bool(got.of("post.due")))
        sent = heard.of("post.due")[0].data["text"]
        assert sent.startswith("Deals at https://shop.example.com/sale?ref=1&utm_")
        assert sent.endswith(")."), sent
        shop, blog = [word.strip(",().") for word in sent.split() if "://" in word]
        assert parse_qs(urlsplit(shop).query) == {
            "ref": ["1"],
            "utm_source": ["herald"],
            "utm_medium": ["social"],
            "utm_campaign": ["winter-sale"],
        }
        # What the author wrote wins over the campaign's default.
        assert parse_qs(urlsplit(blog).query) == {
            "utm_source": ["mine"],
            "utm_medium": ["social"],
            "utm_campaign": ["winter-sale"],
        }


@pytest.fixture
async def old_database():
    name = f"herald_t{RUN_ID}_campaigns_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_HOST + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_string_campaigns_become_campaigns(old_database):
    url = sqlalchemy_url(old_database)
    # The schema as it was before campaigns were things.
    await asyncio.to_thread(upgrade, "scheduler", url, "189f4f723dbd")
    conn = await asyncpg.connect(f"{PG_HOST}/{old_database}")
    try:
        ws, other = uuid.uuid4(), uuid.uuid4()
        for workspace, campaign in [(ws, "winter"), (ws, "winter"), (ws, "summer"), (ws, None),
                                    (other, "winter")]:  # fmt: skip
            await conn.execute(
                "INSERT INTO scheduler.posts (id, workspace_id, status, version, text, media,"
                " tags, campaign, created_by) VALUES ($1, $2, 'draft', 1, '', '[]', '{}', $3, '')",
                uuid.uuid4(), workspace, campaign,
            )  # fmt: skip
        await asyncio.to_thread(upgrade, "scheduler", url)

        rows = await conn.fetch(
            "SELECT workspace_id, name, id FROM scheduler.campaigns ORDER BY workspace_id, name"
        )
        assert sorted((r["workspace_id"], r["name"]) for r in rows) == sorted(
            [(ws, "summer"), (ws, "winter"), (other, "winter")]
        )
        ids = {(r["workspace_id"], r["name"]): r["id"] for r in rows}
        posts = await conn.fetch("SELECT workspace_id, campaign, campaign_id FROM scheduler.posts")
        for post in posts:
            expected = ids.get((post["workspace_id"], post["campaign"]))
            assert post["campaign_id"] == expected
        # Metrics hears of them through the outbox, as of any new campaign.
        sent = [
            Envelope.model_validate_json(row["body"])
            for row in await conn.fetch("SELECT body FROM scheduler.outbox ORDER BY id")
        ]
        created = {(e.workspace_id, e.parsed().name) for e in sent if e.type == "campaign.created"}
        assert created == set(ids)
        joined = [e.parsed() for e in sent if e.type == "post.campaign_set"]
        assert len(joined) == 4 and {d.campaign_id for d in joined} == set(ids.values())
    finally:
        await conn.close()
