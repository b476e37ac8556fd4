"""Pacing: a channel takes at most its cap of posts in any 24 hours (its network's documented
limit unless it sets its own); scheduling refuses with the reason, the queue places within it."""

import uuid
from datetime import UTC, datetime, timedelta

from services.scheduler.models import Post
from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler

PHOTO = [{"url": "https://cdn.example.com/a.jpg"}]


async def _post(s, workspace, channel, schedule, media=PHOTO):
    return await s.client.post(
        "/v1/posts",
        json={
            "text": "paced",
            "targets": [{"channel_id": str(channel), "media": media}],
            "schedule": schedule,
        },
        headers=identity(workspace),
    )


def _at(wall_clock: str) -> dict[str, str]:
    return {"at": wall_clock, "timezone": "UTC"}


async def test_a_time_over_the_cap_is_refused_with_the_reason(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        instagram = await s.add_channel(workspace_id=workspace, network="instagram")
        x = await s.add_channel(workspace_id=workspace, network="x")
        pacing = f"/v1/channels/{instagram}/pacing"
        r = await s.client.get(pacing, headers=identity(workspace))
        assert r.status_code == 200, r.text
        assert r.json() == {
            "channel_id": str(instagram),
            "network": "instagram",
            "daily_cap": None,
            "network_limit": 50,
            "effective": 50,
        }
        r = await s.client.get(f"/v1/channels/{x}/pacing", headers=identity(workspace))
        assert r.json()["effective"] is None

        r = await s.client.put(pacing, json={"daily_cap": 2}, headers=identity(workspace))
        assert r.status_code == 200, r.text
        assert r.json()["effective"] == 2
        for wall_clock in ("2030-07-01T09:00:00", "2030-07-01T20:00:00"):
            r = await _post(s, workspace, instagram, _at(wall_clock))
            assert r.status_code == 201, r.text
        r = await _post(s, workspace, instagram, _at("2030-07-02T08:00:00"))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "schedule.at"
        assert "at most 2 posts in any 24 hours (the channel's own cap)" in r.json()["detail"]
        assert await s.count(Post) == 2
        # 24 hours after the first, the window has room again.
        r = await _post(s, workspace, instagram, _at("2030-07-02T09:00:00"))
        assert r.status_code == 201, r.text

        # Back to Instagram's own limit: the refused time fits.
        r = await s.client.put(pacing, json={"daily_cap": None}, headers=identity(workspace))
        assert r.json()["effective"] == 50
        r = await _post(s, workspace, instagram, _at("2030-07-02T08:00:00"))
        assert r.status_code == 201, r.text
        r = await _post(s, workspace, instagram, _at("2030-07-02T08:00:00"))
        assert r.status_code == 201, r.text

        # A network without a documented daily limit takes what it is given.
        for _ in range(4):
            r = await _post(s, workspace, x, _at("2030-07-01T09:00:00"), media=None)
            assert r.status_code == 201, r.text

        r = await s.client.put(pacing, json={"daily_cap": 0}, headers=identity(workspace))
        assert r.status_code == 422 and r.json()["field"] == "daily_cap"


async def test_the_queue_places_posts_within_the_cap(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        instagram = await s.add_channel(workspace_id=workspace, network="instagram")
        r = await s.client.put(
            f"/v1/channels/{instagram}/slots",
            json=[{"weekday": day, "time": "10:00", "cap": 5} for day in range(7)],
            headers=identity(workspace),
        )
        assert r.status_code == 200, r.text
        r = await s.client.put(
            f"/v1/channels/{instagram}/pacing", json={"daily_cap": 1}, headers=identity(workspace)
        )
        assert r.status_code == 200, r.text
        due = []
        for _ in range(3):
            r = await _post(s, workspace, instagram, {"queue": True})
            assert r.status_code == 201, r.text
            due.append(datetime.fromisoformat(r.json()["targets"][0]["due_at"]))
        # The slot has room for five, the channel for one a day: one slot each day.
        assert due[1] - due[0] == timedelta(days=1)
        assert due[2] - due[1] == timedelta(days=1)


async def test_a_recurring_post_keeps_within_the_cap(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        threads = await s.add_channel(workspace_id=workspace, network="threads")
        r = await s.client.put(
            f"/v1/channels/{threads}/pacing", json={"daily_cap": 2}, headers=identity(workspace)
        )
        assert r.status_code == 200, r.text
        # Within the horizon, so every occurrence is planned now.
        first = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        every_8_hours = {
            "rrule": "FREQ=HOURLY;INTERVAL=8;COUNT=6",
            "at": first.replace(tzinfo=None).isoformat(),
            "timezone": "UTC",
        }
        r = await _post(s, workspace, threads, every_8_hours, media=None)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "schedule.rrule"
        assert "the series would put 3 between" in r.json()["detail"]

        every_12_hours = {**every_8_hours, "rrule": "FREQ=HOURLY;INTERVAL=12;COUNT=6"}
        r = await _post(s, workspace, threads, every_12_hours, media=None)
        assert r.status_code == 201, r.text
        assert len(r.json()["targets"]) == 6
        # A one-off post in between would make three in some 24 hours.
        between = first + timedelta(hours=6)
        r = await _post(s, workspace, threads, _at(between.replace(tzinfo=None).isoformat()), None)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "schedule.at"
