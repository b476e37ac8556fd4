import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.scheduler.settings import SchedulerSettings
from shared.events import BestSlot, BestTimesUpdated
from tests.conftest import identity
from tests.scheduler.support import eventually, publish, running_scheduler, wait_consuming

JERUSALEM = ZoneInfo("Asia/Jerusalem")


def upcoming(weekday: int, hour: int, minute: int, tz: ZoneInfo, after: datetime) -> datetime:
    """The next wall-clock `weekday hour:minute` in `tz` after `after` (test's own arithmetic)."""
    day = after.astimezone(tz).date()
    while True:
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
        if day.weekday() == weekday and candidate > after:
            return candidate.astimezone(UTC)
        day += timedelta(days=1)


async def test_slots_are_read_and_replaced_per_channel(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, timezone="Asia/Jerusalem")
        url = f"/v1/channels/{channel}/slots"
        assert (await s.client.get(url, headers=identity(workspace))).json() == []
        slots = [{"weekday": 2, "time": "18:30", "cap": 2}, {"weekday": 0, "time": "9:00"}]
        r = await s.client.put(url, json=slots, headers=identity(workspace, "editor"))
        assert r.status_code == 200, r.text
        assert r.json() == [
            {"weekday": 0, "time": "09:00", "cap": 1},
            {"weekday": 2, "time": "18:30", "cap": 2},
        ]
        r = await s.client.put(
            url, json=[{"weekday": 1, "time": "25:00"}], headers=identity(workspace)
        )
        assert r.status_code == 422 and r.json()["field"] == "[0].time"
        r = await s.client.put(
            url, json=[{"weekday": 7, "time": "09:00"}], headers=identity(workspace)
        )
        assert r.status_code == 422
        assert len((await s.client.get(url, headers=identity(workspace))).json()) == 2
        r = await s.client.get(url, headers=identity(uuid.uuid4()))
        assert r.status_code == 404
        r = await s.client.put(url, json=[], headers=identity(workspace, "analyst"))
        assert r.status_code == 403


async def test_queue_fills_the_next_free_slots_in_order_and_respects_caps(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, timezone="Asia/Jerusalem")
        body = {
            "text": "queued",
            "targets": [{"channel_id": str(channel)}],
            "schedule": {"queue": True},
        }
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        assert r.status_code == 422 and r.json()["field"] == "schedule.queue"

        await s.client.put(
            f"/v1/channels/{channel}/slots",
            json=[{"weekday": 0, "time": "09:00"}, {"weekday": 3, "time": "18:30", "cap": 2}],
            headers=identity(workspace),
        )
        now = datetime.now(UTC)
        # Five posts at once: the channel lock keeps them from sharing a full slot.
        results = await asyncio.gather(
            *(s.client.post("/v1/posts", json=body, headers=identity(workspace)) for _ in range(5))
        )
        assert all(r.status_code == 201 for r in results), [r.text for r in results]
        dues = sorted(datetime.fromisoformat(r.json()["targets"][0]["due_at"]) for r in results)
        monday, thursday = upcoming(0, 9, 0, JERUSALEM, now), upcoming(3, 18, 30, JERUSALEM, now)
        expected = []
        week = timedelta(days=7)
        for k in range(3):
            expected += [monday + k * week, thursday + k * week, thursday + k * week]
        # Wall-clock slots: the UTC offset may differ across a DST change in between.
        expected_local = sorted(e.astimezone(JERUSALEM).replace(tzinfo=None) for e in expected)
        got_local = [d.astimezone(JERUSALEM).replace(tzinfo=None) for d in dues]
        assert got_local == expected_local[:5]
        assert max(Counter(dues).values()) <= 2
        for r in results:
            assert r.json()["targets"][0]["local_due_at"][11:16] in {"09:00", "18:30"}


async def test_best_time_defaults_then_follows_metrics(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        await wait_consuming(s, "channels")
        channel = await s.add_channel(workspace_id=workspace, timezone="Asia/Jerusalem")
        body = {
            "text": "best",
            "targets": [{"channel_id": str(channel)}],
            "schedule": {"best": True},
        }
        now = datetime.now(UTC)
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        assert r.status_code == 201, r.text
        due = datetime.fromisoformat(r.json()["targets"][0]["due_at"])
        defaults = [
            upcoming(day, hour, 0, JERUSALEM, now + timedelta(minutes=5))
            for day in range(5)
            for hour in (9, 12, 17)
        ]
        assert due == min(defaults)

        today = datetime.now(JERUSALEM).weekday()
        update = BestTimesUpdated(
            channel_id=channel,
            timezone="Asia/Jerusalem",
            slots=[
                BestSlot(weekday=(today + 1) % 7, hour=10, score=0.5),
                BestSlot(weekday=(today + 3) % 7, hour=20, score=0.9),
            ],
        )
        await publish(settings.exchange_name, (update, workspace))
        expected = upcoming((today + 3) % 7, 20, 0, JERUSALEM, datetime.now(UTC))

        async def follows_metrics() -> None:
            r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
            assert datetime.fromisoformat(r.json()["targets"][0]["due_at"]) == expected

        await eventually(follows_metrics)
