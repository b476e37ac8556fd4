import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.metrics.collection import (
    COLLECTION_OFFSETS,
    send_due_collections,
)
from services.metrics.models import Collection
from shared.db import unit_of_work
from tests.conftest import identity
from tests.metrics.support import (
    clear_outbox,
    connect_channel,
    feed,
    outbox_events,
    publish,
    quiet_app,
    sample,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def _collections(runtime, target_id):
    async with runtime.sessions() as session:
        return (
            await session.scalars(
                select(Collection).where(Collection.target_id == target_id)
                .order_by(Collection.offset_seconds.nulls_first(), Collection.id)
            )
        ).all()


async def test_publishing_plans_collections_dense_early_and_sparse_later(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, _client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=T0)
        post = await publish(runtime, workspace=workspace, channel_id=channel, published_at=T0)
        # The same event delivered again plans nothing more.
        async with unit_of_work(runtime.sessions) as session:
            from services.metrics.tracking import track_published_post

            await track_published_post(session, workspace_id=workspace, published=post, now=T0)
        rows = await _collections(runtime, post.target_id)
        assert [r.due_at - T0 for r in rows] == list(COLLECTION_OFFSETS)
        assert [r.due_at - T0 for r in rows][:3] == [
            timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1)
        ]
        assert rows[-1].due_at - T0 == timedelta(days=30)
        assert {r.status for r in rows} == {"pending"}


async def test_due_collections_are_grouped_per_channel_into_one_command(make_settings):
    async with quiet_app(make_settings) as (app, runtime, _client):
        workspace = uuid.uuid4()
        x = await connect_channel(runtime, workspace=workspace, network="x", now=T0)
        masto = await connect_channel(runtime, workspace=workspace, network="mastodon", now=T0)
        a = await publish(runtime, workspace=workspace, channel_id=x, published_at=T0)
        b = await publish(runtime, workspace=workspace, channel_id=x, published_at=T0)
        c = await publish(runtime, workspace=workspace, channel_id=masto, network="mastodon",
                          published_at=T0)
        await clear_outbox(runtime)
        # 20 minutes on: the 5- and 15-minute steps of all three posts are due.
        claimed = await app.state.loops["collector"].run_once(now=T0 + timedelta(minutes=20))
        assert claimed == 6 + 2  # six post collections and the two channels' follower counts
        commands = [e.parsed() for e in await outbox_events(runtime, "metrics.collect")]
        post_commands = {cmd.channel_id: cmd for cmd in commands if not cmd.account}
        assert set(post_commands) == {x, masto}
        assert sorted(p.external_id for p in post_commands[x].posts) == sorted(
            [a.external_id, b.external_id]
        )
        # Two due steps of one post make one fetch, not two.
        assert [p.external_id for p in post_commands[masto].posts] == [c.external_id]
        assert {cmd.channel_id for cmd in commands if cmd.account} == {x, masto}
        for post in (a, b, c):
            statuses = [r.status for r in await _collections(runtime, post.target_id)]
            assert statuses[:2] == ["sent", "sent"] and set(statuses[2:]) == {"pending"}
        # Nothing more is due a minute later.
        await clear_outbox(runtime)
        assert await app.state.loops["collector"].run_once(now=T0 + timedelta(minutes=21)) == 0
        assert await outbox_events(runtime, "metrics.collect") == []


async def test_replicas_never_claim_the_same_collection(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, _client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=T0)
        for _ in range(10):
            await publish(runtime, workspace=workspace, channel_id=channel, published_at=T0)
        now = T0 + timedelta(minutes=6)
        async with runtime.sessions() as first, runtime.sessions() as second:
            got_first = await send_due_collections(first, outbox=runtime.outbox, now=now, batch=6)
            # While the first replica holds its rows, the second takes only the rest.
            got_second = await send_due_collections(
                second, outbox=runtime.outbox, now=now, batch=100
            )
            await first.commit()
            await second.commit()
        assert (got_first, got_second) == (6, 4)
        ids = [
            e.parsed().posts for e in await outbox_events(runtime, "metrics.collect")
            if not e.parsed().account
        ]
        external_ids = [p.external_id for posts in ids for p in posts]
        assert len(external_ids) == len(set(external_ids)) == 10


