"""A post whose Instagram or Facebook target asks for a format it cannot be is refused when it
is created, naming the field and the reason, and nothing is saved."""

import uuid

import pytest

from services.scheduler.models import Post
from services.scheduler.settings import SchedulerSettings
from tests.conftest import identity
from tests.scheduler.support import running_scheduler

VIDEO = {"url": "https://cdn.example.com/reel.mp4", "kind": "video"}
IMAGE = {"url": "https://cdn.example.com/story.jpg", "kind": "image"}


@pytest.fixture
def settings(make_settings):
    return make_settings(SchedulerSettings, run_workers=False)


async def test_story_text_and_a_reel_option_facebook_lacks_are_refused(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        instagram = await s.add_channel(workspace_id=workspace, network="instagram")
        facebook = await s.add_channel(workspace_id=workspace, network="facebook")
        body = {
            "text": "Words no one would see",
            "media": [IMAGE],
            "targets": [{"channel_id": str(instagram), "options": {"format": "story"}}],
            "schedule": {"at": "2030-12-02T09:00:00"},
        }
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        assert r.status_code == 422, r.text
        problem = r.json()
        print(r.json())
        assert "targets[0]" in r.text and "shows no text" in r.text, problem

        body["targets"] = [
            {"channel_id": str(facebook), "media": [VIDEO],
             "options": {"format": "reel", "share_to_feed": False}}
        ]
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "targets[0].options.share_to_feed"
        assert await s.count(Post) == 0

        body["text"] = ""
        body["targets"] = [
            {"channel_id": str(instagram), "options": {"format": "story"}},
            {"channel_id": str(facebook), "media": [VIDEO], "options": {"format": "reel"}},
        ]
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        assert r.status_code == 201, r.text
