"""A post that went out, fixed or pulled: what the scheduler asks of the networks, what it
refuses before anything changes, and how it records the publisher's answer."""

import uuid
from datetime import UTC, datetime

from services.scheduler.settings import SchedulerSettings
from shared.events import PostPublished, TargetChanged
from tests.conftest import identity
from tests.scheduler.support import (
    eventually,
    listening,
    publish,
    running_scheduler,
    wait_consuming,
)

ASKED = ("target.edit_requested", "target.delete_requested")
TOLD = ("post.edited", "post.deleted")


async def _out(s, workspace, *channels, text="going out", variants=None):
    """A post on `channels`, reported published on each by the publisher."""
    variants = variants or {}
    r = await s.client.post(
        "/v1/posts",
        json={
            "text": text,
            "targets": [{"channel_id": str(c), **variants.get(c, {})} for c in channels],
            "schedule": {"at": "2030-07-01T09:00:00", "timezone": "UTC"},
        },
        headers=identity(workspace),
    )
    assert r.status_code == 201, r.text
    post = r.json()
    await publish(
        s.settings.exchange_name,
        *[
            (
                PostPublished(
                    post_id=post["id"],
                    target_id=t["id"],
                    channel_id=t["channel_id"],
                    network=t["network"],
                    external_id=f"ext-{t['id'][:8]}",
                    published_at=datetime.now(UTC),
                ),
                workspace,
            )
            for t in post["targets"]
        ],
    )

    async def published():
        got = (await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))).json()
        assert got["status"] == "published", got["status"]
        return got

    await eventually(published)
    return (await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))).json()


async def _get(s, workspace, post):
    r = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
    assert r.status_code == 200, r.text
    return r.json()


def _answer(post, target, request_id, *, action, ok, error=None):
    return TargetChanged(
        post_id=post["id"],
        target_id=target["id"],
        request_id=request_id,
        action=action,
        ok=ok,
        at=datetime.now(UTC),
        error=error,
    )


async def test_an_edit_the_network_cannot_make_is_refused_and_nothing_changes(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        running_scheduler(settings) as s,
        listening(settings.exchange_name, *ASKED) as heard,
    ):
        await wait_consuming(s, "outcomes")
        facebook = await s.add_channel(workspace_id=workspace, network="facebook")
        instagram = await s.add_channel(workspace_id=workspace, network="instagram")
        post = await _out(
            s,
            workspace,
            facebook,
            instagram,
            variants={instagram: {"media": [{"url": "https://cdn.example.com/a.jpg"}]}},
        )
        on_instagram = next(t for t in post["targets"] if t["network"] == "instagram")

        # The base copy goes out on both: Instagram cannot take the change.
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"text": "fixed typo"},
            headers={**identity(workspace), "If-Match": f'"{post["version"]}"'},
        )
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["field"] == "targets[1].text"
        assert "Instagram's API cannot edit a published post" in problem["detail"]
        assert on_instagram["id"] in problem["detail"]
        assert [e["target_id"] for e in problem["errors"]] == [on_instagram["id"]]
        # Options and media cannot change either; schedule and tags are no longer the post's.
        for body, field in (
            ({"tags": ["late"]}, "tags"),
            ({"schedule": {"now": True}}, "schedule"),
            ({"targets": [{"channel_id": str(facebook), "options": {"link": "x"}}]}, None),
        ):
            r = await s.client.patch(
                f"/v1/posts/{post['id']}",
                json=body,
                headers={**identity(workspace), "If-Match": f'"{post["version"]}"'},
            )
            assert r.status_code == 422, r.text
            if field is not None:
                assert r.json()["field"] == field

        after = await _get(s, workspace, post)
        assert after["version"] == post["version"]
        assert after["targets"] == post["targets"]
        assert all(t["change"] is None for t in after["targets"])

        # Facebook's copy alone can change.
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"targets": [{"channel_id": str(facebook), "text": "fixed typo"}]},
            headers={**identity(workspace), "If-Match": f'"{post["version"]}"'},
        )
        assert r.status_code == 200, r.text
        await heard.wait_for(lambda h: bool(h.of("target.edit_requested")))
        [asked] = heard.of("target.edit_requested")
        on_facebook = next(t for t in post["targets"] if t["network"] == "facebook")
        assert asked.data["target_id"] == on_facebook["id"]
        assert asked.data["text"] == "fixed typo"
        assert asked.data["external_id"] == on_facebook["external_id"]
        assert asked.workspace_id == workspace


