import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.scheduler.models import Post, Target
from services.scheduler.settings import SchedulerSettings
from shared.auth import INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER
from tests.conftest import INTERNAL_TOKEN, identity
from tests.scheduler.support import listening, running_scheduler
from tests.support.servers import serve


@pytest.fixture
def settings(make_settings):
    # API tests: no dispatcher, so nothing moves under the assertions.
    return make_settings(SchedulerSettings, run_workers=False)


async def test_scheduled_post_is_created_and_read_back(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        jerusalem = await s.add_channel(workspace_id=workspace, timezone="Asia/Jerusalem")
        body = {
            "text": "base copy",
            "media": [{"url": "https://cdn.example.com/a.jpg", "kind": "image", "alt": "a"}],
            "targets": [
                {
                    "channel_id": str(jerusalem),
                    "text": "variant for X",
                    "options": {"first_comment": "more in the thread"},
                },
            ],
            "schedule": {"at": "2030-12-02T09:00:00"},
            "tags": ["launch"],
            "campaign": "winter",
        }
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        assert r.status_code == 201, r.text
        post = r.json()
        assert post["status"] == "scheduled" and post["version"] == 1
        assert r.headers["etag"] == '"1"'
        [target] = post["targets"]
        assert set(target) >= {
            "id",
            "channel_id",
            "network",
            "status",
            "due_at",
            "published_at",
            "external_id",
            "url",
            "error",
        }
        assert target["network"] == "x" and target["status"] == "scheduled"
        # 09:00 in Jerusalem (UTC+2 in December), the channel's zone as no zone was given.
        assert datetime.fromisoformat(target["due_at"]) == datetime(2030, 12, 2, 7, tzinfo=UTC)
        assert target["timezone"] == "Asia/Jerusalem"
        assert target["local_due_at"].startswith("2030-12-02T09:00:00")

        got = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(workspace))
        assert got.status_code == 200
        assert got.json() == post
        other = await s.client.get(f"/v1/posts/{post['id']}", headers=identity(uuid.uuid4()))
        assert other.status_code == 404
        assert other.headers["content-type"] == "application/problem+json"


async def test_explicit_zone_wins_and_workspace_zone_is_the_last_default(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, timezone="")
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "hi",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"at": "2030-07-01T09:00:00"},
            },
            headers=identity(workspace, timezone="America/New_York"),
        )
        assert r.status_code == 201, r.text
        assert r.json()["targets"][0]["due_at"].startswith("2030-07-01T13:00:00")
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "hi",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"at": "2030-07-01T09:00:00", "timezone": "Europe/London"},
            },
            headers=identity(workspace, timezone="America/New_York"),
        )
        assert r.json()["targets"][0]["due_at"].startswith("2030-07-01T08:00:00")


async def test_post_without_schedule_is_a_draft_and_emits_nothing_but_its_audit_entry(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace, network="bluesky")
        r = await s.client.post(
            "/v1/posts",
            json={"text": "later", "targets": [{"channel_id": str(channel)}]},
            headers=identity(workspace),
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "draft"
        assert r.json()["targets"][0]["due_at"] is None
        # No post event (nothing is due); the creation is only in the audit log.
        async with s.runtime.sessions() as session:
            outbox = s.runtime.outbox.table
            keys = (await session.execute(select(outbox.c.routing_key))).scalars().all()
        assert keys == ["audit.recorded"]


async def test_scheduling_writes_post_scheduled_through_the_outbox(make_settings):
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.scheduled") as heard,
        running_scheduler(settings) as s,
    ):
        channel = await s.add_channel(workspace_id=workspace)
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "hi",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"at": "2030-01-01T10:00:00", "timezone": "UTC"},
            },
            headers=identity(workspace),
        )
        assert r.status_code == 201
        await heard.wait_for(lambda h: len(h.of("post.scheduled")) == 1)
        [envelope] = heard.of("post.scheduled")
        assert envelope.workspace_id == workspace
        assert envelope.data["post_id"] == r.json()["id"]
        assert envelope.data["targets"][0]["channel_id"] == str(channel)


BAD_INPUT = [
    # (what, body changes, expected field)
    ("unknown channel", {"targets": [{"channel_id": str(uuid.uuid4())}]}, "targets[0].channel_id"),
    (
        "time in the past",
        {"schedule": {"at": "2020-01-01T09:00:00", "timezone": "UTC"}},
        "schedule.at",
    ),
    (
        "bad zone",
        {"schedule": {"at": "2030-01-01T09:00:00", "timezone": "Mars/Olympus"}},
        "schedule.timezone",
    ),
    ("two ways to schedule", {"schedule": {"at": "2030-01-01T09:00:00", "now": True}}, "schedule"),
    ("no targets", {"targets": []}, "targets"),
    ("not a uuid", {"targets": [{"channel_id": "nope"}]}, "targets[0].channel_id"),
    ("variant over X's limit", {"targets": "X-LONG"}, "targets[0].text"),
    (
        "media kind",
        {"media": [{"url": "https://a.example/x", "kind": "hologram"}]},
        "media[0].kind",
    ),
]


