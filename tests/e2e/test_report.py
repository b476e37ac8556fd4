"""A report of sandbox activity the whole way, every service a separate process: posts
published on the sandbox's X, their numbers collected after a day of simulated engagement, a
comment in the inbox, a campaign link clicked and sent to the sandbox's GA4 property; then the
report asked for through the gateway, generated in the background and its PDF checked against
the analytics API."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
from pypdf import PdfReader

from tests.e2e.flows import connect_x_channel, new_workspace, wait_for

TEXTS = ("Winter sale starts today", "Behind the scenes at the warehouse", "Last call: 20% off")


async def _publish(gateway, auth, channel_id, text):
    r = await gateway.post(
        "/v1/posts",
        headers=auth,
        json={
            "text": text,
            "targets": [{"channel_id": channel_id}],
            "schedule": {"now": True},
            "campaign": "winter",
        },
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]

    async def published():
        body = (await gateway.get(f"/v1/posts/{post_id}", headers=auth)).json()
        target = body["targets"][0]
        return target if target["status"] == "published" else None

    return post_id, await wait_for(published, what=f"{text!r} to be published")


async def test_a_report_of_sandbox_activity_matches_the_api_and_clicks_reach_ga4(platform):
    config = platform.config
    async with (
        httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gateway,
        httpx.AsyncClient(base_url=config.url("sandbox"), timeout=10) as sandbox,
    ):
        key = await new_workspace(gateway, timezone="Asia/Jerusalem")
        auth = {"Authorization": f"Bearer {key}"}
        channel = await connect_x_channel(gateway, sandbox, key)
        posts = [await _publish(gateway, auth, channel["id"], t) for t in TEXTS]

        # A day of engagement on the network, then every post's numbers collected.
        assert (await sandbox.post("/_sandbox/engagement/tick", json={"hours": 24})).is_success
        for post_id, _ in posts:

            async def refreshed(post_id=post_id):
                r = await gateway.post(f"/v1/analytics/posts/{post_id}/refresh", headers=auth)
                return r.status_code == 202

            await wait_for(refreshed, what="metrics to know the post")

        async def collected():
            totals = [
                (await gateway.get(f"/v1/analytics/posts/{p}", headers=auth)).json()["totals"]
                for p, _ in posts
            ]
            return all((t.get("likes") or 0) > 0 for t in totals)

        await wait_for(collected, seconds=60, what="every post's numbers")
        r = await sandbox.post(
            f"/_sandbox/x/posts/{posts[0][1]['external_id']}/comments",
            json={"text": "Love this!", "author": "fan42"},
        )
        assert r.status_code in (200, 201), r.text

        # Clicks on a campaign link go to the workspace's GA4 property.
        ga4 = (await sandbox.post("/_sandbox/ga4/properties", json={})).json()
        assert (await gateway.put("/v1/analytics/ga4", headers=auth, json=ga4)).is_success
        link = (
            await gateway.post(
                "/v1/links",
                headers=auth,
                json={
                    "url": "https://shop.example.com/winter",
                    "post_id": posts[0][0],
                    "utm": {"source": "x", "medium": "social", "campaign": "winter"},
                },
            )
        ).json()
        click = await gateway.get(f"/l/{link['code']}", headers={"user-agent": "Mozilla/5.0"})
        assert click.status_code == 302

        async def arrived():
            r = await sandbox.get(
                "/_sandbox/ga4/events", params={"measurement_id": ga4["measurement_id"]}
            )
            return [e for e in r.json()["items"] if e["name"] == "page_view"]

        [view] = await wait_for(arrived, what="the click to reach GA4")
        assert view["params"]["campaign"] == "winter" and view["params"]["source"] == "x"
        assert view["params"]["medium"] == "social"
        assert view["params"]["page_location"] == link["destination"]

        async def inbox_counted():
            r = await gateway.get("/v1/analytics/inbox", headers=auth)
            return r.json()["volume"] == 1

        await wait_for(inbox_counted, what="the comment to be counted")

        end = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        rng = {"from": (end - timedelta(days=30)).isoformat(), "to": end.isoformat()}
        summary = (await gateway.get("/v1/analytics/summary", headers=auth, params=rng)).json()
        accepted = await gateway.post("/v1/reports", headers=auth, json=rng)
        assert accepted.status_code == 202, accepted.text

        async def ready():
            r = await gateway.get(f"/v1/reports/{accepted.json()['id']}", headers=auth)
            return r.json() if r.json()["status"] == "ready" else None

        report = await wait_for(ready, seconds=60, what="the report")
        link_url = httpx.URL(report["download_url"])
        pdf = await gateway.get(f"{link_url.path}?{link_url.query.decode()}")  # no API key
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        reader = PdfReader(io.BytesIO(pdf.content))
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert len(reader.pages) >= 3
        assert sum(len(page.images) for page in reader.pages) == 6  # one channel's best times
        assert summary["posts_published"] == 3 and summary["engagements"] > 0
        assert f"Posts published {summary['posts_published']} 0" in text
        assert f"Engagements {summary['engagements']:,.0f} 0" in text
        assert f"Views {summary['views']:,.0f} 0" in text
        assert all(t in text for t in TEXTS)
        assert "winter 1 0 0.0%" in text  # the link's click, no conversion yet
        assert "Messages: 1" in text
