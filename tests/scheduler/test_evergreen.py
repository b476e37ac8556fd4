import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.scheduler.settings import SchedulerSettings
from shared.events import PostPublished
from tests.conftest import identity
from tests.scheduler.support import (
    eventually,
    listening,
    publish,
    running_scheduler,
    wait_consuming,
)

LONDON = ZoneInfo("Europe/London")


async def test_evergreen_post_is_requeued_into_a_free_slot_after_the_gap(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due", "post.scheduled") as heard,
        running_scheduler(settings) as s,
    ):
        await wait_consuming(s, "outcomes")
        channel = await s.add_channel(workspace_id=workspace, timezone="Europe/London")
        # Every day at 10:00 and 16:00 London time, one post per slot.
        slots = [{"weekday": d, "time": t} for d in range(7) for t in ("10:00", "16:00")]
        r = await s.client.put(
            f"/v1/channels/{channel}/slots", json=slots, headers=identity(workspace)
        )
        assert r.status_code == 200, r.text
        # A queued post takes the first slot, so the recycled one must skip past it.
        blocker = await s.client.post(
            "/v1/posts",
            json={
                "text": "filler",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"queue": True},
            },
            headers=identity(workspace),
        )
        assert blocker.status_code == 201, blocker.text

        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "our classic guide",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"now": True},
                "evergreen": {"min_gap_days": 3},
            },
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
        post = r.json()
        assert post["evergreen"] == {"min_gap_days": 3}
        first = post["targets"][0]
        await heard.wait_for(lambda h: len(h.of("post.due")) == 1)

        published_at = datetime.now(UTC)
        await publish(
            settings.exchange_name,
            (
                PostPublished(
                    post_id=post["id"],
                    target_id=first["id"],
                    channel_id=channel,
                    network="x",
                    external_id="1",
                    url=None,
                    published_at=published_at,
                ),
                workspace,
            ),
        )

        async def requeued() -> None:
            got = (
                await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
            ).json()
            assert [t["status"] for t in got["targets"]] == ["published", "scheduled"]

        await eventually(requeued)
        got = (await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))).json()
        assert got["status"] == "scheduled"
        again = got["targets"][1]
        due = datetime.fromisoformat(again["due_at"])
        earliest = published_at + timedelta(days=3)
        # The first slot at or after the gap, on the London clock.
        local = earliest.astimezone(LONDON)
        candidates = []
        for k in range(3):
            day = (local + timedelta(days=k)).date()
            for hour in (10, 16):
                instant = datetime(day.year, day.month, day.day, hour, tzinfo=LONDON)
                if instant >= earliest:
                    candidates.append(instant.astimezone(UTC))
        blocked = datetime.fromisoformat(blocker.json()["targets"][0]["due_at"])
        expected = min(c for c in candidates if c != blocked)
        assert due == expected
        assert again["local_due_at"][11:16] in {"10:00", "16:00"}
        await heard.wait_for(
            lambda h: any(
                e.data["targets"][0]["target_id"] == again["id"] for e in h.of("post.scheduled")
            )
        )

        # The same outcome delivered again (another message id) queues nothing more.
        await publish(
            settings.exchange_name,
            (
                PostPublished(
                    post_id=post["id"],
                    target_id=first["id"],
                    channel_id=channel,
                    network="x",
                    external_id="1",
                    url=None,
                    published_at=published_at,
                ),
                workspace,
            ),
        )
        transitions = None

        async def settled() -> None:
            nonlocal transitions
            transitions = (
                await s.client.get(
                    f"/v1/posts/{post['id']}/transitions", headers=identity(workspace)
                )
            ).json()
            assert sum(1 for t in transitions if t["to_status"] == "published") == 2

        await eventually(settled)
        got = (await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))).json()
        assert len(got["targets"]) == 2


async def test_a_plain_post_is_not_recycled(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        await wait_consuming(s, "outcomes")
        channel = await s.add_channel(workspace_id=workspace)
        await s.client.put(
            f"/v1/channels/{channel}/slots",
            json=[{"weekday": 0, "time": "10:00"}],
            headers=identity(workspace),
        )
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "once",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"now": True},
            },
            headers=identity(workspace),
        )
        post = r.json()
        await heard.wait_for(lambda h: len(h.of("post.due")) == 1)
        await publish(
            settings.exchange_name,
            (
                PostPublished(
                    post_id=post["id"],
                    target_id=post["targets"][0]["id"],
                    channel_id=channel,
                    network="x",
                    external_id="1",
                    url=None,
                    published_at=datetime.now(UTC),
                ),
                workspace,
            ),
        )

        async def published() -> None:
            got = (
                await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
            ).json()
            assert got["status"] == "published"

        await eventually(published)
        got = (await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))).json()
        assert len(got["targets"]) == 1
