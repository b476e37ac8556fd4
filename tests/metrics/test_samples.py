import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from services.metrics.app import create_app
from services.metrics.models import Channel, LatestValue, Sample
from services.metrics.settings import MetricsSettings
from services.metrics.vocabulary import VOCABULARY, common_name
from shared.bus import Bus, OutgoingMessage
from shared.events import Envelope, MetricsFetched, PostPublished
from shared.events import Sample as FetchedSample
from tests.conftest import AMQP_URL, identity
from tests.metrics.support import connect_channel, feed, publish, quiet_app, sample
from tests.support.servers import lifespan
from tests.support.waits import until

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# Each network's own names (NETWORKS.md, Metrics) and the common name they must land on.
NETWORK_CASES = [
    ("facebook", "post_media_view", "views"),
    ("facebook", "post_impressions_unique", "reach"),
    ("facebook", "post_reactions_by_type_total", "likes"),
    ("facebook", "post_clicks", "clicks"),
    ("facebook", "post_video_views", "video_views"),
    ("instagram", "views", "views"),
    ("instagram", "reach", "reach"),
    ("instagram", "saved", "saves"),
    ("instagram", "shares", "shares"),
    ("instagram", "total_interactions", "engagements"),
    ("threads", "replies", "comments"),
    ("threads", "reposts", "shares"),
    ("threads", "quotes", "quotes"),
    ("threads", "shares", "sends"),
    ("x", "impression_count", "views"),
    ("x", "like_count", "likes"),
    ("x", "reply_count", "comments"),
    ("x", "retweet_count", "shares"),
    ("x", "quote_count", "quotes"),
    ("x", "bookmark_count", "saves"),
    ("x", "followers_count", "followers"),
    ("linkedin", "impressionCount", "views"),
    ("linkedin", "uniqueImpressionsCount", "reach"),
    ("linkedin", "clickCount", "clicks"),
    ("linkedin", "likeCount", "likes"),
    ("linkedin", "commentCount", "comments"),
    ("linkedin", "shareCount", "shares"),
    ("tiktok", "view_count", "views"),
    ("tiktok", "like_count", "likes"),
    ("tiktok", "comment_count", "comments"),
    ("tiktok", "share_count", "shares"),
    ("youtube", "viewCount", "views"),
    ("youtube", "likeCount", "likes"),
    ("youtube", "commentCount", "comments"),
    ("youtube", "subscriberCount", "followers"),
    ("mastodon", "favourites_count", "likes"),
    ("mastodon", "reblogs_count", "shares"),
    ("mastodon", "replies_count", "comments"),
    ("bluesky", "likeCount", "likes"),
    ("bluesky", "repostCount", "shares"),
    ("bluesky", "replyCount", "comments"),
    ("bluesky", "quoteCount", "quotes"),
    ("facebook", "post_engagements", "engagements"),
    ("facebook", "page_follows", "followers"),
    ("instagram", "likes", "likes"),
    ("instagram", "comments", "comments"),
    ("instagram", "follower_count", "followers"),
    ("threads", "views", "views"),
    ("threads", "likes", "likes"),
    ("threads", "followers_count", "followers"),
    ("linkedin", "followerCount", "followers"),
    ("tiktok", "follower_count", "followers"),
    ("mastodon", "followers_count", "followers"),
    ("bluesky", "followersCount", "followers"),
    # The sandbox's plain names.
    ("x", "bookmarks", "saves"),
    ("threads", "views", "views"),
]


@pytest.mark.parametrize(("network", "name", "common"), NETWORK_CASES)
def test_each_network_metric_maps_to_the_common_vocabulary(network, name, common):
    assert common in VOCABULARY
    assert common_name(network=network, network_metric=name) == common


def test_a_rate_or_unknown_name_is_never_added_to_a_count():
    assert common_name(network="linkedin", network_metric="engagement") not in VOCABULARY
    assert common_name(network="x", network_metric="Mystery_Metric") == "mystery_metric"


