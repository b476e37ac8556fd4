import uuid

from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler


async def test_calendar_lists_a_range_with_filters_local_times_and_pages(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x", timezone="America/New_York")
        li = await s.add_channel(
            workspace_id=workspace, network="linkedin", timezone="Asia/Jerusalem"
        )
        plans = [
            ("2030-03-09T09:00:00", [x], ["launch"], "spring"),
            ("2030-03-10T09:00:00", [x, li], ["launch"], None),  # NY's DST starts that day
            ("2030-03-11T09:00:00", [li], [], "spring"),
            ("2030-04-20T09:00:00", [x], ["launch"], "spring"),  # outside the range
        ]
        for at, channels, tags, campaign in plans:
            r = await s.client.post(
                "/v1/posts",
                json={
                    "text": f"post at {at}",
                    "tags": tags,
                    "campaign": campaign,
                    "targets": [{"channel_id": str(c)} for c in channels],
                    "schedule": {"at": at},
                },
                headers=identity(workspace),
            )
            assert r.status_code == 201, r.text
        # A draft has no time and never shows up.
        await s.client.post(
            "/v1/posts",
            json={"text": "d", "targets": [{"channel_id": str(x)}]},
            headers=identity(workspace),
        )

        rng = {"from": "2030-03-01T00:00:00Z", "to": "2030-04-01T00:00:00Z"}
        r = await s.client.get("/v1/calendar", params=rng, headers=identity(workspace))
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert len(items) == 4
        assert [i["due_at"] for i in items] == sorted(i["due_at"] for i in items)
        # Every occurrence at 09:00 on its own channel's clock, across NY's DST change.
        assert {i["local_due_at"][11:16] for i in items} == {"09:00"}
        ny = [i["due_at"][11:16] for i in items if i["channel_id"] == str(x)]
        assert ny == ["14:00", "13:00"]

        for filters, count in [
            ({"channel_id": str(li)}, 2),
            ({"network": "x"}, 2),
            ({"tag": "launch"}, 3),
            ({"campaign": "spring"}, 2),
            ({"status": "scheduled"}, 4),
            ({"status": "published"}, 0),
        ]:
            r = await s.client.get(
                "/v1/calendar", params={**rng, **filters}, headers=identity(workspace)
            )
            assert len(r.json()["items"]) == count, filters

        seen, cursor = [], None
        while True:
            params = {**rng, "limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (
                await s.client.get("/v1/calendar", params=params, headers=identity(workspace))
            ).json()
            seen += [i["target_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [i["target_id"] for i in items]

        other = await s.client.get("/v1/calendar", params=rng, headers=identity(uuid.uuid4()))
        assert other.json()["items"] == []

        for params, field in [
            ({"from": "2030-03-02T00:00:00Z", "to": "2030-03-01T00:00:00Z"}, "to"),
            ({"from": "2030-01-01T00:00:00Z", "to": "2032-01-01T00:00:00Z"}, "to"),
            ({"from": "2030-03-01T00:00:00", "to": "2030-04-01T00:00:00Z"}, "from"),
            ({"to": "2030-04-01T00:00:00Z"}, "query.from"),
            ({**rng, "cursor": "garbage"}, "cursor"),
        ]:
            r = await s.client.get("/v1/calendar", params=params, headers=identity(workspace))
            assert r.status_code == 422, params
            assert r.json()["field"] == field, r.json()
