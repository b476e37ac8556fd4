import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.scheduler.models import Post, Target
from services.scheduler.settings import SchedulerSettings
from shared.events import (
    ChannelConnected,
    ChannelDisconnected,
    PostPublished,
    PostPublishFailed,
)
from tests.conftest import identity
from tests.scheduler.support import (
    eventually,
    listening,
    publish,
    running_scheduler,
    wait_consuming,
)


async def test_due_targets_are_dispatched_once_each_with_their_variant(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        x = await s.add_channel(workspace_id=workspace, network="x")
        bsky = await s.add_channel(workspace_id=workspace, network="bluesky")
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "base",
                "media": [{"url": "https://cdn.example.com/a.jpg", "alt": "a"}],
                "targets": [
                    {"channel_id": str(x), "text": "for X", "options": {"thread": ["two"]}},
                    {"channel_id": str(bsky)},
                ],
                "schedule": {"now": True},
            },
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
        post = r.json()
        await heard.wait_for(lambda h: len(h.of("post.due")) >= 2)
        # Give a second dispatch (the bug this guards against) time to show up.
        await asyncio.sleep(1.0)
        due = {e.data["target_id"]: e for e in heard.of("post.due")}
        assert len(heard.of("post.due")) == 2
        by_channel = {t["channel_id"]: t["id"] for t in post["targets"]}
        x_due = due[by_channel[str(x)]].data
        assert x_due["text"] == "for X" and x_due["options"] == {"thread": ["two"]}
        assert x_due["media"][0]["url"] == "https://cdn.example.com/a.jpg"
        assert due[by_channel[str(bsky)]].data["text"] == "base"
        assert due[by_channel[str(bsky)]].workspace_id == workspace

        got = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
        assert got.json()["status"] == "publishing"
        assert {t["status"] for t in got.json()["targets"]} == {"publishing"}
        metrics = (await s.client.get("/metrics")).text
        assert "herald_scheduler_dispatch_lateness_seconds_count 2.0" in metrics


async def test_a_sooner_post_wakes_the_sleeping_dispatcher(make_settings):
    # The dispatcher would sleep 30 s; only the NOTIFY can make this post go out on time.
    settings = make_settings(SchedulerSettings, dispatch_max_sleep=30.0)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace)
        await asyncio.sleep(0.5)  # the dispatcher is now asleep on an empty table
        at = datetime.now(UTC) + timedelta(seconds=1.5)
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "soon",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"at": at.replace(tzinfo=None).isoformat(), "timezone": "UTC"},
            },
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
        await heard.wait_for(lambda h: len(h.of("post.due")) == 1, within=5)
        arrived = datetime.now(UTC)
        assert at <= arrived < at + timedelta(seconds=1.5)


async def test_outcomes_move_targets_on(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        await wait_consuming(s, "outcomes")
        ok = await s.add_channel(workspace_id=workspace, network="x")
        bad = await s.add_channel(workspace_id=workspace, network="mastodon")
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "go",
                "targets": [{"channel_id": str(ok)}, {"channel_id": str(bad)}],
                "schedule": {"now": True},
            },
            headers=identity(workspace),
        )
        post = r.json()
        targets = {t["channel_id"]: t["id"] for t in post["targets"]}

        async def all_publishing() -> None:
            got = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
            assert {t["status"] for t in got.json()["targets"]} == {"publishing"}

        await eventually(all_publishing)
        published_at = datetime(2030, 1, 1, 9, tzinfo=UTC)
        published = PostPublished(
            post_id=post["id"],
            target_id=targets[str(ok)],
            channel_id=ok,
            network="x",
            external_id="1800",
            url="https://x.com/i/status/1800",
            published_at=published_at,
        )
        failed = PostPublishFailed(
            post_id=post["id"],
            target_id=targets[str(bad)],
            channel_id=bad,
            network="mastodon",
            error_class="permanent",
            error="account suspended",
            failed_at=published_at,
        )
        # Delivered twice: the second copy must change nothing.
        await publish(
            settings.exchange_name,
            (published, workspace),
            (failed, workspace),
            (published, workspace),
        )

        async def moved_on() -> None:
            got = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
            by_id = {t["id"]: t for t in got.json()["targets"]}
            done = by_id[targets[str(ok)]]
            assert done["status"] == "published"
            assert done["external_id"] == "1800"
            assert done["url"] == "https://x.com/i/status/1800"
            assert datetime.fromisoformat(done["published_at"]) == published_at
            lost = by_id[targets[str(bad)]]
            assert lost["status"] == "failed" and "account suspended" in lost["error"]
            assert got.json()["status"] == "failed"

        await eventually(moved_on)


async def test_channel_events_feed_the_targetable_channels(make_settings):
    settings = make_settings(
        SchedulerSettings, publisher_url="http://127.0.0.1:9", channel_lookup_timeout=0.5
    )
    workspace = uuid.uuid4()
    channel = uuid.uuid4()
    body = {
        "text": "hi",
        "targets": [{"channel_id": str(channel)}],
        "schedule": {"at": "2030-03-01T09:00:00"},
    }
    async with running_scheduler(settings) as s:
        await wait_consuming(s, "channels")
        connected = ChannelConnected(
            channel_id=channel,
            network="linkedin",
            external_id="urn:li:1",
            name="Acme",
            timezone="Australia/Sydney",
            status="active",
        )
        await publish(settings.exchange_name, (connected, workspace))

        async def can_target() -> None:
            r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
            assert r.status_code == 201, r.text
            # 09:00 in Sydney (UTC+11 in March).
            assert r.json()["targets"][0]["due_at"].startswith("2030-02-28T22:00:00")

        await eventually(can_target)
        await publish(settings.exchange_name, (ChannelDisconnected(channel_id=channel), workspace))

        async def refused() -> None:
            r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
            assert r.status_code == 422

        await eventually(refused)