async def test_samples_keep_the_network_name_and_missing_stays_missing(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, network="instagram", now=T0)
        post = await publish(
            runtime, workspace=workspace, channel_id=channel, network="instagram", published_at=T0
        )
        t1, t2, t3 = (T0 + timedelta(minutes=m) for m in (5, 60, 180))
        result = await feed(
            runtime,
            workspace=workspace,
            channel_id=channel,
            network="instagram",
            now=t1,
            samples=[
                sample(post, "likes", 10, t1),
                sample(post, "saved", 2, t1),
                # Instagram lags: no views figure yet.
                sample(post, "views", None, t1),
            ],
        )
        assert result.stored == 3
        await feed(
            runtime,
            workspace=workspace,
            channel_id=channel,
            network="instagram",
            now=t3,
            samples=[
                sample(post, "likes", 25, t3),
                sample(post, "views", 400, t3),
                sample(post, "saved", None, t3),
            ],
        )
        # A late sample from before the newest one is kept but adds no growth.
        await feed(
            runtime,
            workspace=workspace,
            channel_id=channel,
            network="instagram",
            now=t3,
            samples=[sample(post, "likes", 18, t2)],
        )
        # Samples for a post nobody tracks are dropped, not guessed.
        stray = await feed(
            runtime,
            workspace=workspace,
            channel_id=channel,
            network="instagram",
            now=t3,
            samples=[
                FetchedSample(
                    external_id="nope",
                    metric="likes",
                    network_metric="likes",
                    value=1,
                    collected_at=t3,
                )
            ],
        )
        assert (stray.stored, stray.unmatched) == (0, 1)

        async with runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        Sample.metric,
                        Sample.network_metric,
                        Sample.value,
                        Sample.delta,
                        Sample.collected_at,
                    ).order_by(Sample.metric, Sample.collected_at)
                )
            ).all()
            latest = {
                lv.metric: lv.value for lv in (await session.scalars(select(LatestValue))).all()
            }
        by_metric = {}
        for r in rows:
            by_metric.setdefault(r.metric, []).append((r.network_metric, r.value, r.delta))
        assert by_metric["views"] == [("views", None, None), ("views", 400, 400)]
        assert by_metric["saves"] == [("saved", 2, 2), ("saved", None, None)]
        assert by_metric["likes"] == [("likes", 10, 10), ("likes", 18, None), ("likes", 25, 15)]
        # The newest known figure; a later "no data" does not erase it.
        assert latest == {"likes": 25, "saves": 2, "views": 400}

        r = await client.get(f"/v1/analytics/posts/{post.post_id}", headers=identity(workspace))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["totals"] == {"likes": 25, "saves": 2, "views": 400}
        series = {s["metric"]: s for s in body["targets"][0]["series"]}
        assert series["saves"]["network_metric"] == "saved"
        assert [p["value"] for p in series["views"]["points"]] == [None, 400]


async def test_account_numbers_have_a_baseline_and_move_the_daily_fetch(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, _client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, network="x", now=T0)
        account = [sample(None, "followers_count", 1000, T0)]
        await feed(
            runtime, workspace=workspace, channel_id=channel, network="x", now=T0, samples=account
        )
        later = T0 + timedelta(days=1)
        await feed(
            runtime,
            workspace=workspace,
            channel_id=channel,
            network="x",
            now=later,
            samples=[sample(None, "followers_count", 1040, later)],
        )
        async with runtime.sessions() as session:
            deltas = (
                await session.scalars(
                    select(Sample.delta)
                    .where(Sample.subject_id == channel)
                    .order_by(Sample.collected_at)
                )
            ).all()
            row = await session.get(Channel, channel)
        # The first count is where the channel stood, not followers gained.
        assert deltas == [None, 40]
        assert row.account_due_at == later + timedelta(hours=24)


