import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.scheduler.models import Post, Target
from services.scheduler.settings import SchedulerSettings
from shared.events import PostPublished, PostPublishFailed
from tests.conftest import identity
from tests.scheduler.support import (
    eventually,
    listening,
    publish,
    running_scheduler,
    wait_consuming,
)

FUTURE = {"at": "2030-05-01T09:00:00", "timezone": "UTC"}


def soon(seconds: float) -> dict[str, str]:
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return {"at": at.replace(tzinfo=None).isoformat(), "timezone": "UTC"}


async def test_approval_by_role_with_every_transition_recorded(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    events = ("post.approved", "post.rejected", "post.scheduled")
    async with (
        listening(settings.exchange_name, "audit.recorded", "post.edited") as audited,
        listening(settings.exchange_name, *events) as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace)
        editor, reviewer = identity(workspace, "editor"), identity(workspace, "reviewer")
        r = await s.client.put(
            "/v1/scheduler/settings", json={"approval_required": True}, headers=editor
        )
        assert r.status_code == 403
        r = await s.client.put(
            "/v1/scheduler/settings",
            json={"approval_required": True},
            headers=identity(workspace, "admin"),
        )
        assert r.json() == {
            "approval_required": True,
            "missed_after_seconds": 3600,
            "approval_stages": [],
            "forbid_self_approval": False,
        }

        body = {"text": "launch", "targets": [{"channel_id": str(channel)}], "schedule": FUTURE}
        r = await s.client.post("/v1/posts", json=body, headers=editor)
        post = r.json()
        assert r.status_code == 201 and post["status"] == "in_review"
        assert post["targets"][0]["status"] == "in_review"
        pid = post["id"]

        r = await s.client.post(f"/v1/posts/{pid}/approve", headers=editor)
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"

        r = await s.client.post(
            f"/v1/posts/{pid}/reject", json={"comment": "tone it down"}, headers=reviewer
        )
        assert r.status_code == 200 and r.json()["status"] == "changes_requested"

        r = await s.client.patch(
            f"/v1/posts/{pid}",
            json={"text": "launch (calmer)"},
            headers={**editor, "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "changes_requested"
        r = await s.client.post(f"/v1/posts/{pid}/submit", headers=editor)
        assert r.json()["status"] == "in_review"
        r = await s.client.post(
            f"/v1/posts/{pid}/approve", json={"comment": "good"}, headers=reviewer
        )
        assert r.status_code == 200 and r.json()["status"] == "scheduled"
        assert r.json()["targets"][0]["status"] == "scheduled"

        r = await s.client.get(f"/v1/posts/{pid}/transitions", headers=editor)
        steps = [(t["from_status"], t["to_status"], t["by"], t["comment"]) for t in r.json()]
        assert steps == [
            (None, "in_review", "key-editor", None),
            ("in_review", "changes_requested", "key-reviewer", "tone it down"),
            ("changes_requested", "in_review", "key-editor", None),
            ("in_review", "approved", "key-reviewer", "good"),
            ("approved", "scheduled", "key-reviewer", None),
        ]
        await heard.wait_for(lambda h: len(h.envelopes) == 3)
        assert [e.type for e in heard.envelopes] == [
            "post.rejected",
            "post.approved",
            "post.scheduled",
        ]
        assert heard.of("post.rejected")[0].data["comment"] == "tone it down"

        # Someone who may approve plans directly.
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace, "owner"))
        assert r.json()["status"] == "scheduled"

        # Every step is in the audit log, with who took it; refused calls record nothing.
        await audited.wait_for(lambda h: len(h.of("audit.recorded")) == 6)
        entries = [
            (e.data["action"], e.data["actor"], e.data["details"]["status"])
            for e in audited.of("audit.recorded")
        ]
        assert entries == [
            ("post.created", "key-editor", "in_review"),
            ("post.rejected", "key-reviewer", "changes_requested"),
            ("post.edited", "key-editor", "changes_requested"),
            ("post.submitted", "key-editor", "in_review"),
            ("post.approved", "key-reviewer", "scheduled"),
            ("post.created", "key-owner", "scheduled"),
        ]
        assert {e.data["resource_id"] for e in audited.of("audit.recorded")[:5]} == {pid}
        assert {e.workspace_id for e in audited.envelopes} == {workspace}
        # The edit is also a public event, for clients' webhooks.
        [edited] = audited.of("post.edited")
        assert edited.data["post_id"] == pid and edited.data["changed"] == ["text"]
        assert edited.data["by"] == "key-editor"
        assert edited.data["status"] == "changes_requested"


async def test_publish_results_are_audited_as_the_platform(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "audit.recorded") as audited,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace)
        body = {"text": "hi", "targets": [{"channel_id": str(channel)}], "schedule": FUTURE}
        post = (await s.client.post("/v1/posts", json=body, headers=identity(workspace))).json()
        target = post["targets"][0]
        await wait_consuming(s, "outcomes")
        facts = {
            "post_id": post["id"],
            "target_id": target["id"],
            "channel_id": str(channel),
            "network": target["network"],
        }
        now = datetime.now(UTC)
        await publish(
            settings.exchange_name,
            (PostPublished(**facts, external_id="1", published_at=now), workspace),
            (
                PostPublishFailed(**facts, error_class="Refused", error="no", failed_at=now),
                workspace,
            ),
        )
        await audited.wait_for(lambda h: len(h.envelopes) == 3)
        results = [e.data for e in audited.envelopes[1:]]
        assert sorted(r["action"] for r in results) == ["post.publish_failed", "post.published"]
        for r in results:
            assert (r["actor"], r["actor_role"]) == ("system:scheduler", "system")
            assert r["resource_id"] == post["id"] and r["details"]["target_id"] == target["id"]