async def test_targets_late_beyond_the_threshold_are_missed(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due", "post.missed") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace)
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "x",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"at": "2030-01-01T09:00:00", "timezone": "UTC"},
            },
            headers=identity(workspace),
        )
        target_id = uuid.UUID(r.json()["targets"][0]["id"])
        # As if the scheduler had been down for two hours around the due time.
        async with s.runtime.sessions() as session, session.begin():
            target = await session.get(Target, target_id)
            target.due_at = datetime.now(UTC) - timedelta(hours=2)
        s.runtime.notifier.events["scheduler_due"].set()
        await heard.wait_for(lambda h: len(h.of("post.missed")) == 1)
        assert heard.of("post.due") == []
        assert heard.of("post.missed")[0].data["late_by_seconds"] > 7000
        async with s.runtime.sessions() as session:
            status = await session.scalar(select(Target.status).where(Target.id == target_id))
        assert status == "missed"


async def test_the_missed_threshold_is_the_workspaces_own(make_settings):
    settings = make_settings(SchedulerSettings, dispatch_max_sleep=1.0)
    strict, lenient = uuid.uuid4(), uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due", "post.missed") as heard,
        running_scheduler(settings) as s,
    ):
        r = await s.client.put(
            "/v1/scheduler/settings", json={"missed_after_seconds": 120}, headers=identity(strict)
        )
        assert r.status_code == 200, r.text
        planned = {}
        for name, workspace in (("strict", strict), ("lenient", lenient)):
            channel = await s.add_channel(workspace_id=workspace)
            for late in ("5min", "30s"):
                r = await s.client.post(
                    "/v1/posts",
                    json={
                        "text": f"{name} {late}",
                        "targets": [{"channel_id": str(channel)}],
                        "schedule": {"at": "2030-01-01T09:00:00", "timezone": "UTC"},
                    },
                    headers=identity(workspace),
                )
                planned[(name, late)] = uuid.UUID(r.json()["targets"][0]["id"])
        # As if the scheduler had been down: all four fall due together, in one batch.
        now = datetime.now(UTC)
        async with s.runtime.sessions() as session, session.begin():
            for (_, late), target_id in planned.items():
                target = await session.get(Target, target_id)
                target.due_at = now - (
                    timedelta(minutes=5) if late == "5min" else timedelta(seconds=30)
                )
        s.runtime.notifier.events["scheduler_due"].set()
        await heard.wait_for(lambda h: len(h.of("post.due")) + len(h.of("post.missed")) == 4)
        missed = {e.data["target_id"] for e in heard.of("post.missed")}
        # 5 minutes late is too late for a workspace that allows 2; the default allows an hour.
        assert missed == {str(planned[("strict", "5min")])}
        assert {e.data["target_id"] for e in heard.of("post.due")} == {
            str(planned[k]) for k in (("strict", "30s"), ("lenient", "5min"), ("lenient", "30s"))
        }
        async with s.runtime.sessions() as session:
            target = await session.get(Target, planned[("strict", "5min")])
            assert target.status == "missed" and "after its due time" in target.error
            r = await s.client.get(
                f"/v1/posts/{target.post_id}/transitions", headers=identity(strict)
            )
            assert [(t["from_status"], t["to_status"], t["by"]) for t in r.json()][-1] == (
                "scheduled",
                "missed",
                "dispatcher",
            )


async def test_a_post_being_edited_is_passed_over_not_waited_for(make_settings):
    settings = make_settings(SchedulerSettings, dispatch_max_sleep=1.0)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace)
        ids = []
        for text in ("held", "free"):
            r = await s.client.post(
                "/v1/posts",
                json={
                    "text": text,
                    "targets": [{"channel_id": str(channel)}],
                    "schedule": {"at": "2030-01-01T09:00:00", "timezone": "UTC"},
                },
                headers=identity(workspace),
            )
            ids.append((r.json()["id"], r.json()["targets"][0]["id"]))
        (held_post, held_target), (_, free_target) = ids
        async with s.runtime.sessions() as editing:
            # An edit in progress holds the post's row lock.
            await editing.execute(
                select(Post.id).where(Post.id == uuid.UUID(held_post)).with_for_update()
            )
            async with s.runtime.sessions() as session, session.begin():
                for target_id in (held_target, free_target):
                    target = await session.get(Target, uuid.UUID(target_id))
                    target.due_at = datetime.now(UTC) - timedelta(seconds=1)
            s.runtime.notifier.events["scheduler_due"].set()
            # The other post goes out meanwhile: the dispatcher did not wait on the lock…
            await heard.wait_for(lambda h: len(h.of("post.due")) >= 1)
            assert [e.data["target_id"] for e in heard.of("post.due")] == [free_target]
            async with s.runtime.sessions() as session:
                status = await session.scalar(
                    select(Target.status).where(Target.id == uuid.UUID(held_target))
                )
            assert status == "scheduled"
            await editing.rollback()
        # …and takes the held one as soon as the edit is over.
        await heard.wait_for(lambda h: len(h.of("post.due")) == 2)
        assert heard.of("post.due")[1].data["target_id"] == held_target