async def test_an_edit_is_asked_recorded_and_its_answer_recorded_once(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        running_scheduler(settings) as s,
        listening(settings.exchange_name, *ASKED, *TOLD) as heard,
    ):
        await wait_consuming(s, "outcomes")
        mastodon = await s.add_channel(workspace_id=workspace, network="mastodon")
        linkedin = await s.add_channel(workspace_id=workspace, network="linkedin")
        post = await _out(s, workspace, mastodon, linkedin, text="Teh launch")
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"text": "The launch"},
            headers={**identity(workspace, "editor"), "If-Match": f'"{post["version"]}"'},
        )
        assert r.status_code == 200, r.text
        asked = r.json()
        assert asked["version"] == post["version"] + 1
        assert r.headers["ETag"] == f'"{asked["version"]}"'
        for target in asked["targets"]:
            change = target["change"]
            assert change["action"] == "edit" and change["fields"] == {"text": "The launch"}
            assert change["by"] == "key-editor" and change["answered_at"] is None
            # Still what is live until the network says it took the change.
            assert target["text"] is None and target["edited_at"] is None

        await heard.wait_for(lambda h: len(h.of("target.edit_requested")) == 2)
        requests = {e.data["target_id"]: e.data for e in heard.of("target.edit_requested")}
        assert {r["request_id"] for r in requests.values()} == {
            t["change"]["request_id"] for t in asked["targets"]
        }
        assert len({r["request_id"] for r in requests.values()}) == 2  # one per target

        on_mastodon, on_linkedin = asked["targets"]
        ok = _answer(
            asked, on_mastodon, on_mastodon["change"]["request_id"], action="edit", ok=True
        )
        refused = _answer(
            asked,
            on_linkedin,
            on_linkedin["change"]["request_id"],
            action="edit",
            ok=False,
            error="rejected: the post is too old to edit",
        )
        stale = _answer(asked, on_mastodon, str(uuid.uuid4()), action="edit", ok=False)
        # The same answer twice (a redelivery) and one to a request nobody made.
        await publish(
            settings.exchange_name,
            (ok, workspace),
            (refused, workspace),
            (ok, workspace),
            (stale, workspace),
        )
        await heard.wait_for(lambda h: len(h.of("post.edited")) >= 2)

        got = await _get(s, workspace, post)
        by_id = {t["id"]: t for t in got["targets"]}
        done = by_id[on_mastodon["id"]]
        assert done["text"] == "The launch" and done["edited_at"] is not None
        assert done["remote_error"] is None and done["change"]["answered_at"] is not None
        failed = by_id[on_linkedin["id"]]
        assert failed["text"] is None and failed["edited_at"] is None
        assert failed["remote_error"] == "rejected: the post is too old to edit"
        assert got["status"] == "published"

        told = {e.data["on_network"]["target_id"]: e.data for e in heard.of("post.edited")}
        assert told[on_mastodon["id"]]["on_network"]["ok"] is True
        assert told[on_mastodon["id"]]["by"] == "key-editor"
        assert told[on_mastodon["id"]]["changed"] == ["text"]
        assert told[on_linkedin["id"]]["on_network"] == {
            "target_id": on_linkedin["id"],
            "channel_id": on_linkedin["channel_id"],
            "network": "linkedin",
            "request_id": on_linkedin["change"]["request_id"],
            "ok": False,
            "error": "rejected: the post is too old to edit",
        }

        # A later answer proves the duplicate and the stranger were handled, quietly.
        r = await s.client.delete(
            f"/v1/posts/{post['id']}",
            params={"target_id": on_mastodon["id"]},
            headers=identity(workspace),
        )
        assert r.status_code == 200, r.text
        request_id = next(
            t["change"]["request_id"] for t in r.json()["targets"] if t["id"] == on_mastodon["id"]
        )
        gone = _answer(asked, on_mastodon, request_id, action="delete", ok=True)
        await publish(settings.exchange_name, (gone, workspace))
        await heard.wait_for(lambda h: bool(h.of("post.deleted")))
        assert len(heard.of("post.edited")) == 2
        got = await _get(s, workspace, post)
        assert {t["id"]: t["deleted_at"] is not None for t in got["targets"]} == {
            on_mastodon["id"]: True,
            on_linkedin["id"]: False,
        }


