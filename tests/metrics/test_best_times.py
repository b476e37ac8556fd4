import random
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from sandbox.app import create_app as create_sandbox
from sandbox.engagement import pattern, weight
from sandbox.state import Account
from sandbox.state import Post as SandboxPost
from services.metrics.models import Channel
from services.metrics.tracking import record_channel, track_published_post
from shared.db import unit_of_work
from shared.events import ChannelUpdated, PostPublished, Sample
from tests.conftest import identity
from tests.metrics.images import colours, read_png, read_svg
from tests.metrics.support import (
    clear_outbox,
    connect_channel,
    feed,
    outbox_events,
    publish,
    quiet_app,
    sample,
)

TOKYO = ZoneInfo("Asia/Tokyo")
MONDAY = datetime(2026, 9, 7, tzinfo=TOKYO)


async def _plant(runtime, *, workspace, channel, rate_of, weeks=3, seed=1):
    """Publishes one post per local weekday-hour per week and reports numbers whose
    engagement rate follows `rate_of(weekday, hour)`, with noise."""
    rnd = random.Random(seed)
    posts = []
    async with unit_of_work(runtime.sessions) as session:
        for week in range(weeks):
            for day in range(7):
                for hour in range(24):
                    local = MONDAY + timedelta(weeks=week, days=day, hours=hour, minutes=17)
                    published = PostPublished(
                        post_id=uuid.uuid4(),
                        target_id=uuid.uuid4(),
                        channel_id=channel,
                        network="x",
                        external_id=uuid.uuid4().hex,
                        published_at=local,
                    )
                    await track_published_post(
                        session, workspace_id=workspace, published=published, now=local
                    )
                    posts.append((published, day, hour))
    at = MONDAY + timedelta(weeks=weeks + 1)
    samples = []
    for post, day, hour in posts:
        w = rate_of(day, hour)
        views = round(1000 * w * rnd.uniform(0.8, 1.2))
        samples += [
            sample(post, "impression_count", views, at),
            sample(post, "like_count", round(views * 0.06 * w * rnd.uniform(0.85, 1.15)), at),
            sample(post, "retweet_count", round(views * 0.012 * w), at),
        ]
    result = await feed(
        runtime, workspace=workspace, channel_id=channel, network="x", now=at, samples=samples
    )
    assert result.stored == len(samples)


