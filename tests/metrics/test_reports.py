import csv
import io
import random
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.metrics.inbox import record_message, record_reply
from services.metrics.models import (
    ChannelDailyRollup,
    ChannelHourlyRollup,
    DailyRollup,
    HourlyRollup,
    Sample,
)
from shared.db import unit_of_work
from shared.events import ConversationReplied, MessageReceived
from tests.conftest import identity
from tests.metrics.support import connect_channel, feed, publish, quiet_app, sample

T0 = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)


async def test_hourly_and_daily_rollups_equal_the_raw_sums(make_settings):
    rnd = random.Random(6)
    async with quiet_app(make_settings) as (_app, runtime, _client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=T0)
        posts = [
            await publish(runtime, workspace=workspace, channel_id=channel, published_at=T0)
            for _ in range(5)
        ]
        running = {(p.target_id, m): 0 for p in posts for m in ("like_count", "impression_count")}
        followers, first_followers = 1000, 0
        at = T0
        for _ in range(60):
            at += timedelta(minutes=rnd.randint(5, 120))
            batch = []
            for p in rnd.sample(posts, 3):
                for m in ("like_count", "impression_count"):
                    if rnd.random() < 0.1:
                        batch.append(sample(p, m, None, at))
                        continue
                    running[(p.target_id, m)] += rnd.randint(0, 50)
                    batch.append(sample(p, m, running[(p.target_id, m)], at))
            followers += rnd.randint(-3, 20)
            first_followers = first_followers or followers
            batch.append(sample(None, "followers_count", followers, at))
            await feed(
                runtime, workspace=workspace, channel_id=channel, network="x", now=at, samples=batch
            )
        async with runtime.sessions() as session:
            for model, unit in ((HourlyRollup, "hour"), (DailyRollup, "day")):
                bucket = func.date_trunc(unit, Sample.collected_at, "UTC")
                raw = {
                    (r.subject_id, r.metric, r.bucket): (r.total, r.n, r.missing)
                    for r in (
                        await session.execute(
                            select(
                                Sample.subject_id,
                                Sample.metric,
                                bucket.label("bucket"),
                                func.coalesce(func.sum(Sample.delta), 0).label("total"),
                                func.count().label("n"),
                                func.count().filter(Sample.value.is_(None)).label("missing"),
                            ).group_by(Sample.subject_id, Sample.metric, bucket)
                        )
                    ).all()
                }
                rolled = {
                    (r.subject_id, r.metric, r.bucket): (r.total, r.samples, r.missing)
                    for r in (await session.scalars(select(model))).all()
                }
                assert rolled == raw, unit
                assert len(rolled) > 10
            # The per-channel sums are the same rows added up per channel.
            for model, unit in ((ChannelHourlyRollup, "hour"), (ChannelDailyRollup, "day")):
                bucket = func.date_trunc(unit, Sample.collected_at, "UTC")
                raw = {
                    (r.channel_id, r.metric, r.bucket): (r.total, r.n, r.missing)
                    for r in (
                        await session.execute(
                            select(
                                Sample.channel_id,
                                Sample.metric,
                                bucket.label("bucket"),
                                func.coalesce(func.sum(Sample.delta), 0).label("total"),
                                func.count().label("n"),
                                func.count().filter(Sample.value.is_(None)).label("missing"),
                            ).group_by(Sample.channel_id, Sample.metric, bucket)
                        )
                    ).all()
                }
                rolled = {
                    (r.channel_id, r.metric, r.bucket): (r.total, r.samples, r.missing)
                    for r in (await session.scalars(select(model))).all()
                }
                assert rolled == raw, unit
                assert {m for _, m, _ in rolled} == {"likes", "views", "followers"}
            # And the growth adds up to the last running total of each post.
            grown = (
                await session.execute(
                    select(
                        DailyRollup.subject_id, DailyRollup.metric, func.sum(DailyRollup.total)
                    ).group_by(DailyRollup.subject_id, DailyRollup.metric)
                )
            ).all()
        for subject, metric, total in grown:
            if metric == "followers":
                # The first count is a baseline, not followers gained.
                assert subject == channel and total == followers - first_followers
                continue
            name = {"likes": "like_count", "views": "impression_count"}[metric]
            assert total == running[(subject, name)]