async def test_delete_of_a_published_post_asks_each_network_or_is_refused(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        running_scheduler(settings) as s,
        listening(settings.exchange_name, *ASKED, *TOLD) as heard,
    ):
        await wait_consuming(s, "outcomes")
        x = await s.add_channel(workspace_id=workspace, network="x")
        bluesky = await s.add_channel(workspace_id=workspace, network="bluesky")
        post = await _out(s, workspace, x, bluesky)

        r = await s.client.delete(f"/v1/posts/{post['id']}", headers=identity(workspace))
        assert r.status_code == 200, r.text
        await heard.wait_for(lambda h: len(h.of("target.delete_requested")) == 2)
        asked = {e.data["target_id"]: e.data for e in heard.of("target.delete_requested")}
        assert set(asked) == {t["id"] for t in post["targets"]}
        for target in r.json()["targets"]:
            assert target["change"]["action"] == "delete"
            assert target["change"]["request_id"] == asked[target["id"]]["request_id"]
            assert asked[target["id"]]["external_id"] == target["external_id"]

        on_x = next(t for t in post["targets"] if t["network"] == "x")
        failed = _answer(
            post, on_x, asked[on_x["id"]]["request_id"], action="delete", ok=False, error="gone"
        )
        await publish(settings.exchange_name, (failed, workspace))
        await heard.wait_for(lambda h: bool(h.of("post.deleted")))
        [told] = heard.of("post.deleted")
        assert told.data["target_ids"] == [on_x["id"]]
        assert told.data["on_network"]["ok"] is False and told.data["on_network"]["error"] == "gone"
        got = await _get(s, workspace, post)
        x_now = next(t for t in got["targets"] if t["id"] == on_x["id"])
        assert x_now["deleted_at"] is None and x_now["remote_error"] == "gone"


async def test_delete_is_refused_where_a_network_cannot(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        running_scheduler(settings) as s,
        listening(settings.exchange_name, *ASKED) as heard,
    ):
        await wait_consuming(s, "outcomes")
        x = await s.add_channel(workspace_id=workspace, network="x")
        instagram = await s.add_channel(workspace_id=workspace, network="instagram")
        post = await _out(
            s,
            workspace,
            x,
            instagram,
            variants={instagram: {"media": [{"url": "https://cdn.example.com/a.jpg"}]}},
        )
        on_instagram = next(t for t in post["targets"] if t["network"] == "instagram")
        r = await s.client.delete(f"/v1/posts/{post['id']}", headers=identity(workspace))
        assert r.status_code == 422, r.text
        assert "Instagram's API cannot delete a published post" in r.json()["detail"]
        assert r.json()["field"] == "targets[1].channel_id"
        assert [e["target_id"] for e in r.json()["errors"]] == [on_instagram["id"]]
        after = await _get(s, workspace, post)
        assert after["version"] == post["version"]
        assert all(t["change"] is None for t in after["targets"])

        # The X target alone can go.
        on_x = next(t for t in post["targets"] if t["network"] == "x")
        r = await s.client.delete(
            f"/v1/posts/{post['id']}", params={"target_id": on_x["id"]}, headers=identity(workspace)
        )
        assert r.status_code == 200, r.text
        await heard.wait_for(lambda h: bool(h.of("target.delete_requested")))
        assert [e.data["target_id"] for e in heard.of("target.delete_requested")] == [on_x["id"]]


async def test_a_youtube_video_takes_a_new_title_and_description(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        running_scheduler(settings) as s,
        listening(settings.exchange_name, *ASKED) as heard,
    ):
        await wait_consuming(s, "outcomes")
        youtube = await s.add_channel(workspace_id=workspace, network="youtube")
        video = {
            "media": [{"url": "https://cdn.example.com/launch.mp4", "kind": "video"}],
            "options": {"title": "Launch"},
        }
        post = await _out(s, workspace, youtube, text="About the launch", variants={youtube: video})
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={
                "text": "All about the launch",
                "targets": [{"channel_id": str(youtube), "options": {"title": "The launch"}}],
            },
            headers={**identity(workspace), "If-Match": f'"{post["version"]}"'},
        )
        assert r.status_code == 200, r.text
        await heard.wait_for(lambda h: bool(h.of("target.edit_requested")))
        [asked] = heard.of("target.edit_requested")
        assert asked.data["title"] == "The launch"
        assert asked.data["description"] == "All about the launch"
        assert asked.data["text"] is None

        # A title over YouTube's limit is refused as a new video's would be.
        r = await s.client.patch(
            f"/v1/posts/{post['id']}",
            json={"targets": [{"channel_id": str(youtube), "options": {"title": "x" * 101}}]},
            headers={**identity(workspace), "If-Match": r.headers["ETag"]},
        )
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "targets[0].options.title"
        assert [e["code"] for e in r.json()["errors"]] == ["title_too_long"]
