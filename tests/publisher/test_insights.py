import uuid

import httpx

from services.publisher.app import create_app
from shared.events import CollectItem, Envelope, MetricsCollect
from tests.publisher.support import Tap, post_due, send, wait_consuming
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan


async def test_metrics_collect_fetches_what_the_network_counts(publisher_settings, sandbox_url):
    settings = publisher_settings()
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with (
        Tap(settings.exchange_name, ["post.published", "metrics.fetched"]) as tap,
        lifespan(app),
    ):
        await wait_consuming(app, settings.queue_name("posts"))
        await wait_consuming(app, settings.queue_name("metrics"))
        channel = await connect(app, sandbox_url, workspace)
        due = post_due(channel=channel, text="Count me")
        await send(settings.exchange_name, Envelope.of(due, workspace_id=workspace))
        tweet_id = (await tap.wait("post.published"))[0].data["external_id"]
        async with httpx.AsyncClient(base_url=sandbox_url) as sandbox:
            await sandbox.post("/_sandbox/engagement/tick", json={"hours": 6})
            token = channel["account"]["credentials"]["access_token"]
            truth = (await sandbox.get(
                f"/x/2/tweets/{tweet_id}", params={"tweet.fields": "public_metrics"},
                headers={"Authorization": f"Bearer {token}"},
            )).json()["data"]["public_metrics"]
        collect = MetricsCollect(
            channel_id=uuid.UUID(channel["id"]), network="x",
            posts=[CollectItem(post_id=due.post_id, external_id=tweet_id)],
        )
        await send(settings.exchange_name, Envelope.of(collect, workspace_id=workspace))
        fetched = (await tap.wait("metrics.fetched"))[0].data
        values = {s["metric"]: s["value"] for s in fetched["samples"]}
        assert values["likes"] == truth["like_count"]
        assert values["views"] == truth["impression_count"]
        assert {s["post_id"] for s in fetched["samples"]} == {str(due.post_id)}
        assert {s["network_metric"] for s in fetched["samples"]} >= {"like_count"}