async def test_best_times_recover_the_sandbox_audience_rhythm(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        channel = await connect_channel(
            runtime, workspace=workspace, timezone="Asia/Tokyo", now=MONDAY
        )
        # The sandbox's simulated audience for one account, living in the channel's zone.
        account = Account(network="x", id="acct-42", name="A", username="a", created_at=0.0)
        await _plant(
            runtime,
            workspace=workspace,
            channel=channel,
            rate_of=lambda d, h: weight(account, d, h),
        )
        r = await client.get(
            "/v1/analytics/best-times",
            params={"channel_id": str(channel)},
            headers=identity(workspace),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["timezone"] == "Asia/Tokyo" and body["basis"] == "engagement_rate"
        assert body["posts"] == 504
        assert {c["posts"] for row in body["grid"] for c in row} == {3}
        truth = pattern(account)
        best_weight = truth["best_slots"][0]["weight"]
        for slot in body["slots"]:
            # Each recommended hour is on a favourite day at (or, where noise swaps
            # near-equal neighbours, next to) the audience's peak hour.
            assert slot["weekday"] in truth["peak_weekdays"], slot
            distance = abs(slot["hour"] - truth["peak_hour"])
            assert min(distance, 24 - distance) <= 1, slot
        top = body["slots"][0]
        assert truth["grid"][top["weekday"]][top["hour"]] >= 0.8 * best_weight
        # The whole grid follows the planted rhythm.
        scores = [c["score"] for row in body["grid"] for c in row]
        weights = [truth["grid"][d][h] for d in range(7) for h in range(24)]
        assert _correlation(scores, weights) > 0.95


async def test_best_times_find_the_rhythm_in_the_sandbox_s_own_engagement(make_settings):
    """End to end with the fake network's simulation: the sandbox holds posts published at
    every hour of two weeks, grows their numbers (`/_sandbox/engagement/tick`), and the
    numbers it reports are what metrics stores; the grid must find the account's rhythm."""
    sandbox_app = create_sandbox()
    sb = sandbox_app.state.sandbox
    async with (
        quiet_app(make_settings) as (_app, runtime, client),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox_app), base_url="http://sandbox"
        ) as network,
    ):
        created = await network.post("/_sandbox/x/accounts", json={"name": "Rhythm"})
        assert created.status_code == 201, created.text
        account = sb.state.find_account("x", created.json()["external_id"])
        start = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday
        for k in range(2 * 7 * 24):
            when = start + timedelta(hours=k, minutes=10)
            sb.state.add_post(
                SandboxPost(
                    network="x",
                    id=f"rhythm-{k}",
                    account_id=account.id,
                    text=f"post {k}",
                    created_at=when.timestamp(),
                )
            )
        tick = await network.post("/_sandbox/engagement/tick", json={"hours": 48})
        assert tick.status_code == 200, tick.text
        listed = (await network.get("/_sandbox/x/posts", params={"account": account.id})).json()[
            "items"
        ]
        assert len(listed) == 2 * 7 * 24

        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, timezone="UTC", now=start)
        at = start + timedelta(weeks=3)
        samples = []
        async with unit_of_work(runtime.sessions) as session:
            for item in listed:
                published = PostPublished(
                    post_id=uuid.uuid4(),
                    target_id=uuid.uuid4(),
                    channel_id=channel,
                    network="x",
                    external_id=item["id"],
                    published_at=datetime.fromisoformat(item["created_at"]),
                )
                await track_published_post(
                    session, workspace_id=workspace, published=published, now=at
                )
                samples += [
                    Sample(
                        external_id=item["id"],
                        metric=name,
                        network_metric=name,
                        value=value,
                        collected_at=at,
                    )
                    for name, value in item["metrics"].items()
                ]
        await feed(
            runtime, workspace=workspace, channel_id=channel, network="x", now=at, samples=samples
        )

        r = await client.get(
            "/v1/analytics/best-times",
            params={"channel_id": str(channel)},
            headers=identity(workspace),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["basis"] == "engagement_rate" and body["posts"] == 2 * 7 * 24
        truth = (await network.get(f"/_sandbox/x/accounts/{account.id}/pattern")).json()
        for slot in body["slots"]:
            assert slot["weekday"] in truth["peak_weekdays"], (slot, truth)
            distance = abs(slot["hour"] - truth["peak_hour"])
            assert min(distance, 24 - distance) <= 1, (slot, truth)
        scores = [c["score"] for row in body["grid"] for c in row]
        weights = [truth["grid"][d][h] for d in range(7) for h in range(24)]
        assert _correlation(scores, weights) > 0.9


async def test_small_samples_are_shrunk_towards_the_channel_mean(make_settings):
    async with quiet_app(make_settings, best_times_prior_posts=3) as (_app, runtime, client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=MONDAY)
        base = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday
        plan = [(base + timedelta(hours=9), 0.5)]  # one lucky post, Monday 09:00
        plan += [(base + timedelta(days=1, hours=10, weeks=w), 0.3) for w in range(8)]
        plan += [(base + timedelta(days=2, hours=h), 0.1) for h in range(20)]
        at = base + timedelta(weeks=10)
        samples = []
        for when, rate in plan:
            post = await publish(
                runtime, workspace=workspace, channel_id=channel, published_at=when, now=at
            )
            samples += [
                sample(post, "impression_count", 1000, at),
                sample(post, "like_count", 1000 * rate, at),
            ]
        await feed(
            runtime, workspace=workspace, channel_id=channel, network="x", now=at, samples=samples
        )
        r = await client.get(
            "/v1/analytics/best-times",
            params={"channel_id": str(channel)},
            headers=identity(workspace),
        )
        body = r.json()
        monday9, tuesday10 = body["grid"][0][9], body["grid"][1][10]
        assert (monday9["rate"], monday9["posts"]) == (0.5, 1)
        assert (tuesday10["rate"], tuesday10["posts"]) == (0.3, 8)
        mean = body["channel_mean"]
        assert abs(mean - (0.5 + 8 * 0.3 + 20 * 0.1) / 29) < 1e-9
        assert abs(monday9["score"] - (0.5 + 3 * mean) / 4) < 1e-9
        # Eight good posts beat one lucky one.
        assert [(s["weekday"], s["hour"]) for s in body["slots"]][:2] == [(1, 10), (0, 9)]
        # An hour never tried sits at the channel mean and is never recommended.
        assert body["grid"][6][3]["posts"] == 0 and abs(body["grid"][6][3]["score"] - mean) < 1e-9


async def test_new_numbers_publish_best_times_for_the_scheduler(make_settings):
    async with quiet_app(make_settings) as (app, runtime, _client):
        workspace = uuid.uuid4()
        channel = await connect_channel(
            runtime, workspace=workspace, timezone="Asia/Tokyo", now=MONDAY
        )
        post = await publish(
            runtime,
            workspace=workspace,
            channel_id=channel,
            published_at=MONDAY + timedelta(hours=20),
        )
        at = MONDAY + timedelta(days=1)
        await feed(
            runtime,
            workspace=workspace,
            channel_id=channel,
            network="x",
            now=at,
            samples=[sample(post, "impression_count", 100, at), sample(post, "like_count", 9, at)],
        )
        await clear_outbox(runtime)
        assert await app.state.loops["best-times"].run_once(now=at) == 1
        [event] = await outbox_events(runtime, "best_times.updated")
        data = event.parsed()
        assert event.workspace_id == workspace
        assert data.channel_id == channel and data.timezone == "Asia/Tokyo"
        assert [(s.weekday, s.hour) for s in data.slots] == [(0, 20)]
        # Nothing new, nothing sent.
        assert await app.state.loops["best-times"].run_once(now=at) == 0
        # A new timezone redraws the grid.
        async with unit_of_work(runtime.sessions) as session:
            await record_channel(
                session,
                workspace_id=workspace,
                now=at,
                facts_at=at,
                facts=ChannelUpdated(
                    channel_id=channel,
                    network="x",
                    external_id="acct",
                    name="Acct",
                    timezone="Europe/London",
                    status="active",
                ),
            )
        async with runtime.sessions() as session:
            assert (await session.get(Channel, channel)).best_times_dirty
        await clear_outbox(runtime)
        assert await app.state.loops["best-times"].run_once(now=at) == 1
        [event] = await outbox_events(runtime, "best_times.updated")
        assert event.parsed().timezone == "Europe/London"
        assert [(s.weekday, s.hour) for s in event.parsed().slots] == [(0, 12)]  # BST


async def test_the_api_reads_the_kept_grid_until_new_numbers_arrive(make_settings):
    async with quiet_app(make_settings) as (app, runtime, client):
        workspace = uuid.uuid4()
        channel = await connect_channel(
            runtime, workspace=workspace, timezone="Asia/Tokyo", now=MONDAY
        )
        account = Account(network="x", id="acct-9", name="C", username="c", created_at=0.0)
        await _plant(
            runtime,
            workspace=workspace,
            channel=channel,
            weeks=1,
            rate_of=lambda d, h: weight(account, d, h),
        )
        h, params = identity(workspace), {"channel_id": str(channel)}
        fresh = (await client.get("/v1/analytics/best-times", params=params, headers=h)).json()
        kept_at = MONDAY + timedelta(weeks=5)
        assert await app.state.loops["best-times"].run_once(now=kept_at) == 1
        kept = (await client.get("/v1/analytics/best-times", params=params, headers=h)).json()
        # The kept grid is the same grid, cell for cell, stamped when the loop drew it.
        assert datetime.fromisoformat(kept.pop("computed_at")) == kept_at
        fresh.pop("computed_at")
        assert kept == fresh
        # New numbers make the kept grid stale: the answer is computed again.
        post = await publish(
            runtime,
            workspace=workspace,
            channel_id=channel,
            published_at=MONDAY + timedelta(hours=3),
        )
        at = MONDAY + timedelta(weeks=6)
        await feed(
            runtime,
            workspace=workspace,
            channel_id=channel,
            network="x",
            now=at,
            samples=[sample(post, "impression_count", 100, at), sample(post, "like_count", 90, at)],
        )
        again = (await client.get("/v1/analytics/best-times", params=params, headers=h)).json()
        assert datetime.fromisoformat(again["computed_at"]) != kept_at
        assert again["posts"] == fresh["posts"] + 1


async def test_best_times_as_png_and_csv_and_only_for_own_channels(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=MONDAY)
        account = Account(network="x", id="acct-7", name="B", username="b", created_at=0.0)
        await _plant(
            runtime,
            workspace=workspace,
            channel=channel,
            weeks=1,
            rate_of=lambda d, h: weight(account, d, h),
        )
        h = identity(workspace)
        params = {"channel_id": str(channel)}
        png = await client.get(
            "/v1/analytics/best-times", params=params, headers={**h, "accept": "image/png"}
        )
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        image = read_png(png.content)
        assert image.size == (900, 380)
        assert colours(image) > 50  # a drawn grid with labels, not a blank image
        svg = await client.get(
            "/v1/analytics/best-times",
            params={**params, "language": "he"},
            headers={**h, "accept": "image/svg+xml"},
        )
        assert svg.headers["content-type"] == "image/svg+xml"
        drawn = read_svg(svg.content)
        ns = "{http://www.w3.org/2000/svg}"
        assert len(drawn.findall(f".//{ns}image")) >= 1  # the grid
        assert len(drawn.findall(f".//{ns}use")) > 50  # the glyphs of title, axes and labels
        odd = await client.get(
            "/v1/analytics/best-times",
            params={**params, "language": "tlh"},
            headers={**h, "accept": "image/png"},
        )
        assert odd.status_code == 422 and odd.json()["field"] == "language"
        as_csv = await client.get(
            "/v1/analytics/best-times", params=params, headers={**h, "accept": "text/csv"}
        )
        lines = as_csv.text.strip().splitlines()
        assert lines[0] == "weekday,hour,score,rate,posts" and len(lines) == 1 + 7 * 24
        stranger = await client.get(
            "/v1/analytics/best-times", params=params, headers=identity(uuid.uuid4())
        )
        assert stranger.status_code == 404 and stranger.json()["field"] == "channel_id"
        missing = await client.get("/v1/analytics/best-times", headers=h)
        assert missing.status_code == 422 and missing.json()["field"] == "query.channel_id"


def _correlation(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs) ** 0.5
    vy = sum((y - my) ** 2 for y in ys) ** 0.5
    return cov / (vx * vy)