@pytest.mark.parametrize(("what", "changes", "field"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
async def test_bad_input_is_refused_with_the_field_and_nothing_saved(
    settings, what, changes, field
):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace)
        body = {
            "text": "hello",
            "targets": [{"channel_id": str(channel)}],
            "schedule": {"at": "2030-01-01T09:00:00", "timezone": "UTC"},
        }
        if changes.get("targets") == "X-LONG":
            changes = {"targets": [{"channel_id": str(channel), "text": "a" * 281}]}
        body.update(changes)
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field, r.json()
        assert await s.count(Post) == 0 and await s.count(Target) == 0
        assert await s.runtime.relay.backlog() == 0


async def test_channel_of_another_workspace_is_refused(settings):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    async with running_scheduler(settings) as s:
        my_channel = await s.add_channel(workspace_id=mine)
        their_channel = await s.add_channel(workspace_id=theirs)
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "hi",
                "targets": [{"channel_id": str(my_channel)}, {"channel_id": str(their_channel)}],
                "schedule": {"now": True},
            },
            headers=identity(mine),
        )
        assert r.status_code == 422
        assert r.json()["field"] == "targets[1].channel_id"
        assert await s.count(Post) == 0


async def test_malformed_json_is_a_problem(settings):
    async with running_scheduler(settings) as s:
        r = await s.client.post(
            "/v1/posts",
            content=b'{"text": "hi", "targets": [',
            headers={**identity(uuid.uuid4()), "content-type": "application/json"},
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == "body"
        assert await s.count(Post) == 0


async def test_roles_and_the_internal_token(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace)
        body = {"text": "hi", "targets": [{"channel_id": str(channel)}]}
        r = await s.client.post("/v1/posts", json=body, headers=identity(workspace, "analyst"))
        assert r.status_code == 403
        headers = identity(workspace)
        del headers[INTERNAL_TOKEN_HEADER]
        r = await s.client.post("/v1/posts", json=body, headers=headers)
        assert r.status_code == 401
        assert await s.count(Post) == 0


def stand_in_publisher(channels: dict[uuid.UUID, tuple[uuid.UUID, str]]) -> FastAPI:
    """Answers `GET /v1/channels/{id}` as the publisher does, and records what it was sent."""
    app = FastAPI()
    app.state.calls = []

    @app.get("/v1/channels/{channel_id}")
    async def get_channel(channel_id: uuid.UUID, request: Request) -> JSONResponse:
        app.state.calls.append(dict(request.headers))
        if request.headers.get(INTERNAL_TOKEN_HEADER) != INTERNAL_TOKEN:
            return JSONResponse({"status": 401}, status_code=401)
        owner = channels.get(channel_id)
        if owner is None or str(owner[0]) != request.headers.get(WORKSPACE_HEADER):
            return JSONResponse({"status": 404}, status_code=404)
        return JSONResponse(
            {
                "id": str(channel_id),
                "network": owner[1],
                "external_id": "e1",
                "name": "Fresh",
                "timezone": "Europe/London",
                "status": "active",
            }
        )

    return app


async def test_channel_missing_from_the_read_model_is_looked_up_once(make_settings):
    workspace, other = uuid.uuid4(), uuid.uuid4()
    fresh, foreign = uuid.uuid4(), uuid.uuid4()
    publisher = stand_in_publisher({fresh: (workspace, "mastodon"), foreign: (other, "x")})
    async with serve(publisher) as publisher_url:
        settings = make_settings(SchedulerSettings, run_workers=False, publisher_url=publisher_url)
        async with running_scheduler(settings) as s:
            body = {
                "text": "hi",
                "targets": [{"channel_id": str(fresh)}],
                "schedule": {"at": "2030-06-01T09:00:00"},
            }
            r = await s.client.post("/v1/posts", json=body, headers=identity(workspace, "editor"))
            assert r.status_code == 201, r.text
            target = r.json()["targets"][0]
            assert target["network"] == "mastodon"
            # The channel's zone from the publisher's answer: 09:00 BST.
            assert target["due_at"].startswith("2030-06-01T08:00:00")
            [call] = publisher.state.calls
            assert call[WORKSPACE_HEADER] == str(workspace)
            assert call["x-herald-role"] == "editor"
            # Remembered: a second post does not ask again.
            r = await s.client.post("/v1/posts", json=body, headers=identity(workspace, "editor"))
            assert r.status_code == 201 and len(publisher.state.calls) == 1

            body["targets"] = [{"channel_id": str(foreign)}]
            r = await s.client.post("/v1/posts", json=body, headers=identity(workspace))
            assert r.status_code == 422
            assert r.json()["field"] == "targets[0].channel_id"
            assert await s.count(Post) == 2


async def test_unreachable_publisher_means_unknown_channel(make_settings):
    settings = make_settings(
        SchedulerSettings,
        run_workers=False,
        publisher_url="http://127.0.0.1:9",
        channel_lookup_timeout=1.0,
    )
    async with running_scheduler(settings) as s:
        r = await s.client.post(
            "/v1/posts",
            json={"text": "hi", "targets": [{"channel_id": str(uuid.uuid4())}]},
            headers=identity(uuid.uuid4()),
        )
        assert r.status_code == 422
        assert r.json()["field"] == "targets[0].channel_id"


async def test_now_schedules_due_immediately(settings):
    workspace = uuid.uuid4()
    async with running_scheduler(settings) as s:
        channel = await s.add_channel(workspace_id=workspace)
        before = datetime.now(UTC)
        r = await s.client.post(
            "/v1/posts",
            json={
                "text": "now",
                "targets": [{"channel_id": str(channel)}],
                "schedule": {"now": True},
            },
            headers=identity(workspace),
        )
        assert r.status_code == 201
        due = datetime.fromisoformat(r.json()["targets"][0]["due_at"])
        assert before - timedelta(seconds=1) <= due <= datetime.now(UTC)