async def test_concurrent_edits_one_wins_one_conflicts(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace)
        r = await s.client.post(
            "/v1/posts",
            json={"text": "v1", "targets": [{"channel_id": str(channel)}], "schedule": FUTURE},
            headers=identity(workspace),
        )
        pid, tag = r.json()["id"], r.headers["etag"]
        r = await s.client.patch(
            f"/v1/posts/{pid}", json={"text": "x"}, headers=identity(workspace)
        )
        assert r.status_code == 428

        results = await asyncio.gather(
            *(
                s.client.patch(
                    f"/v1/posts/{pid}",
                    json={"text": text},
                    headers={**identity(workspace), "If-Match": tag},
                )
                for text in ("mine", "theirs")
            )
        )
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409)
        assert loser.headers["content-type"] == "application/problem+json"
        assert loser.json()["current_version"] == 2
        winner = next(r for r in results if r.status_code == 200)
        got = await s.client.get(f"/v1/posts/{pid}", headers=identity(workspace))
        assert got.json()["text"] == winner.json()["text"]
        assert got.json()["version"] == 2


async def test_reschedule_and_change_channels_until_claimed(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(
            settings.exchange_name, "post.rescheduled", "post.scheduled", "post.canceled"
        ) as heard,
        running_scheduler(settings) as s,
    ):
        x = await s.add_channel(workspace_id=workspace, network="x")
        li = await s.add_channel(
            workspace_id=workspace, network="linkedin", timezone="Europe/London"
        )
        r = await s.client.post(
            "/v1/posts",
            json={"text": "hi", "targets": [{"channel_id": str(x)}], "schedule": FUTURE},
            headers=identity(workspace),
        )
        post = r.json()
        x_target = post["targets"][0]["id"]
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={
                "schedule": {"at": "2030-05-02T10:00:00", "timezone": "Europe/London"},
                "targets": [
                    {"channel_id": str(x)},
                    {"channel_id": str(li), "text": "for LinkedIn"},
                ],
            },
            headers={**identity(workspace), "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        targets = {t["channel_id"]: t for t in r.json()["targets"]}
        assert targets[str(x)]["id"] == x_target  # kept, not replaced
        assert targets[str(x)]["due_at"].startswith("2030-05-02T09:00:00")
        assert targets[str(li)]["text"] == "for LinkedIn"
        await heard.wait_for(lambda h: len(h.envelopes) == 3)
        assert heard.of("post.rescheduled")[0].data["targets"][0]["target_id"] == x_target

        # Take LinkedIn off again: its target leaves the calendar.
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"targets": [{"channel_id": str(x)}], "version": r.json()["version"]},
            headers=identity(workspace),
        )
        assert r.status_code == 200, r.text
        await heard.wait_for(lambda h: len(h.of("post.canceled")) == 1)
        assert heard.of("post.canceled")[0].data["target_ids"] == [targets[str(li)]["id"]]

        # Due now: once the dispatcher claims it, edits and cancels are refused.
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"schedule": {"now": True}},
            headers={**identity(workspace), "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200

        async def claimed() -> None:
            got = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
            assert got.json()["status"] == "publishing"

        await eventually(claimed)
        got = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"text": "too late"},
            headers={**identity(workspace), "If-Match": got.headers["etag"]},
        )
        assert r.status_code == 409 and r.json()["field"] == "targets"
        r = await s.client.delete(f"/v1/posts/{post['id']}", headers=identity(workspace))
        assert r.status_code == 409