async def test_summary_adds_growth_by_range_channel_campaign_and_tag(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        x = await connect_channel(runtime, workspace=workspace, network="x", now=T0)
        bsky = await connect_channel(runtime, workspace=workspace, network="bluesky", now=T0)
        a = await publish(
            runtime,
            workspace=workspace,
            channel_id=x,
            published_at=T0,
            campaign="winter",
            tags=["launch"],
        )
        b = await publish(
            runtime, workspace=workspace, channel_id=bsky, network="bluesky", published_at=T0
        )
        day1, day3 = T0 + timedelta(hours=1), T0 + timedelta(days=2, hours=1)
        await feed(
            runtime,
            workspace=workspace,
            channel_id=x,
            network="x",
            now=day1,
            samples=[
                sample(a, "impression_count", 1000, day1),
                sample(a, "like_count", 40, day1),
                sample(a, "reply_count", 10, day1),
                sample(None, "followers_count", 500, day1),
            ],
        )
        await feed(
            runtime,
            workspace=workspace,
            channel_id=x,
            network="x",
            now=day3,
            samples=[
                sample(a, "impression_count", 3000, day3),
                sample(a, "like_count", 90, day3),
                sample(None, "followers_count", 530, day3),
            ],
        )
        # Bluesky reports no impressions: its likes count as engagements but not in the rate.
        await feed(
            runtime,
            workspace=workspace,
            channel_id=bsky,
            network="bluesky",
            now=day1,
            samples=[sample(b, "likeCount", 20, day1)],
        )
        h = identity(workspace)
        rng = {
            "from": (T0 - timedelta(days=1)).isoformat(),
            "to": (T0 + timedelta(days=5)).isoformat(),
        }
        r = await client.get("/v1/analytics/summary", params=rng, headers=h)
        assert r.status_code == 200, r.text
        s = r.json()
        assert s["engagements"] == 90 + 10 + 20
        assert s["views"] == 3000
        assert s["engagement_rate"] == (90 + 10) / 3000
        assert s["followers_gained"] == 30
        # Only the first two days (hour-precise edge): the day-3 growth is outside.
        first = await client.get(
            "/v1/analytics/summary",
            headers=h,
            params={
                "from": (T0 + timedelta(minutes=30)).isoformat(),
                "to": (T0 + timedelta(days=1, hours=3)).isoformat(),
            },
        )
        assert first.json()["engagements"] == 40 + 10 + 20
        assert first.json()["views"] == 1000
        by_campaign = await client.get(
            "/v1/analytics/summary", headers=h, params={**rng, "campaign": "winter"}
        )
        assert by_campaign.json()["engagements"] == 100
        assert by_campaign.json()["followers_gained"] == 0
        by_tag = await client.get(
            "/v1/analytics/summary", headers=h, params={**rng, "tag": "launch"}
        )
        assert by_tag.json()["engagements"] == 100
        by_channel = await client.get(
            "/v1/analytics/summary", headers=h, params={**rng, "channel_id": str(bsky)}
        )
        assert by_channel.json()["engagements"] == 20
        assert by_channel.json()["engagement_rate"] is None
        by_network = await client.get(
            "/v1/analytics/summary", headers=h, params={**rng, "network": "x"}
        )
        assert by_network.json()["engagements"] == 100
        as_csv = await client.get(
            "/v1/analytics/summary", params=rng, headers={**h, "accept": "text/csv"}
        )
        assert as_csv.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert rows[0]["engagements"] == "120.0" and rows[0]["followers_gained"] == "30.0"


async def test_top_posts_rank_by_any_metric(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        x = await connect_channel(runtime, workspace=workspace, now=T0)
        posts = [
            await publish(runtime, workspace=workspace, channel_id=x, published_at=T0)
            for _ in range(4)
        ]
        at = T0 + timedelta(hours=1)
        await feed(
            runtime,
            workspace=workspace,
            channel_id=x,
            network="x",
            now=at,
            samples=[
                s
                for i, p in enumerate(posts)
                for s in (
                    sample(p, "like_count", 10 * i, at),
                    sample(p, "impression_count", 1000 - 100 * i, at),
                    sample(p, "reply_count", None, at),
                )
            ],
        )
        h = identity(workspace)
        r = await client.get(
            "/v1/analytics/top-posts", params={"metric": "likes", "limit": 2}, headers=h
        )
        assert r.status_code == 200, r.text
        assert [i["post_id"] for i in r.json()["items"]] == [
            str(posts[3].post_id),
            str(posts[2].post_id),
        ]
        views = await client.get("/v1/analytics/top-posts", params={"metric": "views"}, headers=h)
        assert [i["value"] for i in views.json()["items"]] == [1000, 900, 800, 700]
        # A metric nobody reported ranks nothing rather than ranking zeros.
        none = await client.get("/v1/analytics/top-posts", params={"metric": "comments"}, headers=h)
        assert none.json()["items"] == []
        as_csv = await client.get(
            "/v1/analytics/top-posts",
            params={"metric": "likes"},
            headers={**h, "accept": "text/csv"},
        )
        lines = as_csv.text.strip().splitlines()
        assert lines[0] == "post_id,metric,value,published_at,networks,campaign"
        assert len(lines) == 5


async def test_bad_report_input_is_refused_naming_the_field(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace, other = uuid.uuid4(), uuid.uuid4()
        theirs = await connect_channel(runtime, workspace=other, now=T0)
        h = identity(workspace)
        cases = [
            (
                "/v1/analytics/summary",
                {"from": "2026-10-05T00:00:00Z", "to": "2026-10-01T00:00:00Z"},
                "from",
            ),
            (
                "/v1/analytics/summary",
                {"from": "2024-01-01T00:00:00Z", "to": "2026-10-01T00:00:00Z"},
                "to",
            ),
            ("/v1/analytics/summary", {"channel_id": str(theirs)}, "channel_id"),
            ("/v1/analytics/summary", {"network": "myspace"}, "network"),
            ("/v1/analytics/top-posts", {"metric": "vibes"}, "metric"),
            ("/v1/analytics/top-posts", {"limit": "0"}, "query.limit"),
            ("/v1/analytics/inbox", {"channel_id": str(theirs)}, "channel_id"),
            (
                "/v1/analytics/inbox",
                {"from": "2026-10-05T00:00:00Z", "to": "2026-10-05T00:00:00Z"},
                "from",
            ),
        ]
        for path, params, field in cases:
            r = await client.get(path, params=params, headers=h)
            assert r.status_code in (404, 422), (path, params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["field"] == field, (path, params, r.json())


async def test_inbox_figures_from_inbox_events(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        channel = uuid.uuid4()
        sentiments = [0.8, 0.5, -0.9, None, -0.6, 0.1]
        # The fourth is in a language no scorer covers; the last could not be told.
        languages = ["he", "he", "is", "it", "he", None]
        async with unit_of_work(runtime.sessions) as session:
            for i, (score, language) in enumerate(zip(sentiments, languages, strict=True)):
                await record_message(
                    session,
                    workspace_id=workspace,
                    message=MessageReceived(
                        message_id=uuid.uuid4(),
                        conversation_id=uuid.uuid4(),
                        channel_id=channel,
                        network="x",
                        kind="comment" if i % 2 else "dm",
                        sentiment=score,
                        language=language,
                        received_at=T0 + timedelta(days=i // 3, hours=i),
                    ),
                )
            conversation = uuid.uuid4()
            for seconds in (60, 120, 180, 240, 600, 3600):
                conversation = uuid.uuid4()
                await record_reply(
                    session,
                    workspace_id=workspace,
                    reply=ConversationReplied(
                        conversation_id=conversation,
                        first_response_seconds=seconds,
                        replied_at=T0 + timedelta(hours=2),
                    ),
                )
            # A later reply in the same conversation does not change its first-response time.
            await record_reply(
                session,
                workspace_id=workspace,
                reply=ConversationReplied(
                    conversation_id=conversation,
                    first_response_seconds=None,
                    replied_at=T0 + timedelta(hours=5),
                ),
            )
        params = {
            "from": (T0 - timedelta(days=1)).isoformat(),
            "to": (T0 + timedelta(days=3)).isoformat(),
        }
        r = await client.get("/v1/analytics/inbox", params=params, headers=identity(workspace))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["volume"] == 6
        assert [d["messages"] for d in body["days"]] == [3, 3]
        assert body["days"][0]["positive"] == 2 and body["days"][0]["negative"] == 1
        assert body["days"][1]["sentiment"] == round((-0.6 + 0.1) / 2, 4)
        by_language = {x["language"]: x for x in body["languages"]}
        assert [x["language"] for x in body["languages"]] == ["he", "is", "it", None]
        assert by_language["he"]["messages"] == 3 and by_language["he"]["negative"] == 1
        assert by_language["it"]["unscored"] == 1 and by_language["it"]["sentiment"] is None
        hebrew = await client.get("/v1/analytics/inbox", params={**params, "language": "he"},
                                  headers=identity(workspace))
        assert hebrew.json()["volume"] == 3
        unknown = await client.get("/v1/analytics/inbox",
                                   params={**params, "language": "unknown"},
                                   headers=identity(workspace))
        assert unknown.json()["volume"] == 1
        bad = await client.get("/v1/analytics/inbox", params={**params, "language": "he'--"},
                               headers=identity(workspace))
        assert bad.status_code == 422 and bad.json()["field"] == "query.language"
        assert body["responses"] == 6
        assert body["first_response_p50_seconds"] == 210
        assert body["first_response_p90_seconds"] == 2100
        as_csv = await client.get(
            "/v1/analytics/inbox",
            params=params,
            headers={**identity(workspace), "accept": "text/csv"},
        )
        assert as_csv.text.splitlines()[0].startswith("day,messages,comments")
        assert len(as_csv.text.strip().splitlines()) == 3