async def test_unanswered_collections_are_retried_then_given_up(make_settings):
    async with quiet_app(
        make_settings, collect_timeout_seconds=600, collect_max_attempts=3
    ) as (app, runtime, _client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=T0)
        post = await publish(runtime, workspace=workspace, channel_id=channel, published_at=T0)
        now = T0 + timedelta(minutes=5)
        await app.state.loops["collector"].run_once(now=now)
        first = (await _collections(runtime, post.target_id))[0]
        assert (first.status, first.attempts) == ("sent", 1)
        # Not yet timed out: left alone.
        await app.state.loops["collector"].run_once(now=now + timedelta(minutes=9))
        assert (await _collections(runtime, post.target_id))[0].attempts == 1
        # Timed out: sent again, twice, then given up.
        for attempt in (2, 3):
            now += timedelta(minutes=11)
            await clear_outbox(runtime)
            await app.state.loops["collector"].run_once(now=now)
            row = (await _collections(runtime, post.target_id))[0]
            assert (row.status, row.attempts) == ("sent", attempt)
            assert any(
                post.external_id in [p.external_id for p in e.parsed().posts]
                for e in await outbox_events(runtime, "metrics.collect")
            )
        now += timedelta(minutes=11)
        await app.state.loops["collector"].run_once(now=now)
        rows = await _collections(runtime, post.target_id)
        assert rows[0].status == "failed"


async def test_an_answer_closes_the_collection(make_settings):
    async with quiet_app(make_settings) as (app, runtime, _client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=T0)
        post = await publish(runtime, workspace=workspace, channel_id=channel, published_at=T0)
        now = T0 + timedelta(minutes=5)
        await app.state.loops["collector"].run_once(now=now)
        await feed(runtime, workspace=workspace, channel_id=channel, network="x", now=now,
                   samples=[sample(post, "like_count", 3, now)])
        row = (await _collections(runtime, post.target_id))[0]
        assert row.status == "done" and row.answered_at is not None
        # An answered collection is never sent again, whatever the clock says.
        await clear_outbox(runtime)
        await app.state.loops["collector"].run_once(now=now + timedelta(minutes=9))
        assert not [e for e in await outbox_events(runtime, "metrics.collect")
                    if not e.parsed().account]


async def test_refresh_collects_now_and_refuses_unknown_posts(make_settings):
    async with quiet_app(make_settings) as (app, runtime, client):
        workspace = uuid.uuid4()
        channel = await connect_channel(runtime, workspace=workspace, now=T0)
        post = await publish(runtime, workspace=workspace, channel_id=channel,
                             published_at=datetime.now(UTC))
        await clear_outbox(runtime)
        r = await client.post(f"/v1/analytics/posts/{post.post_id}/refresh",
                              headers=identity(workspace, "editor"))
        assert r.status_code == 202, r.text
        assert r.json()["targets"] == 1
        await app.state.loops["collector"].run_once(now=datetime.now(UTC))
        commands = [e.parsed() for e in await outbox_events(runtime, "metrics.collect")]
        assert [p.external_id for c in commands if not c.account for p in c.posts] == [
            post.external_id
        ]
        other = await client.post(f"/v1/analytics/posts/{post.post_id}/refresh",
                                  headers=identity(uuid.uuid4(), "editor"))
        assert other.status_code == 404
        assert other.json()["field"] == "post_id"
        analyst = await client.post(f"/v1/analytics/posts/{post.post_id}/refresh",
                                    headers=identity(workspace, "analyst"))
        assert analyst.status_code == 403


