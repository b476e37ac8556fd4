"""The post lifecycle facts a client can subscribe to: edited, deleted, failed, partially failed."""

import uuid
from datetime import UTC, datetime

from services.scheduler.settings import SchedulerSettings
from shared.events import PostPublished, PostPublishFailed
from tests.conftest import identity
from tests.scheduler.support import listening, publish, running_scheduler, wait_consuming

EVENTS = ("post.edited", "post.deleted", "post.failed", "post.partially_failed")


async def _scheduled(s, workspace, *channels):
    r = await s.client.post(
        "/v1/posts",
        json={
            "text": "going out",
            "targets": [{"channel_id": str(c)} for c in channels],
            "schedule": {"at": "2030-07-01T09:00:00", "timezone": "UTC"},
        },
        headers=identity(workspace),
    )
    assert r.status_code == 201, r.text
    return r.json()


def _published(post, target, workspace):
    return (
        PostPublished(
            post_id=post["id"],
            target_id=target["id"],
            channel_id=target["channel_id"],
            network=target["network"],
            external_id=f"ext-{target['id'][:8]}",
            published_at=datetime.now(UTC),
        ),
        workspace,
    )


def _failed(post, target, workspace):
    return (
        PostPublishFailed(
            post_id=post["id"],
            target_id=target["id"],
            channel_id=target["channel_id"],
            network=target["network"],
            error_class="rejected",
            error="the network said no",
            failed_at=datetime.now(UTC),
        ),
        workspace,
    )


async def test_outcomes_edits_and_deletions_are_announced(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        running_scheduler(settings) as s,
        listening(settings.exchange_name, *EVENTS) as heard,
    ):
        await wait_consuming(s, "outcomes")
        x = await s.add_channel(workspace_id=workspace, network="x")
        li = await s.add_channel(workspace_id=workspace, network="linkedin")

        mixed = await _scheduled(s, workspace, x, li)
        on_x, on_li = mixed["targets"]
        await publish(settings.exchange_name, _failed(mixed, on_x, workspace))
        # One target still open: nothing to say about the post yet.
        await publish(settings.exchange_name, _published(mixed, on_li, workspace))
        await heard.wait_for(lambda h: bool(h.of("post.partially_failed")))
        [partial] = heard.of("post.partially_failed")
        assert partial.data["post_id"] == mixed["id"]
        assert partial.workspace_id == workspace
        outcome = {t["target_id"]: t["status"] for t in partial.data["targets"]}
        assert outcome == {on_x["id"]: "failed", on_li["id"]: "published"}

        doomed = await _scheduled(s, workspace, x, li)
        a, b = doomed["targets"]
        await publish(
            settings.exchange_name, _failed(doomed, a, workspace), _failed(doomed, b, workspace)
        )
        await heard.wait_for(lambda h: bool(h.of("post.failed")))
        [failed] = heard.of("post.failed")
        assert failed.data["post_id"] == doomed["id"]
        assert {t["error"] for t in failed.data["targets"]} == {"rejected: the network said no"}

        # A redelivered-looking second report of the same failure says nothing new.
        await publish(settings.exchange_name, _failed(doomed, a, workspace))

        fine = await _scheduled(s, workspace, x)
        r = await s.client.patch(
            f"/v1/posts/{fine['id']}",
            json={"text": "better words", "tags": ["x"]},
            headers={**identity(workspace, "editor"), "If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        r = await s.client.delete(f"/v1/posts/{fine['id']}", headers=identity(workspace))
        assert r.status_code == 200, r.text
        await heard.wait_for(lambda h: bool(h.of("post.edited")) and bool(h.of("post.deleted")))
        [edited] = heard.of("post.edited")
        assert edited.data["post_id"] == fine["id"] and edited.data["post_version"] == 2
        assert edited.data["changed"] == ["tags", "text"] and edited.data["by"] == "key-editor"
        [deleted] = heard.of("post.deleted")
        assert deleted.data["target_ids"] == [fine["targets"][0]["id"]]

        # Wait for a later event to be sure the duplicate report was handled and was quiet.
        last = await _scheduled(s, workspace, x)
        await publish(settings.exchange_name, _failed(last, last["targets"][0], workspace))
        await heard.wait_for(lambda h: len(h.of("post.failed")) == 2)
        assert [e.data["post_id"] for e in heard.of("post.failed")] == [doomed["id"], last["id"]]
