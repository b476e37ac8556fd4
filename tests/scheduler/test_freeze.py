"""Freezing the outgoing queue: nothing scheduled goes out until resume, then the missed-post
policy decides what still goes out; a raised alert can ask for the freeze over the bus."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from services.scheduler.settings import SchedulerSettings
from shared.db import unit_of_work
from shared.events import QueueFreezeRequested
from tests.conftest import identity
from tests.scheduler.support import (
    Scheduler,
    eventually,
    listening,
    publish,
    running_scheduler,
    wait_consuming,
)

EVENTS = ("post.due", "post.missed", "queue.frozen", "queue.resumed", "audit.recorded")


async def _post_now(s: Scheduler, workspace: uuid.UUID, *channels: uuid.UUID) -> dict[str, Any]:
    r = await s.client.post(
        "/v1/posts",
        json={
            "text": "Our winter sale starts today",
            "targets": [{"channel_id": str(c)} for c in channels],
            "schedule": {"now": True},
        },
        headers=identity(workspace, "editor"),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _statuses(s: Scheduler, workspace: uuid.UUID, post_id: str) -> dict[str, str]:
    r = await s.client.get(f"/v1/posts/{post_id}", headers=identity(workspace))
    return {t["channel_id"]: t["status"] for t in r.json()["targets"]}


async def test_a_frozen_workspace_publishes_nothing_until_resumed(make_settings) -> None:
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, *EVENTS) as heard,
        running_scheduler(settings) as s,
    ):
        x = await s.add_channel(workspace_id=workspace, network="x")
        bsky = await s.add_channel(workspace_id=workspace, network="bluesky")
        editor = identity(workspace, "editor")

        # Refused: a role that may not, a missing reason, a channel of another workspace.
        r = await s.client.post(
            "/v1/queue/freeze", json={"reason": "x"}, headers=identity(workspace, "analyst")
        )
        assert r.status_code == 403
        r = await s.client.post("/v1/queue/freeze", json={}, headers=editor)
        assert r.status_code == 422 and "reason" in r.text
        r = await s.client.post(
            "/v1/queue/freeze",
            json={"reason": "x", "channel_id": str(uuid.uuid4())},
            headers=editor,
        )
        assert r.status_code == 422 and r.json()["field"] == "channel_id"
        r = await s.client.post("/v1/queue/resume", json={}, headers=editor)
        assert r.status_code == 409
        assert (await s.client.get("/v1/queue/state", headers=editor)).json()["frozen"] is False

        r = await s.client.post(
            "/v1/queue/freeze", json={"reason": "Storm over the recall"}, headers=editor
        )
        assert r.status_code == 201, r.text
        frozen = r.json()
        assert frozen["scope"] == "workspace" and frozen["reason"] == "Storm over the recall"
        assert frozen["frozen_by"] and frozen["resumed_at"] is None
        # Freezing again changes nothing.
        again = await s.client.post("/v1/queue/freeze", json={"reason": "again"}, headers=editor)
        assert again.status_code == 200 and again.json()["id"] == frozen["id"]

        post = await _post_now(s, workspace, x, bsky)
        # The dispatcher finds nothing to hand over, however often it looks.
        assert await s.app.state.dispatcher.drain() == 0
        assert set((await _statuses(s, workspace, post["id"])).values()) == {"scheduled"}
        state = (await s.client.get("/v1/queue/state", headers=editor)).json()
        assert state["frozen"] is True and state["held"] == 2
        assert [f["id"] for f in state["freezes"]] == [frozen["id"]]

        # One of the two fell due long ago (the freeze lasted): past the one-hour threshold.
        async with unit_of_work(s.runtime.sessions) as session:
            await session.execute(
                text(
                    "UPDATE scheduler.targets SET due_at = now() - interval '2 hours' "
                    "WHERE post_id = :p AND channel_id = :c"
                ),
                {"p": uuid.UUID(post["id"]), "c": bsky},
            )
        r = await s.client.post("/v1/queue/resume", json={}, headers=editor)
        assert r.status_code == 200, r.text
        resumed = r.json()
        assert resumed["due"] == 2 and resumed["past_threshold"] == 1
        [lifted] = resumed["resumed"]
        assert lifted["id"] == frozen["id"] and lifted["resumed_by"] and lifted["resumed_at"]

        await heard.wait_for(lambda h: h.of("post.due") and h.of("post.missed"))
        assert [e.data["channel_id"] for e in heard.of("post.due")] == [str(x)]
        assert [e.data["channel_id"] for e in heard.of("post.missed")] == [str(bsky)]
        await eventually(
            lambda: _expect(
                _statuses(s, workspace, post["id"]), {str(x): "publishing", str(bsky): "missed"}
            )
        )
        await heard.wait_for(lambda h: h.of("queue.frozen") and h.of("queue.resumed"))
        [frozen_event] = heard.of("queue.frozen")
        assert frozen_event.data["reason"] == "Storm over the recall"
        assert frozen_event.workspace_id == workspace
        assert heard.of("queue.resumed")[0].data["due"] == 2
        state = (await s.client.get("/v1/queue/state", headers=editor)).json()
        assert state == {"frozen": False, "freezes": [], "held": 0}
        # The audit log has the freeze and the resume, once each, with who did them (the
        # refused calls and the second freeze that changed nothing record nothing).
        await heard.wait_for(lambda h: len(h.of("audit.recorded")) >= 3)
        entries = [
            (e.data["action"], e.data["actor"], e.data["resource_id"])
            for e in heard.of("audit.recorded")
            if e.data["action"].startswith("queue.")
        ]
        assert entries == [
            ("queue.frozen", "key-editor", str(workspace)),
            ("queue.resumed", "key-editor", str(workspace)),
        ]


async def _expect(coro: Any, wanted: dict[str, str]) -> None:
    assert await coro == wanted


async def test_a_frozen_channel_holds_only_its_own_posts(make_settings) -> None:
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        x = await s.add_channel(workspace_id=workspace, network="x")
        bsky = await s.add_channel(workspace_id=workspace, network="bluesky")
        editor = identity(workspace, "editor")
        r = await s.client.post(
            "/v1/queue/freeze",
            json={"reason": "X thread blew up", "channel_id": str(x)},
            headers=editor,
        )
        assert r.status_code == 201 and r.json()["scope"] == str(x)
        # Another workspace's queue is not this one's.
        other = uuid.uuid4()
        o = await s.add_channel(workspace_id=other, network="x")
        other_post = await _post_now(s, other, o)
        post = await _post_now(s, workspace, x, bsky)
        await heard.wait_for(lambda h: len(h.of("post.due")) >= 2)
        assert {e.data["channel_id"] for e in heard.of("post.due")} == {str(bsky), str(o)}
        assert (await _statuses(s, other, other_post["id"]))[str(o)] == "publishing"
        assert (await _statuses(s, workspace, post["id"]))[str(x)] == "scheduled"
        # The workspace's queue as a whole is not frozen; the channel's is.
        state = (await s.client.get("/v1/queue/state", headers=editor)).json()
        assert state["frozen"] is False and state["held"] == 1
        r = await s.client.post("/v1/queue/resume", json={"channel_id": str(x)}, headers=editor)
        assert r.status_code == 200 and r.json()["due"] == 1
        await heard.wait_for(lambda h: len(h.of("post.due")) == 3)


async def test_a_raised_alert_freezes_the_queue_through_the_bus(make_settings) -> None:
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    alert_id = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "queue.frozen") as heard,
        running_scheduler(settings) as s,
    ):
        await wait_consuming(s, "crisis")
        request = QueueFreezeRequested(
            reason="Crisis alert: 40 messages in 30 min",
            requested_by=f"alert:{alert_id}",
            alert_id=alert_id,
            requested_at=datetime.now(UTC),
        )
        # Delivered twice (two envelopes, as after a relay retry): one freeze.
        await publish(settings.exchange_name, (request, workspace), (request, workspace))
        await heard.wait_for(lambda h: len(h.of("queue.frozen")) >= 1)
        state = (await s.client.get("/v1/queue/state", headers=identity(workspace))).json()
        assert state["frozen"] is True
        [freeze] = state["freezes"]
        assert freeze["frozen_by"] == f"alert:{alert_id}" and freeze["alert_id"] == str(alert_id)
        assert freeze["reason"].startswith("Crisis alert")

        async def both_handled() -> None:
            async with s.runtime.sessions() as session:
                n = await session.scalar(
                    text(
                        "SELECT count(*) FROM scheduler.processed_messages WHERE consumer LIKE "
                        "'%crisis'"
                    )
                )
            assert n == 2

        await eventually(both_handled)
        async with s.runtime.sessions() as session:
            freezes = await session.scalar(text("SELECT count(*) FROM scheduler.queue_freezes"))
        assert freezes == 1 and len(heard.of("queue.frozen")) == 1


async def test_recurring_occurrences_wait_for_the_resume_too(make_settings) -> None:
    settings = make_settings(SchedulerSettings)
    workspace = uuid.uuid4()
    async with (
        listening(settings.exchange_name, "post.due") as heard,
        running_scheduler(settings) as s,
    ):
        x = await s.add_channel(workspace_id=workspace, network="x")
        editor = identity(workspace, "editor")
        r = await s.client.post(
            "/v1/posts",
            headers=editor,
            json={
                "text": "Weekly tips",
                "targets": [{"channel_id": str(x)}],
                "schedule": {
                    "rrule": "FREQ=WEEKLY;BYDAY=MO",
                    "at": "2030-03-04T09:00:00",
                    "timezone": "UTC",
                },
            },
        )
        assert r.status_code == 201, r.text
        post = r.json()
        r = await s.client.post(
            "/v1/queue/freeze", json={"reason": "pause everything"}, headers=editor
        )
        assert r.status_code == 201
        # The series' first occurrence falls due while frozen.
        first = min(post["targets"], key=lambda t: t["due_at"])
        async with unit_of_work(s.runtime.sessions) as session:
            await session.execute(
                text("UPDATE scheduler.targets SET due_at = now() WHERE id = :id"),
                {"id": uuid.UUID(first["id"])},
            )
        assert await s.app.state.dispatcher.drain() == 0
        r = await s.client.post("/v1/queue/resume", json={}, headers=editor)
        assert r.status_code == 200 and r.json()["due"] == 1
        await heard.wait_for(lambda h: len(h.of("post.due")) == 1)
        assert heard.of("post.due")[0].data["target_id"] == first["id"]
