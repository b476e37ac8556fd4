import uuid

from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import listening, running_scheduler


async def test_queue_is_read_reordered_and_shuffled_over_the_same_slot_times(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, timezone="Europe/London")
        await s.client.put(
            f"/v1/channels/{channel}/slots",
            json=[{"weekday": d, "time": "10:00"} for d in range(7)],
            headers=identity(workspace),
        )
        ids = []
        for n in range(4):
            r = await s.client.post(
                "/v1/posts",
                json={
                    "text": f"q{n}",
                    "targets": [{"channel_id": str(channel)}],
                    "schedule": {"queue": True},
                },
                headers=identity(workspace),
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        # A post at a fixed time is not part of the queue.
        await s.client.post(
            "/v1/posts",
            json={
                "text": "fixed",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"at": "2031-01-01T12:00:00"},
            },
            headers=identity(workspace),
        )
        url = f"/v1/channels/{channel}/queue"
        queue = (await s.client.get(url, headers=identity(workspace))).json()
        assert [i["post_id"] for i in queue] == ids
        times = [i["due_at"] for i in queue]
        assert times == sorted(times)

        wanted = [ids[3], ids[0], ids[2], ids[1]]
        r = await s.client.put(url, json=wanted, headers=identity(workspace, "editor"))
        assert r.status_code == 200, r.text
        assert [i["post_id"] for i in r.json()] == wanted
        assert [i["due_at"] for i in r.json()] == times
        assert {i["local_due_at"][11:16] for i in r.json()} == {"10:00"}
        post3 = (await s.client.get(f"/v1/posts/{ids[3]}", headers=identity(workspace))).json()
        assert post3["targets"][0]["due_at"] == times[0] and post3["version"] == 2
        # The object form works too.
        r = await s.client.put(url, json={"post_ids": ids}, headers=identity(workspace))
        assert [i["post_id"] for i in r.json()] == ids

        for bad in ([ids[0], ids[1], ids[2]], [*ids, str(uuid.uuid4())], [ids[0]] * 4):
            r = await s.client.put(url, json=bad, headers=identity(workspace))
            assert r.status_code == 422 and r.json()["field"] == "post_ids", r.text
        r = await s.client.put(url, json=ids, headers=identity(workspace, "analyst"))
        assert r.status_code == 403
        r = await s.client.get(url, headers=identity(uuid.uuid4()))
        assert r.status_code == 404

        orders = set()
        for _ in range(12):
            r = await s.client.post(f"{url}/shuffle", headers=identity(workspace))
            assert r.status_code == 200, r.text
            assert sorted(i["post_id"] for i in r.json()) == sorted(ids)
            assert [i["due_at"] for i in r.json()] == times
            orders.add(tuple(i["post_id"] for i in r.json()))
        assert len(orders) > 1


async def test_reordering_says_post_rescheduled(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.rescheduled") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace)
        await s.client.put(
            f"/v1/channels/{channel}/slots",
            json=[{"weekday": d, "time": "10:00"} for d in range(7)],
            headers=identity(workspace),
        )
        ids = []
        for n in range(2):
            r = await s.client.post(
                "/v1/posts",
                json={
                    "text": f"q{n}",
                    "targets": [{"channel_id": str(channel)}],
                    "schedule": {"queue": True},
                },
                headers=identity(workspace),
            )
            ids.append(r.json()["id"])
        r = await s.client.put(
            f"/v1/channels/{channel}/queue", json=ids[::-1], headers=identity(workspace)
        )
        assert r.status_code == 200
        await heard.wait_for(lambda h: len(h.of("post.rescheduled")) == 2)
        assert {e.data["post_id"] for e in heard.of("post.rescheduled")} == set(ids)
