"""Save a post as a template, make posts from it, duplicate a post."""

import uuid

import pytest

from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler


@pytest.fixture
def settings(make_settings):
    return make_settings(SchedulerSettings, run_workers=False)


async def _original(s, workspace):
    yt = await s.add_channel(workspace_id=workspace, network="youtube")
    x = await s.add_channel(workspace_id=workspace, network="x")
    r = await s.client.post(
        "/v1/posts",
        json={
            "text": "Weekly video",
            "media": [{"url": "https://cdn.example.com/v.mp4", "kind": "video"}],
            "targets": [
                {"channel_id": str(yt), "options": {"title": "This week"}},
                {"channel_id": str(x), "text": "New video is up", "media": []},
            ],
            "schedule": {"at": "2030-07-01T09:00:00"},
            "tags": ["video"],
            "campaign": "summer",
        },
        headers=identity(workspace),
    )
    assert r.status_code == 201, r.text
    return r.json(), yt, x


async def test_a_template_keeps_the_content_and_makes_new_posts(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        original, yt, x = await _original(s, workspace)
        r = await s.client.post(
            f"/v1/posts/{original['id']}/template",
            json={"name": "Weekly video"},
            headers=identity(workspace, "editor"),
        )
        assert r.status_code == 201, r.text
        template = r.json()
        assert r.headers["location"] == f"/v1/posts/templates/{template['id']}"
        assert "schedule" not in template["body"]
        assert template["body"]["campaign"] == "summer"
        variants = {t["channel_id"]: t for t in template["body"]["targets"]}
        assert variants[str(yt)]["options"] == {"title": "This week"}
        assert variants[str(x)]["text"] == "New video is up"

        # A draft by default; the fields given go over the template's.
        r = await s.client.post(
            f"/v1/posts/templates/{template['id']}/posts", headers=identity(workspace)
        )
        assert r.status_code == 201, r.text
        draft = r.json()
        assert draft["status"] == "draft" and draft["id"] != original["id"]
        assert draft["text"] == "Weekly video" and draft["tags"] == ["video"]
        targets = {t["channel_id"]: t for t in draft["targets"]}
        assert targets[str(yt)]["options"] == {"title": "This week"}
        assert targets[str(x)]["text"] == "New video is up" and targets[str(x)]["media"] == []

        r = await s.client.post(
            f"/v1/posts/templates/{template['id']}/posts",
            json={"text": "Weekly video #2", "schedule": {"at": "2030-07-08T09:00:00"}},
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
        second = r.json()
        assert second["status"] == "scheduled" and second["text"] == "Weekly video #2"
        assert {t["due_at"][:10] for t in second["targets"]} == {"2030-07-08"}

        # What the network refuses is refused as for any post, and nothing is made.
        r = await s.client.post(
            f"/v1/posts/templates/{template['id']}/posts",
            json={"targets": [{"channel_id": str(yt)}]},
            headers=identity(workspace),
        )
        assert r.status_code == 422 and r.json()["field"] == "targets[0].options.title", r.text

        r = await s.client.get("/v1/posts/templates", headers=identity(workspace))
        assert [t["id"] for t in r.json()["items"]] == [template["id"]]
        assert (await s.client.get("/v1/posts/templates", headers=identity(uuid.uuid4()))).json()[
            "items"
        ] == []
        r = await s.client.get(
            f"/v1/posts/templates/{template['id']}", headers=identity(uuid.uuid4())
        )
        assert r.status_code == 404
        r = await s.client.delete(
            f"/v1/posts/templates/{template['id']}", headers=identity(workspace)
        )
        assert r.status_code == 204
        r = await s.client.get(f"/v1/posts/templates/{template['id']}", headers=identity(workspace))
        assert r.status_code == 404
        r = await s.client.post(
            f"/v1/posts/{original['id']}/template", json={"name": ""}, headers=identity(workspace)
        )
        assert r.status_code == 422 and r.json()["field"] == "name"
        r = await s.client.post(
            f"/v1/posts/{original['id']}/template",
            json={"name": "x"},
            headers=identity(workspace, "analyst"),
        )
        assert r.status_code == 403


async def test_duplicate_a_post(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        original, yt, x = await _original(s, workspace)
        r = await s.client.post(
            f"/v1/posts/{original['id']}/duplicate", headers=identity(workspace)
        )
        assert r.status_code == 201, r.text
        copy = r.json()
        assert copy["id"] != original["id"] and copy["status"] == "draft"
        assert copy["text"] == original["text"] and copy["campaign"] == "summer"
        assert [t["channel_id"] for t in copy["targets"]] == [str(yt), str(x)]
        assert all(t["due_at"] is None for t in copy["targets"])

        r = await s.client.post(
            f"/v1/posts/{original['id']}/duplicate",
            json={"schedule": {"now": True}},
            headers=identity(workspace),
        )
        assert r.status_code == 201 and r.json()["status"] == "scheduled", r.text
        r = await s.client.post(f"/v1/posts/{uuid.uuid4()}/duplicate", headers=identity(workspace))
        assert r.status_code == 404
