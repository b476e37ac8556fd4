"""Approvals that fit a team: stages in order, and no approving your own post."""

import uuid

import pytest
from sqlalchemy import text

from services.scheduler.settings import SchedulerSettings
from shared.auth import PRINCIPAL_HEADER
from tests.conftest import identity
from tests.scheduler.support import running_scheduler


@pytest.fixture
def settings(make_settings):
    return make_settings(SchedulerSettings, run_workers=False)


def who(workspace, role, principal):
    return {**identity(workspace, role), PRINCIPAL_HEADER: principal}


async def test_stages_approve_in_order_and_an_edit_starts_over(settings):
    workspace = uuid.uuid4()
    owner = identity(workspace)
    editor = who(workspace, "editor", "member-ed")
    legal = who(workspace, "reviewer", "member-legal")
    other_reviewer = who(workspace, "reviewer", "member-rev")
    manager = who(workspace, "admin", "member-boss")
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, network="x")
        r = await s.client.put(
            "/v1/scheduler/settings",
            json={
                "approval_required": True,
                "approval_stages": [
                    {"name": "legal", "principals": ["member-legal"]},
                    {"name": "manager", "roles": ["admin", "owner"]},
                ],
            },
            headers=owner,
        )
        assert r.status_code == 200, r.text
        assert [st["name"] for st in r.json()["approval_stages"]] == ["legal", "manager"]
        r = await s.client.post(
            "/v1/posts",
            json={"text": "careful words", "targets": [{"channel_id": str(channel)}],
                  "schedule": {"at": "2030-07-01T09:00:00"}},
            headers=editor,
        )  # fmt: skip
        post = r.json()
        assert post["status"] == "in_review" and post["approval_stage"] == 0

        async def approve(headers, version):
            return await s.client.post(
                f"/v1/posts/{post['id']}/approve",
                json={"comment": "ok"},
                headers={**headers, "If-Match": f'"{version}"'},
            )

        # The manager cannot skip legal; another reviewer is not legal.
        r = await approve(manager, 1)
        assert r.status_code == 403 and r.json()["field"] == "stage", r.text
        assert (await approve(other_reviewer, 1)).status_code == 403
        r = await approve(legal, 1)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "in_review" and r.json()["approval_stage"] == 1
        # Legal's approval does not also count for the manager's stage.
        assert (await approve(legal, 2)).status_code == 403

        # An edit in review starts the stages over.
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"text": "careful words, changed"},
            headers={**editor, "If-Match": '"2"'},
        )
        assert r.status_code == 200 and r.json()["approval_stage"] == 0, r.text
        assert (await approve(manager, 3)).status_code == 403
        assert (await approve(legal, 3)).json()["approval_stage"] == 1
        r = await approve(manager, 4)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "scheduled"

        async with s.runtime.sessions() as session:
            rows = await session.execute(
                text("SELECT routing_key, body FROM scheduler.outbox ORDER BY id")
            )
            approvals = [row.body for row in rows if row.routing_key == "post.approved"]
        assert len(approvals) == 3
        assert b'"stage":"manager"' in approvals[-1] and b'"final":true' in approvals[-1]
        assert b'"final":false' in approvals[0]

        r = await s.client.put(
            "/v1/scheduler/settings",
            json={"approval_stages": [{"name": "a"}, {"name": "a"}]},
            headers=owner,
        )
        assert r.status_code == 422 and r.json()["field"] == "approval_stages[1].name"
        r = await s.client.put(
            "/v1/scheduler/settings",
            json={"approval_stages": [{"name": "x", "roles": ["editor"]}]},
            headers=owner,
        )
        assert r.status_code == 422


async def test_no_approving_your_own_post(settings):
    workspace = uuid.uuid4()
    owner = identity(workspace)
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, network="x")
        r = await s.client.put(
            "/v1/scheduler/settings", json={"forbid_self_approval": True}, headers=owner
        )
        assert r.json()["forbid_self_approval"] is True
        r = await s.client.post(
            "/v1/posts",
            json={"text": "mine", "targets": [{"channel_id": str(channel)}]},
            headers=owner,
        )
        post = r.json()
        r = await s.client.post(f"/v1/posts/{post['id']}/submit", headers=owner)
        assert r.status_code == 200
        r = await s.client.post(f"/v1/posts/{post['id']}/approve", headers=owner)
        assert r.status_code == 403 and r.json()["field"] == "post_id", r.text
        r = await s.client.post(
            f"/v1/posts/{post['id']}/approve", headers=who(workspace, "reviewer", "member-2")
        )
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text
