import uuid
from datetime import UTC, datetime, timedelta

from services.metrics.consumers import subscriptions
from services.metrics.models import BUS
from services.metrics.tracking import hashtags, track_published_post
from shared.db import unit_of_work
from shared.events import ConversationResolved, Envelope, PostPublished
from shared.service import Runtime
from tests.conftest import identity
from tests.metrics.support import connect_channel, feed, quiet_app, sample

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_hashtags_are_read_from_the_text_once_each_lower_cased():
    text = "Launch day! #Winter #sale, #winter again, not a#tag, &#39; #1 #été_2026"
    assert hashtags(text) == ["winter", "sale", "été_2026"]
    assert hashtags(None) == []


async def _post(runtime, *, workspace, channel, text, media_kind, at):
    published = PostPublished(
        post_id=uuid.uuid4(), target_id=uuid.uuid4(), channel_id=channel, network="x",
        external_id=uuid.uuid4().hex[:12], published_at=at, text=text, media_kind=media_kind,
    )
    async with unit_of_work(runtime.sessions) as session:
        await track_published_post(session, workspace_id=workspace, published=published, now=at)
    return published


async def test_engagement_per_content_type_and_hashtag_with_csv(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=T0)
        video = await _post(runtime, workspace=workspace, channel=channel,
                            text="New #Launch clip #video", media_kind="video", at=T0)
        image = await _post(runtime, workspace=workspace, channel=channel,
                            text="A #launch photo", media_kind="image", at=T0)
        plain = await _post(runtime, workspace=workspace, channel=channel,
                            text="Words only", media_kind="text", at=T0)
        older = await _post(runtime, workspace=workspace, channel=channel,
                            text="#launch before anyone said what it carried", media_kind=None,
                            at=T0)
        at = T0 + timedelta(hours=2)
        numbers = [(video, (1000, 90, 10)), (image, (500, 20, 5)), (plain, (400, 8, 0)),
                   (older, (100, 1, 1))]
        await feed(runtime, workspace=workspace, channel_id=channel, network="x", now=at,
                   samples=[s for post, (views, likes, replies) in numbers for s in (
                       sample(post, "impression_count", views, at),
                       sample(post, "like_count", likes, at),
                       sample(post, "reply_count", replies, at),
                   )])
        # Another workspace's posts never show.
        other = uuid.uuid4()
        other_channel = await connect_channel(runtime, workspace=other, now=T0)
        stranger = await _post(runtime, workspace=other, channel=other_channel,
                               text="#launch", media_kind="video", at=T0)
        await feed(runtime, workspace=other, channel_id=other_channel, network="x", now=at,
                   samples=[sample(stranger, "like_count", 999, at)])

        h = identity(workspace)
        rng = {"from": T0.isoformat(), "to": (T0 + timedelta(days=1)).isoformat()}
        r = await client.get("/v1/analytics/content-types", params=rng, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["group_by"] == "content_type"
        by_key = {i["key"]: i for i in body["items"]}
        assert set(by_key) == {"video", "image", "text", "unknown"}
        assert by_key["video"] == {"key": "video", "posts": 1, "engagements": 100.0,
                                   "views": 1000.0, "engagements_per_post": 100.0,
                                   "engagement_rate": 0.1}
        assert by_key["text"]["engagements"] == 8.0
        assert [i["key"] for i in body["items"]] == ["video", "image", "text", "unknown"]

        r = await client.get("/v1/analytics/hashtags", params=rng, headers=h)
        tags = {i["key"]: i for i in r.json()["items"]}
        # A post counts under each of its hashtags; posts without one are left out.
        assert set(tags) == {"launch", "video"}
        assert tags["launch"]["posts"] == 3
        assert tags["launch"]["engagements"] == 100 + 25 + 2
        assert tags["launch"]["engagement_rate"] == 127 / 1600
        assert tags["video"]["posts"] == 1

        as_csv = await client.get("/v1/analytics/hashtags", params=rng,
                                  headers={**h, "accept": "text/csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        lines = as_csv.text.strip().splitlines()
        assert lines[0] == "hashtag,posts,engagements,views,engagements_per_post,engagement_rate"
        assert lines[1].startswith("video,1,100.0,1000.0,100.0,0.1")

        # A range before the numbers arrived has nothing to compare.
        early = {"from": (T0 - timedelta(days=2)).isoformat(), "to": T0.isoformat()}
        r = await client.get("/v1/analytics/content-types", params=early, headers=h)
        assert r.json()["items"] == []
        bad = await client.get("/v1/analytics/hashtags", headers=h,
                               params={"from": rng["to"], "to": rng["from"]})
        assert bad.status_code == 422 and bad.json()["field"] == "from"
        foreign = await client.get("/v1/analytics/content-types", headers=h,
                                   params={**rng, "channel_id": str(other_channel)})
        assert foreign.status_code == 404


async def test_resolution_times_from_conversation_resolved(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        # The service's own handler, driven without the broker (its wiring is what is tested).
        consumer_runtime = Runtime.create(_app.state.runtime.settings, tables=BUS)
        handlers = {t: h for sub in subscriptions(consumer_runtime, _app.state.runtime.settings)
                    for t, h in sub.handlers.items()}
        await consumer_runtime.engine.dispose()
        workspace = uuid.uuid4()
        now = datetime.now(UTC)
        first = uuid.uuid4()
        events = [
            ConversationResolved(conversation_id=first, resolution_seconds=600,
                                 resolved_at=now - timedelta(hours=3)),
            # Reopened and resolved again: both resolutions count.
            ConversationResolved(conversation_id=first, resolution_seconds=3000,
                                 resolved_at=now - timedelta(hours=1)),
            ConversationResolved(conversation_id=uuid.uuid4(), resolution_seconds=1200,
                                 resolved_at=now - timedelta(hours=2)),
            # Older than the range asked for.
            ConversationResolved(conversation_id=uuid.uuid4(), resolution_seconds=9,
                                 resolved_at=now - timedelta(days=40)),
        ]
        for event in events:
            envelope = Envelope.of(event, workspace_id=workspace)
            for _ in range(2):  # a redelivered event changes nothing
                async with unit_of_work(runtime.sessions) as session:
                    await handlers["conversation.resolved"](session, envelope)
        r = await client.get("/v1/analytics/inbox", headers=identity(workspace))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["resolutions"] == 3
        assert body["resolution_p50_seconds"] == 1200
        assert body["resolution_p90_seconds"] == 1200 + 0.8 * (3000 - 1200)
        empty = await client.get("/v1/analytics/inbox", headers=identity(uuid.uuid4()))
        assert empty.json()["resolutions"] == 0
        assert empty.json()["resolution_p50_seconds"] is None