async def test_cancel_keeps_a_post_from_going_out(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due", "post.canceled") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace)
        r = await s.client.post(
            "/v1/posts",
            json={"text": "oops", "targets": [{"channel_id": str(channel)}], "schedule": soon(1.5)},
            headers=identity(workspace),
        )
        pid = r.json()["id"]
        r = await s.client.delete(f"/v1/posts/{pid}", headers=identity(workspace, "reviewer"))
        assert r.status_code == 403
        r = await s.client.delete(
            f"/v1/posts/{pid}", headers={**identity(workspace), "If-Match": '"1"'}
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "canceled"
        assert r.json()["targets"][0]["status"] == "canceled"
        # Time passing is the check: the post was due 1.5 s after it was made, and canceled
        # it must stay silent past that.
        await asyncio.sleep(2.5)
        assert heard.of("post.due") == []
        assert len(heard.of("post.canceled")) == 1
        r = await s.client.delete(f"/v1/posts/{pid}", headers=identity(workspace))
        assert r.status_code == 409


async def test_approval_after_the_planned_time_asks_for_a_new_one(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False, default_approval_required=True)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace)
        r = await s.client.post(
            "/v1/posts",
            json={"text": "t", "targets": [{"channel_id": str(channel)}], "schedule": FUTURE},
            headers=identity(workspace, "editor"),
        )
        assert r.json()["status"] == "in_review"
        # The review took longer than the time left: the planned time is now in the past.
        async with s.runtime.sessions() as session, session.begin():
            target = await session.get(Target, uuid.UUID(r.json()["targets"][0]["id"]))
            target.due_at = datetime.now(UTC) - timedelta(minutes=1)
        r = await s.client.post(
            f"/v1/posts/{r.json()['id']}/approve", headers=identity(workspace, "reviewer")
        )
        assert r.status_code == 409 and r.json()["field"] == "schedule.at"


async def test_validate_is_a_dry_run_with_lengths_and_problems(make_settings):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        x = await s.add_channel(workspace_id=workspace, network="x")
        bsky = await s.add_channel(workspace_id=workspace, network="bluesky")
        # A URL counts 23 on X; the family emoji is one grapheme on Bluesky, 2 on X.
        text = "שָׁלוֹם 👨‍👩‍👧‍👦 https://example.com/a/very/long/path/that/keeps/going"
        r = await s.client.post(
            "/v1/posts/validate",
            json={
                "text": text,
                "targets": [{"channel_id": str(x)}, {"channel_id": str(bsky), "text": "é" * 301}],
            },
            headers=identity(workspace),
        )
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["valid"] is False
        on_x, on_bsky = result["targets"]
        assert on_x["limit"] == 280 and on_x["problems"] == [] and on_x["length"] < 60
        assert on_bsky["length"] == 301 and on_bsky["limit"] == 300
        assert on_bsky["problems"][0]["code"] == "text_too_long"
        assert await s.count(Post) == 0


@pytest.mark.parametrize(
    ("role", "may_approve"),
    [("owner", True), ("admin", True), ("reviewer", True), ("editor", False), ("analyst", False)],
)
async def test_only_reviewers_admins_and_owners_approve(make_settings, role, may_approve):
    settings = make_settings(SchedulerSettings, run_workers=False)
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace)
        await s.client.put(
            "/v1/scheduler/settings",
            json={"approval_required": True},
            headers=identity(workspace, "admin"),
        )
        body = {"text": "launch", "targets": [{"channel_id": str(channel)}], "schedule": FUTURE}
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace, "editor"))
        assert r.json()["status"] == "in_review"
        pid = r.json()["id"]
        r = await s.client.post(
            f"/v1/posts/{pid}/approve", json={"comment": "ok"}, headers=identity(workspace, role)
        )
        got = (await s.client.get(f"/v1/posts/{pid}", headers=identity(workspace))).json()
        if may_approve:
            assert r.status_code == 200, r.text
            assert got["status"] == "scheduled"
        else:
            assert r.status_code == 403
            assert r.headers["content-type"] == "application/problem+json"
            # Nothing changed: still waiting for a reviewer, same version.
            assert got["status"] == "in_review" and got["version"] == 1