async def test_collect_and_fetch_round_trip_over_the_bus(make_settings, bus_prefix):
    settings = make_settings(MetricsSettings, collect_poll_seconds=0.2)
    app = create_app(settings)
    workspace = uuid.uuid4()
    channel = uuid.uuid4()
    published = PostPublished(
        post_id=uuid.uuid4(),
        target_id=uuid.uuid4(),
        channel_id=channel,
        network="bluesky",
        external_id="at://did:plc:abc/app.bsky.feed.post/1",
        published_at=datetime.now(UTC) - timedelta(minutes=6),
    )
    # The publisher's part, played by the test: answer each metrics.collect with numbers.
    answerer = Bus(url=AMQP_URL, exchange=settings.exchange_name)
    asked: list[dict] = []

    async def answer(message) -> None:
        envelope = Envelope.model_validate_json(message.body)
        data = envelope.data
        asked.append(data)
        now = datetime.now(UTC)
        samples = [
            FetchedSample(
                post_id=p["post_id"],
                external_id=p["external_id"],
                metric="likes",
                network_metric="likeCount",
                value=7,
                collected_at=now,
            )
            for p in data["posts"]
        ] + [
            FetchedSample(
                post_id=p["post_id"],
                external_id=p["external_id"],
                metric="views",
                network_metric="views",
                value=None,
                collected_at=now,
            )
            for p in data["posts"]
        ]
        reply = Envelope.of(
            MetricsFetched(channel_id=data["channel_id"], network=data["network"], samples=samples),
            workspace_id=envelope.workspace_id,
            causation_id=envelope.id,
        )
        await answerer.publish(
            [
                OutgoingMessage(
                    routing_key=reply.type,
                    body=reply.model_dump_json().encode(),
                    message_id=str(reply.id),
                )
            ]
        )
        await message.ack()

    answerer.consume(
        queue=f"{bus_prefix}publisher-standin.collect",
        routing_keys=["metrics.collect"],
        handler=answer,
    )
    async with lifespan(app):
        runtime = app.state.runtime
        await until(
            lambda: runtime.bus.consuming.get(settings.queue_name("posts"))
            and answerer.consuming.get(f"{bus_prefix}publisher-standin.collect"),
            timeout=20,
            what="both consumers",
        )
        envelope = Envelope.of(published, workspace_id=workspace)
        await answerer.publish(
            [
                OutgoingMessage(
                    routing_key=envelope.type,
                    body=envelope.model_dump_json().encode(),
                    message_id=str(envelope.id),
                )
            ]
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            async def counted() -> dict | None:
                r = await client.get(
                    f"/v1/analytics/posts/{published.post_id}", headers=identity(workspace)
                )
                ok = r.status_code == 200 and r.json()["totals"].get("likes") == 7
                return r.json() if ok else None

            body = await until(counted, timeout=10, what="the 7 likes counted")
            assert body["totals"] == {"likes": 7, "views": None}
    await answerer.close()
    post_asks = [a for a in asked if not a["account"]]
    assert post_asks and post_asks[0]["posts"][0]["external_id"] == published.external_id
    assert json.dumps(post_asks[0])  # a plain JSON command the publisher can read


async def test_post_series_as_csv_and_png_and_unknown_metric_refused(make_settings):
    from tests.metrics.images import pixels_near, read_png

    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=T0)
        post = await publish(runtime, workspace=workspace, channel_id=channel, published_at=T0)
        for minutes, views in ((5, 100), (60, 400), (180, 900)):
            at = T0 + timedelta(minutes=minutes)
            await feed(
                runtime,
                workspace=workspace,
                channel_id=channel,
                network="x",
                now=at,
                samples=[
                    sample(post, "impression_count", views, at),
                    sample(post, "like_count", None, at),
                ],
            )
        h = identity(workspace)
        url = f"/v1/analytics/posts/{post.post_id}"
        as_csv = await client.get(url, headers={**h, "accept": "text/csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        lines = as_csv.text.strip().splitlines()
        assert lines[0] == "target_id,network,metric,network_metric,collected_at,value"
        assert len(lines) == 1 + 6
        # Missing stays an empty cell, never a 0.
        assert [line.rsplit(",", 1)[1] for line in lines if ",likes," in line] == ["", "", ""]
        png = await client.get(
            url, params={"metric": "views"}, headers={**h, "accept": "image/png"}
        )
        assert png.headers["content-type"] == "image/png"
        image = read_png(png.content)
        assert image.size == (800, 400)
        x_black = (0x14, 0x17, 0x1A)  # the X line
        assert pixels_near(image, x_black, 10) > 300  # the line was drawn, not only the text
        bad = await client.get(url, params={"metric": "vibes"}, headers=h)
        assert bad.status_code == 422 and bad.json()["field"] == "metric"
