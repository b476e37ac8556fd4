"""Editing a recurring post: the planned occurrences change, the claimed ones keep theirs."""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from services.scheduler.models import Target
from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import listening, running_scheduler

LONDON = ZoneInfo("Europe/London")
WEEKLY = {
    "rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=6",
    "at": "2030-03-04T09:00:00",
}


def by_id(post: dict) -> dict[str, dict]:
    return {t["id"]: t for t in post["targets"]}


async def test_editing_a_series_replans_what_is_not_claimed_and_keeps_the_rest(make_settings):
    settings = make_settings(SchedulerSettings, recurrence_horizon_days=4000)
    workspace = uuid.uuid4()
    headers = identity(workspace)
    async with (
        listening(settings.exchange_name, "post.scheduled", "post.canceled") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace, timezone="Europe/London")
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "weekly tips",
                "targets": [{"channel_id": str(channel)}],
                "schedule": WEEKLY,
            },
            headers=headers,
        )
        assert r.status_code == 201, r.text
        post = r.json()
        pid = post["id"]
        mondays = sorted(post["targets"], key=lambda t: t["due_at"])
        assert len(mondays) == 6
        # The first occurrence went out and the second is being published, as the dispatcher
        # and the publisher would have recorded it.
        done, busy = mondays[0]["id"], mondays[1]["id"]
        async with s.runtime.sessions() as session, session.begin():
            await session.execute(
                update(Target)
                .where(Target.id == done)
                .values(status="published", external_id="1800", url="https://x.com/i/1800")
            )
            await session.execute(
                update(Target).where(Target.id == busy).values(status="publishing")
            )
        version = (await s.client.get(f"/v1/posts/{pid}", headers=headers)).json()["version"]

        # New copy and a new rule: Tuesdays at 10:00.
        tuesdays = {"rrule": "FREQ=WEEKLY;BYDAY=TU;COUNT=5", "at": "2030-03-19T10:00:00"}
        r = await s.client.patch(
            f"/v1/posts/{pid}",
            json={"text": "weekly tips, now on Tuesdays", "schedule": tuesdays},
            headers={**headers, "If-Match": f'"{version}"'},
        )
        assert r.status_code == 200, r.text
        edited = r.json()
        assert edited["version"] == version + 1
        assert edited["text"] == "weekly tips, now on Tuesdays"
        assert edited["schedule"]["rrule"] == tuesdays["rrule"]
        targets = by_id(edited)
        # The claimed occurrences are untouched and keep the copy they went out with.
        assert targets[done]["status"] == "published"
        assert targets[done]["external_id"] == "1800"
        assert targets[done]["due_at"] == mondays[0]["due_at"]
        assert targets[done]["text"] == "weekly tips"
        assert targets[busy]["status"] == "publishing"
        assert targets[busy]["text"] == "weekly tips"
        # The planned Mondays are gone; five Tuesdays at 10:00 London time replace them.
        planned = sorted(
            (t for t in edited["targets"] if t["status"] == "scheduled"),
            key=lambda t: t["due_at"],
        )
        assert len(edited["targets"]) == 2 + 5
        assert [t["local_due_at"][:16] for t in planned] == [
            f"2030-{d}T10:00" for d in ("03-19", "03-26", "04-02", "04-09", "04-16")
        ]
        # London changes to summer time on 31 March: 10:00Z, then 09:00Z.
        assert [t["due_at"][11:16] for t in planned] == ["10:00"] * 2 + ["09:00"] * 3
        assert all(t["text"] is None for t in planned)  # the post's (new) copy
        removed = {t["id"] for t in mondays[2:]}
        assert not removed & set(targets)

        await heard.wait_for(
            lambda h: len(h.of("post.canceled")) == 1 and len(h.of("post.scheduled")) == 2
        )
        assert set(map(str, heard.of("post.canceled")[0].data["target_ids"])) == removed
        rescheduled = heard.of("post.scheduled")[1].data["targets"]
        assert {str(t["target_id"]) for t in rescheduled} == {t["id"] for t in planned}

        # A text-only edit keeps every planned occurrence (and its id) where it is.
        r = await s.client.patch(
            f"/v1/posts/{pid}",
            json={"text": "third copy"},
            headers={**headers, "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        again = by_id(r.json())
        assert set(again) == set(targets)
        assert {i: t["due_at"] for i, t in again.items()} == {
            i: t["due_at"] for i, t in targets.items()
        }
        assert again[done]["text"] == "weekly tips"

        # A variant for the channel reaches every planned occurrence, not the claimed ones.
        r = await s.client.patch(
            f"/v1/posts/{pid}",
            json={"targets": [{"channel_id": str(channel), "text": "the X variant"}]},
            headers={**headers, "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        variant = by_id(r.json())
        assert set(variant) == set(targets)
        assert {variant[t["id"]]["text"] for t in planned} == {"the X variant"}
        assert variant[done]["text"] == "weekly tips"
        assert variant[busy]["text"] == "weekly tips"

        # Two edits based on the same version: the second is refused.
        stale = r.headers["etag"]
        ok = await s.client.patch(
            f"/v1/posts/{pid}", json={"tags": ["a"]}, headers={**headers, "If-Match": stale}
        )
        lost = await s.client.patch(
            f"/v1/posts/{pid}", json={"tags": ["b"]}, headers={**headers, "If-Match": stale}
        )
        assert ok.status_code == 200 and lost.status_code == 409
        assert lost.json()["field"] == "version"

        # A bad rule is refused naming the field, and nothing changes.
        r = await s.client.patch(
            f"/v1/posts/{pid}",
            json={"schedule": {"rrule": "FREQ=SOMETIMES", "at": "2030-03-19T10:00:00"}},
            headers={**headers, "If-Match": ok.headers["etag"]},
        )
        assert r.status_code == 422 and r.json()["field"] == "schedule.rrule"
        unchanged = (await s.client.get(f"/v1/posts/{pid}", headers=headers)).json()
        assert unchanged["version"] == ok.json()["version"]
        assert set(by_id(unchanged)) == set(targets)


async def test_a_series_can_become_a_one_off_post_keeping_its_past(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False, recurrence_horizon_days=4000)
    workspace = uuid.uuid4()
    headers = identity(workspace)
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, timezone="Europe/London")
        r = await s.client.post(
            "/v1/posts",
            json={"text": "tips", "targets": [{"channel_id": str(channel)}], "schedule": WEEKLY},
            headers=headers,
        )
        post = r.json()
        first = min(post["targets"], key=lambda t: t["due_at"])["id"]
        async with s.runtime.sessions() as session, session.begin():
            await session.execute(
                update(Target).where(Target.id == first).values(status="published")
            )
        version = (await s.client.get(f"/v1/posts/{post['id']}", headers=headers)).json()["version"]
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"schedule": {"at": "2030-06-01T12:00:00"}},
            headers={**headers, "If-Match": f'"{version}"'},
        )
        assert r.status_code == 200, r.text
        edited = r.json()
        assert edited["schedule"] == {"at": "2030-06-01T12:00:00"}
        statuses = sorted((t["status"], t["local_due_at"][:16]) for t in edited["targets"])
        assert statuses == [("published", "2030-03-04T09:00"), ("scheduled", "2030-06-01T12:00")]


async def test_a_one_off_post_becomes_a_series_until_it_is_claimed(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False, recurrence_horizon_days=4000)
    workspace = uuid.uuid4()
    headers = identity(workspace)
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, timezone="Europe/London")
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "once",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"at": "2030-03-04T09:00:00"},
            },
            headers=headers,
        )
        post = r.json()
        only = post["targets"][0]["id"]
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"schedule": WEEKLY},
            headers={**headers, "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        targets = r.json()["targets"]
        assert len(targets) == 6
        # The occurrence at the one-off's instant keeps its row.
        assert only in {t["id"] for t in targets}

        async with s.runtime.sessions() as session, session.begin():
            await session.execute(
                update(Target).where(Target.id == only).values(status="published")
            )
        etag = (await s.client.get(f"/v1/posts/{post['id']}", headers=headers)).headers["etag"]
        # Once an occurrence went out, a series is still editable…
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"text": "weekly"},
            headers={**headers, "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        kept = by_id(r.json())[only]
        assert kept["status"] == "published" and kept["text"] == "once"
        # …and the instant that went out is not planned a second time.
        instants = [t["due_at"] for t in r.json()["targets"]]
        assert len(instants) == len(set(instants)) == 6


async def test_an_edited_series_goes_out_with_the_new_copy(make_settings):
    settings = make_settings(SchedulerSettings, recurrence_horizon_days=1)
    workspace = uuid.uuid4()
    headers = identity(workspace)
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace, timezone="Europe/London")
        r = await s.client.post(
            "/v1/posts",
            json={"text": "old", "targets": [{"channel_id": str(channel)}], "schedule": WEEKLY},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        # The edit moves the series' start to a moment from now (the dispatcher takes it).
        start = (datetime.now(LONDON) + timedelta(seconds=2)).replace(tzinfo=None, microsecond=0)
        r = await s.client.patch(
            f"/v1/posts/{r.json()['id']}",
            json={
                "text": "new",
                "schedule": {"rrule": "FREQ=DAILY;COUNT=3", "at": start.isoformat()},
            },
            headers={**headers, "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        await heard.wait_for(lambda h: len(h.of("post.due")) == 1, within=15)
        due = heard.of("post.due")[0].data
        assert due["text"] == "new"
        assert datetime.fromisoformat(str(due["due_at"])).astimezone(UTC) == start.replace(
            tzinfo=LONDON
        ).astimezone(UTC)


async def test_an_edit_by_an_editor_sends_the_series_back_to_review(make_settings):
    settings = make_settings(SchedulerSettings, recurrence_horizon_days=4000)
    workspace = uuid.uuid4()
    editor, reviewer = identity(workspace, "editor"), identity(workspace, "reviewer")
    async with (
        listening(settings.exchange_name, "post.scheduled", "post.canceled") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace, timezone="Europe/London")
        r = await s.client.post(
            "/v1/posts",
            json={"text": "tips", "targets": [{"channel_id": str(channel)}], "schedule": WEEKLY},
            headers=identity(workspace, "owner"),
        )
        assert r.json()["status"] == "scheduled"
        pid = r.json()["id"]
        first = min(r.json()["targets"], key=lambda t: t["due_at"])["id"]
        async with s.runtime.sessions() as session, session.begin():
            await session.execute(
                update(Target).where(Target.id == first).values(status="published")
            )
        await s.client.put(
            "/v1/scheduler/settings",
            json={"approval_required": True},
            headers=identity(workspace, "admin"),
        )
        etag = (await s.client.get(f"/v1/posts/{pid}", headers=editor)).headers["etag"]
        r = await s.client.patch(
            f"/v1/posts/{pid}", json={"text": "tips v2"}, headers={**editor, "If-Match": etag}
        )
        assert r.status_code == 200, r.text
        statuses = {t["id"]: t["status"] for t in r.json()["targets"]}
        assert statuses.pop(first) == "published"
        assert set(statuses.values()) == {"in_review"}
        await heard.wait_for(lambda h: len(h.of("post.canceled")) == 1)
        assert set(map(str, heard.of("post.canceled")[0].data["target_ids"])) == set(statuses)

        r = await s.client.post(f"/v1/posts/{pid}/approve", headers=reviewer)
        assert r.status_code == 200, r.text
        after = {t["id"]: t["status"] for t in r.json()["targets"]}
        assert after.pop(first) == "published"
        assert set(after.values()) == {"scheduled"}
        await heard.wait_for(lambda h: len(h.of("post.scheduled")) == 2)
        again = heard.of("post.scheduled")[1].data["targets"]
        assert {str(t["target_id"]) for t in again} == set(after)
        steps = (await s.client.get(f"/v1/posts/{pid}/transitions", headers=editor)).json()
        assert [(t["from_status"], t["to_status"]) for t in steps][-3:] == [
            ("scheduled", "in_review"),
            ("in_review", "approved"),
            ("approved", "scheduled"),
        ]
