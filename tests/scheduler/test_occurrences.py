"""A recurring post on the calendar beyond its rows, and one occurrence skipped or edited."""

import uuid

import pytest
from sqlalchemy import text

from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler

QUARTER = {"from": "2030-01-01T00:00:00Z", "to": "2030-04-15T00:00:00Z"}
# Every Monday from 7 January to 8 April 2030: 09:00 in London is 09:00 UTC until the clocks
# go forward on 31 March, then 08:00 UTC.
MONDAYS = [
    *(f"2030-01-{d:02d}T09:00:00Z" for d in (7, 14, 21, 28)),
    *(f"2030-02-{d:02d}T09:00:00Z" for d in (4, 11, 18, 25)),
    *(f"2030-03-{d:02d}T09:00:00Z" for d in (4, 11, 18, 25)),
    "2030-04-01T08:00:00Z",
    "2030-04-08T08:00:00Z",
]


@pytest.fixture
def settings(make_settings):
    return make_settings(SchedulerSettings, run_workers=False, recurrence_horizon_days=14)


def _z(value: str) -> str:
    return value.replace("+00:00", "Z")


async def _calendar(s, workspace, **params):
    r = await s.client.get(
        "/v1/calendar", params={**QUARTER, **params}, headers=identity(workspace)
    )
    assert r.status_code == 200, r.text
    return r.json()


async def _weekly(s, workspace, channel):
    r = await s.client.post(
        "/v1/posts",
        json={
            "text": "Monday tips",
            "targets": [{"channel_id": str(channel)}],
            "schedule": {
                "rrule": "FREQ=WEEKLY;BYDAY=MO",
                "at": "2030-01-07T09:00:00",
                "timezone": "Europe/London",
            },
        },
        headers=identity(workspace),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _outbox(s) -> list[str]:
    """The post events written, in order (audit entries are the audit tests' business)."""
    async with s.runtime.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT routing_key FROM scheduler.outbox"
                " WHERE routing_key <> 'audit.recorded' ORDER BY id"
            )
        )
        return [row.routing_key for row in rows]


