"""GET /v1/campaigns/{id}/report: the campaign learnt from the scheduler's events, its figures
from what metrics holds, per network."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from services.metrics.app import create_app
from services.metrics.models import BUS, CampaignPost
from services.metrics.settings import MetricsSettings
from shared.bus import Bus, OutgoingMessage
from shared.events import CampaignCreated, CampaignUpdated, Envelope, PostCampaignSet
from tests.conftest import AMQP_URL, identity
from tests.metrics.support import connect_channel, feed, publish, sample
from tests.support.servers import lifespan
from tests.support.waits import until

DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


async def _send(settings: MetricsSettings, workspace: uuid.UUID, *events) -> None:
    bus = Bus(url=AMQP_URL, exchange=settings.exchange_name)
    try:
        envelopes = [Envelope.of(e, workspace_id=workspace) for e in events]
        await bus.publish(
            [
                OutgoingMessage(
                    routing_key=e.type, message_id=str(e.id), body=e.model_dump_json().encode()
                )
                for e in envelopes
            ]
        )
    finally:
        await bus.close()


async def _handled(runtime, consumer: str, count: int) -> None:
    """Waits until the consumer has recorded `count` messages (with their effects)."""

    async def recorded() -> bool:
        async with runtime.sessions() as session:
            done = await session.scalar(
                select(func.count())
                .select_from(BUS.processed_messages)
                .where(BUS.processed_messages.c.consumer == consumer)
            )
        return done == count

    await until(recorded, timeout=20, what=f"{count} messages recorded by {consumer}")


async def test_campaign_report_per_network_with_conversion_rate(make_settings):
    settings = make_settings(MetricsSettings)
    app = create_app(settings)
    workspace = uuid.uuid4()
    campaign_id = uuid.uuid4()
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    t0 = datetime.now(UTC) - timedelta(days=1)
    first = {"campaign_id": campaign_id, "utm": {"campaign": "winter-sale"},
             "goal": {"metric": "conversions", "target": 4}}  # fmt: skip
    async with lifespan(app):
        runtime = app.state.runtime
        campaigns = settings.queue_name("campaigns")
        await until(lambda: runtime.bus.consuming.get(campaigns), timeout=20, what="the consumer")
        # Out of order on purpose: the old name and the old membership arrive last.
        await _send(
            settings,
            workspace,
            CampaignUpdated(name="Winter deals", campaign_version=2, **first),
            PostCampaignSet(post_id=a, campaign_id=campaign_id, set_at=t0),
            PostCampaignSet(post_id=b, campaign_id=campaign_id, set_at=t0),
            PostCampaignSet(post_id=d, campaign_id=None, set_at=t0 + timedelta(hours=1)),
            CampaignCreated(name="Winter", campaign_version=1, **first),
            PostCampaignSet(post_id=d, campaign_id=campaign_id, set_at=t0),
        )
        await _handled(runtime, f"{settings.service_name}.campaigns", 6)

        x = await connect_channel(runtime, workspace=workspace, network="x", now=t0)
        li = await connect_channel(runtime, workspace=workspace, network="linkedin", now=t0)
        published = {}
        for post_id, channel, network in [(a, x, "x"), (b, x, "x"), (b, li, "linkedin"),
                                          (c, x, "x"), (d, x, "x")]:  # fmt: skip
            published[(post_id, network)] = await publish(
                runtime, workspace=workspace, channel_id=channel, network=network,
                published_at=t0, post_id=post_id,
            )  # fmt: skip
        at = t0 + timedelta(hours=2)
        await feed(
            runtime, workspace=workspace, channel_id=x, network="x", now=at,
            samples=[
                sample(published[(a, "x")], "like_count", 40, at),
                sample(published[(a, "x")], "reply_count", 10, at),
                sample(published[(b, "x")], "like_count", 5, at),
                sample(published[(c, "x")], "like_count", 1000, at),
                sample(published[(d, "x")], "like_count", 999, at),
            ],
        )  # fmt: skip
        await feed(
            runtime, workspace=workspace, channel_id=li, network="linkedin", now=at,
            samples=[
                sample(published[(b, "linkedin")], "uniqueImpressionsCount", 300, at),
                sample(published[(b, "linkedin")], "likeCount", 7, at),
            ],
        )  # fmt: skip

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            h = identity(workspace, "editor")

            async def link(**body):
                r = await client.post("/v1/links", json={"url": "https://shop.example", **body},
                                      headers=h)  # fmt: skip
                assert r.status_code == 201, r.text
                return r.json()["code"]

            link_a = await link(post_id=str(a))  # x only
            link_b = await link(post_id=str(b))  # two networks: no network of its own
            link_u = await link(utm={"campaign": "winter-sale", "source": "linkedin"})
            link_c = await link(post_id=str(c))  # not in the campaign
            for code, n in ((link_a, 10), (link_b, 2), (link_u, 3), (link_c, 5)):
                for _ in range(n):
                    await client.get(f"/l/{code}", headers={"user-agent": DESKTOP})
            await client.get(f"/l/{link_a}", headers={"user-agent": PREVIEW})
            for body in [{"link_code": link_a}] * 2 + [{"link_code": link_u},
                         {"post_id": str(b)}, {"link_code": link_c}]:  # fmt: skip
                r = await client.post("/v1/conversions", json=body, headers=h)
                assert r.status_code == 201, r.text

            r = await client.get(
                f"/v1/campaigns/{campaign_id}/report", headers=identity(workspace, "analyst")
            )
            assert r.status_code == 200, r.text
            report = r.json()
            assert report["name"] == "Winter deals"
            assert report["networks"] == [
                {"network": "linkedin", "posts": 1, "reach": 300.0, "engagements": 7.0,
                 "clicks": 3, "conversions": 1, "conversion_rate": 0.333333},
                {"network": "x", "posts": 2, "reach": 0.0, "engagements": 55.0,
                 "clicks": 10, "conversions": 2, "conversion_rate": 0.2},
            ]  # fmt: skip
            assert report["totals"] == {"posts": 2, "reach": 300.0, "engagements": 62.0,
                                        "clicks": 15, "conversions": 4,
                                        "conversion_rate": 0.266667}  # fmt: skip
            assert report["goal"] == {"metric": "conversions", "target": 4.0, "actual": 4.0,
                                      "progress": 1.0}  # fmt: skip

            r = await client.get(
                f"/v1/campaigns/{campaign_id}/report", headers={**h, "accept": "text/csv"}
            )
            rows = list(csv.DictReader(io.StringIO(r.text)))
            assert [(row["network"], row["conversion_rate"]) for row in rows] == [
                ("linkedin", "0.333333"), ("x", "0.2"), ("total", "0.266667")
            ]  # fmt: skip

            for who in (identity(uuid.uuid4()), h):
                other = uuid.uuid4() if who is h else campaign_id
                r = await client.get(f"/v1/campaigns/{other}/report", headers=who)
                assert r.status_code == 404 and r.json()["field"] == "campaign_id"
        async with runtime.sessions() as session:
            left = await session.scalar(select(CampaignPost.campaign_id).where(
                CampaignPost.post_id == d))  # fmt: skip
        assert left is None