async def test_calendar_shows_every_occurrence_beyond_the_rows(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        series = await _weekly(s, workspace, x)
        # Only the first occurrence is a row (the others are years past the horizon).
        assert len(series["targets"]) == 1

        items = (await _calendar(s, workspace, limit=100))["items"]
        assert [_z(i["due_at"]) for i in items] == MONDAYS
        assert {i["local_due_at"][11:16] for i in items} == {"09:00"}
        assert [i["materialised"] for i in items] == [True] + [False] * 13
        assert items[0]["target_id"] == series["targets"][0]["id"]
        assert all(i["target_id"] is None for i in items[1:])
        assert {(i["post_id"], i["status"], i["text"]) for i in items} == {
            (series["id"], "scheduled", "Monday tips")
        }

        # Pages of five, rows and rule alike, each occurrence once.
        seen, cursor = [], None
        while True:
            page = await _calendar(s, workspace, limit=5, **({"cursor": cursor} if cursor else {}))
            seen += [_z(i["due_at"]) for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == MONDAYS

        # Filters hold for occurrences too.
        assert (await _calendar(s, workspace, network="linkedin"))["items"] == []
        assert (await _calendar(s, workspace, status="in_review"))["items"] == []
        assert len((await _calendar(s, workspace, channel_id=str(x)))["items"]) == 14

        # A canceled series shows nothing ahead.
        r = await s.client.delete(f"/v1/posts/{series['id']}", headers=identity(workspace))
        assert r.status_code == 200, r.text
        items = (await _calendar(s, workspace))["items"]
        assert [i["status"] for i in items] == ["canceled"]


async def test_skip_an_occurrence_with_or_without_a_row(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        series = await _weekly(s, workspace, x)
        post_id = series["id"]

        # Beyond the rows: an EXDATE, and the calendar no longer has it.
        r = await s.client.post(
            f"/v1/posts/{post_id}/occurrences/2030-02-04T09:00:00Z/skip",
            headers={**identity(workspace), "If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        assert r.json()["schedule"]["exdates"] == ["2030-02-04T09:00:00+00:00"]
        assert r.headers["etag"] == '"2"'
        due = [_z(i["due_at"]) for i in (await _calendar(s, workspace))["items"]]
        assert due == [d for d in MONDAYS if d != "2030-02-04T09:00:00Z"]

        # The materialised first one: its row goes, and the next becomes the row ahead.
        first_row = series["targets"][0]["id"]
        r = await s.client.post(
            f"/v1/posts/{post_id}/occurrences/2030-01-07T09:00:00Z/skip",
            headers=identity(workspace),
        )
        assert r.status_code == 200, r.text
        [row] = r.json()["targets"]
        assert row["id"] != first_row and _z(row["due_at"]) == "2030-01-14T09:00:00Z"
        items = (await _calendar(s, workspace))["items"]
        assert _z(items[0]["due_at"]) == "2030-01-14T09:00:00Z" and items[0]["materialised"]
        assert await _outbox(s) == [
            "post.scheduled",
            "post.edited",
            "post.canceled",
            "post.scheduled",
            "post.edited",
        ]

        # An instant that is not (or no longer) an occurrence, a stale version, a naive time.
        for at, headers, status, field in [
            ("2030-02-04T09:00:00Z", {}, 404, "at"),
            ("2030-02-05T09:00:00Z", {}, 404, "at"),
            ("2030-02-11T09:00:00Z", {"If-Match": '"1"'}, 409, "version"),
            ("2030-02-11T09:00:00", {}, 422, "at"),
        ]:
            r = await s.client.post(
                f"/v1/posts/{post_id}/occurrences/{at}/skip",
                headers={**identity(workspace), **headers},
            )
            assert r.status_code == status, (at, r.text)
            assert r.json()["field"] == field
        # A one-off post has no occurrences.
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "once",
                "targets": [{"channel_id": str(x)}],
                "schedule": {"at": "2030-01-07T09:00:00"},
            },
            headers=identity(workspace),
        )
        once = r.json()["id"]
        r = await s.client.post(
            f"/v1/posts/{once}/occurrences/2030-01-07T09:00:00Z/skip",
            headers=identity(workspace),
        )
        assert r.status_code == 409


async def test_edit_one_occurrence_from_the_calendar(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        series = await _weekly(s, workspace, x)
        post_id = series["id"]
        r = await s.client.patch(
            f"/v1/posts/{post_id}/occurrences/2030-03-04T09:00:00Z",
            json={"text": "Special edition", "at": "2030-03-04T12:30:00"},
            headers=identity(workspace, "editor"),
        )
        assert r.status_code == 201, r.text
        single = r.json()
        assert single["id"] != post_id and single["series_id"] == post_id
        assert _z(single["occurrence_at"]) == "2030-03-04T09:00:00Z"
        assert single["text"] == "Special edition" and single["status"] == "scheduled"
        assert single["schedule"].get("rrule") is None
        [target] = single["targets"]
        assert _z(target["due_at"]) == "2030-03-04T12:30:00Z"  # London is on GMT in March

        items = (await _calendar(s, workspace))["items"]
        march_4 = [(i["post_id"], i["text"]) for i in items if i["due_at"][:10] == "2030-03-04"]
        assert march_4 == [(single["id"], "Special edition")]
        assert len(items) == len(MONDAYS)

        # The series edited afterwards: the detached one keeps its words, the skip holds.
        version = (await s.client.get(f"/v1/posts/{post_id}", headers=identity(workspace))).json()[
            "version"
        ]
        r = await s.client.patch(
            f"/v1/posts/{post_id}",
            json={"text": "Monday tips, new look"},
            headers={**identity(workspace), "If-Match": f'"{version}"'},
        )
        assert r.status_code == 200, r.text
        items = (await _calendar(s, workspace))["items"]
        texts = {i["due_at"][:10]: i["text"] for i in items}
        assert texts["2030-03-04"] == "Special edition"
        assert texts["2030-03-11"] == "Monday tips, new look"
        assert len(items) == len(MONDAYS)

        # Only the occurrence's own channels; an edit the network refuses changes nothing.
        other = await s.add_channel(workspace_id=workspace, network="linkedin")
        for body, field in [
            ({"targets": [{"channel_id": str(other)}]}, "targets[0].channel_id"),
            ({"text": "y" * 300}, "targets[0].text"),
            ({"at": "2020-01-01T09:00:00"}, "schedule.at"),
        ]:
            r = await s.client.patch(
                f"/v1/posts/{post_id}/occurrences/2030-03-11T09:00:00Z",
                json=body,
                headers=identity(workspace),
            )
            assert r.status_code == 422, r.text
            assert r.json()["field"] == field
        items = (await _calendar(s, workspace))["items"]
        assert len(items) == len(MONDAYS)
