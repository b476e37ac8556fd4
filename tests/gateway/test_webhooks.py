import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI, Request, Response
from openapi_spec_validator import validate
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.gateway.edge.openapi import merge_documents
from services.gateway.models import WebhookDelivery
from services.gateway.webhooks.delivery import Policy, deliver_due
from services.gateway.webhooks.subscriptions import fan_out
from shared.db import unit_of_work
from shared.events import AlertRaised, Envelope, PostPublished, QueueFrozen
from shared.outbound import allowed_targets, outbound_client
from tests.gateway.support import Gateway, bearer, running_gateway
from tests.support.servers import serve

SCHEDULE = [5, 300, 1800, 7200, 18000] + [36000] * 12


@dataclass
class Receiver:
    """A client endpoint: records what it gets and answers `status`."""

    status: int = 200
    got: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = (await request.body()).decode()
            self.got.append((body, dict(request.headers)))
            self.arrived.set()
            return Response(f"answer {self.status}", status_code=self.status)

        return app


@contextlib.asynccontextmanager
async def receiving(status: int = 200) -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver(status=status)
    async with serve(receiver.app()) as url:
        yield receiver, f"{url}/hook"


async def subscribe(gw: Gateway, key: str, url: str, events: list[str]) -> dict:
    r = await gw.client.post(
        "/v1/webhooks", json={"url": url, "events": events}, headers=bearer(key)
    )
    assert r.status_code == 201, r.text
    return r.json()


def published(workspace_id: str | uuid.UUID) -> Envelope:
    now = datetime.now(UTC)
    return Envelope.of(
        PostPublished(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            channel_id=uuid.uuid4(),
            network="bluesky",
            external_id="at://1",
            url="https://bsky.app/p/1",
            published_at=now,
        ),
        workspace_id=uuid.UUID(str(workspace_id)),
    )


async def emit(gw: Gateway, envelope: Envelope) -> int:
    async with unit_of_work(gw.runtime.sessions) as session:
        return await fan_out(session, envelope)


async def pump(gw: Gateway, now: datetime) -> int:
    policy = Policy.of(gw.settings)
    async with outbound_client(policy.outbound) as client:
        return await deliver_due(gw.runtime.sessions, client, now=now, policy=policy)


def allowing(url: str) -> str:
    """The receiver is on loopback: outbound fetches reach it only when it is listed."""
    return ",".join(allowed_targets([url]))


async def test_subscriptions_are_validated_listed_changed_and_deleted(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        owner = (await gw.workspace())["api_key"]
        r = await gw.client.post(
            "/v1/webhooks",
            headers=bearer(owner),
            json={"url": "https://x.test/h", "events": ["post.due"]},
        )
        assert r.status_code == 422 and r.json()["field"] == "events"
        r = await gw.client.post(
            "/v1/webhooks", headers=bearer(owner), json={"url": "ftp://x.test/h", "events": ["*"]}
        )
        assert r.status_code == 422 and r.json()["field"] == "url"
        r = await gw.client.post(
            "/v1/webhooks",
            headers=bearer(owner),
            json={"url": "https://x.test/h", "events": ["*"], "secret": "whsec_c2hvcnQ="},
        )
        assert r.status_code == 422 and r.json()["field"] == "secret"

        sub = await subscribe(gw, owner, "https://x.test/h", ["post.published", "crisis.detected"])
        assert sub["secret"].startswith("whsec_") and sub["enabled"] is True
        Webhook(sub["secret"])  # the reference library accepts the secret's format
        listed = (await gw.client.get("/v1/webhooks", headers=bearer(owner))).json()
        assert [s["id"] for s in listed["items"]] == [sub["id"]]
        assert "secret" not in listed["items"][0]

        one = await gw.client.get(f"/v1/webhooks/{sub['id']}", headers=bearer(owner))
        tag = one.headers["etag"]
        stale = await gw.client.patch(
            f"/v1/webhooks/{sub['id']}",
            json={"events": ["*"]},
            headers={**bearer(owner), "If-Match": '"999"'},
        )
        assert stale.status_code == 412
        changed = await gw.client.patch(
            f"/v1/webhooks/{sub['id']}",
            json={"events": ["*"]},
            headers={**bearer(owner), "If-Match": tag},
        )
        assert changed.status_code == 200 and changed.json()["events"] == ["*"]
        assert changed.headers["etag"] != tag

        assert (
            await gw.client.delete(f"/v1/webhooks/{sub['id']}", headers=bearer(owner))
        ).status_code == 204
        gone = await gw.client.get(f"/v1/webhooks/{sub['id']}", headers=bearer(owner))
        assert gone.status_code == 404


async def test_an_event_is_delivered_signed_per_standard_webhooks(make_settings):
    async with (
        receiving() as (receiver, url),
        running_gateway(make_settings, run_workers=False, outbound_allow=allowing(url)) as gw,
    ):
        ws = await gw.workspace()
        other = await gw.workspace(name="Other")
        sub = await subscribe(gw, ws["api_key"], url, ["post.published"])
        await subscribe(gw, other["api_key"], url, ["*"])

        event = published(ws["id"])
        assert await emit(gw, event) == 1
        assert await emit(gw, event.model_copy(update={"type": "crisis.resolved"})) == 0
        assert await pump(gw, datetime.now(UTC)) == 1

        [(body, headers)] = receiver.got
        payload = Webhook(sub["secret"]).verify(body, headers)
        assert headers["webhook-id"] == str(event.id)
        assert payload["id"] == str(event.id) and payload["type"] == "post.published"
        assert payload["workspace_id"] == ws["id"]
        assert payload["data"]["external_id"] == "at://1"
        assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
        assert set(payload) == {"id", "type", "timestamp", "workspace_id", "data"}

        log = (
            await gw.client.get(
                f"/v1/webhooks/{sub['id']}/deliveries", headers=bearer(ws["api_key"])
            )
        ).json()
        [delivery] = log["items"]
        assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
        [attempt] = delivery["attempt_log"]
        assert attempt["status_code"] == 200 and attempt["succeeded"] is True
        assert attempt["response_snippet"] == "answer 200" and attempt["duration_ms"] >= 0
        # Nothing else is due: the other workspace's subscription got nothing.
        assert await pump(gw, datetime.now(UTC) + timedelta(days=10)) == 0
        assert len(receiver.got) == 1


async def test_retries_follow_the_schedule_then_disable_and_can_be_re_enabled(make_settings):
    async with (
        receiving(status=500) as (receiver, url),
        running_gateway(make_settings, run_workers=False, outbound_allow=allowing(url)) as gw,
    ):
        ws = await gw.workspace()
        key = ws["api_key"]
        sub = await subscribe(gw, key, url, ["post.published"])
        await emit(gw, published(ws["id"]))
        async with gw.runtime.sessions() as session:
            delivery = await session.scalar(select(WebhookDelivery))
        now = delivery.next_attempt_at
        times = []
        while True:
            # Nothing goes out a moment early.
            assert await pump(gw, now - timedelta(seconds=1)) == 0
            assert await pump(gw, now) == 1
            times.append(now)
            async with gw.runtime.sessions() as session:
                delivery = await session.get(WebhookDelivery, delivery.id)
            if delivery.next_attempt_at is None:
                break
            now = delivery.next_attempt_at
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert gaps == SCHEDULE
        assert delivery.status == "failed" and delivery.attempts == 1 + len(SCHEDULE)
        assert len(receiver.got) == 1 + len(SCHEDULE)
        # Every attempt carried the same webhook-id.
        assert len({h["webhook-id"] for _, h in receiver.got}) == 1

        state = (await gw.client.get(f"/v1/webhooks/{sub['id']}", headers=bearer(key))).json()
        assert state["enabled"] is False
        assert "failed for 120 hours" in state["disabled_reason"]
        assert "HTTP 500" in state["disabled_reason"]
        log = (
            await gw.client.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=bearer(key))
        ).json()
        assert [a["status_code"] for a in log["items"][0]["attempt_log"]] == [500] * 18

        # Disabled: new events are not queued, replay and test are refused.
        assert await emit(gw, published(ws["id"])) == 0
        path = f"/v1/webhooks/{sub['id']}/deliveries/{delivery.id}/replay"
        assert (await gw.client.post(path, headers=bearer(key))).status_code == 409

        receiver.status = 204
        r = await gw.client.patch(
            f"/v1/webhooks/{sub['id']}", json={"enabled": True}, headers=bearer(key)
        )
        assert r.status_code == 200 and r.json()["enabled"] is True
        assert r.json()["disabled_reason"] is None
        replayed = await gw.client.post(path, headers=bearer(key))
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["replay_of"] == str(delivery.id)
        assert await pump(gw, datetime.now(UTC)) == 1
        body, headers = receiver.got[-1]
        assert Webhook(sub["secret"]).verify(body, headers)["id"] == delivery.message_id
        assert headers["webhook-id"] == delivery.message_id
        log = (
            await gw.client.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=bearer(key))
        ).json()
        assert log["items"][0]["status"] == "succeeded"
        assert log["items"][0]["id"] == replayed.json()["id"]


async def test_test_ping_and_rotation_overlap(make_settings):
    async with (
        receiving() as (receiver, url),
        running_gateway(make_settings, run_workers=False, outbound_allow=allowing(url)) as gw,
    ):
        ws = await gw.workspace()
        key = ws["api_key"]
        sub = await subscribe(gw, key, url, ["channel.needs_reauth"])
        old = sub["secret"]

        ping = await gw.client.post(f"/v1/webhooks/{sub['id']}/test", headers=bearer(key))
        assert ping.status_code == 202 and ping.json()["event_type"] == "webhook.test"
        await pump(gw, datetime.now(UTC))
        body, headers = receiver.got[-1]
        payload = Webhook(old).verify(body, headers)
        assert payload["type"] == "webhook.test"
        assert payload["data"]["subscription_id"] == sub["id"]
        assert len(headers["webhook-signature"].split(" ")) == 1

        rotated = await gw.client.post(
            f"/v1/webhooks/{sub['id']}/rotate-secret", headers=bearer(key)
        )
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != old
        ends = datetime.fromisoformat(rotated.json()["secret_rotation_ends_at"])
        assert timedelta(hours=23.9) < ends - datetime.now(UTC) <= timedelta(hours=24)

        # During the overlap: two signatures, and either secret verifies.
        await gw.client.post(f"/v1/webhooks/{sub['id']}/test", headers=bearer(key))
        await pump(gw, datetime.now(UTC))
        body, headers = receiver.got[-1]
        assert len(headers["webhook-signature"].split(" ")) == 2
        assert Webhook(old).verify(body, headers)["type"] == "webhook.test"
        assert Webhook(new).verify(body, headers)["type"] == "webhook.test"

        # After it: only the new one.
        await gw.client.post(f"/v1/webhooks/{sub['id']}/test", headers=bearer(key))
        await pump(gw, ends + timedelta(seconds=1))
        body, headers = receiver.got[-1]
        assert len(headers["webhook-signature"].split(" ")) == 1
        assert Webhook(new).verify(body, headers)["type"] == "webhook.test"
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(body, headers)


async def test_delivery_log_is_cursor_paged_newest_first(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        key = (await gw.workspace())["api_key"]
        sub = await subscribe(gw, key, "https://x.test/h", ["*"])
        ids = []
        for _ in range(3):
            r = await gw.client.post(f"/v1/webhooks/{sub['id']}/test", headers=bearer(key))
            ids.append(r.json()["id"])
        path = f"/v1/webhooks/{sub['id']}/deliveries"
        first = (await gw.client.get(path, params={"limit": 2}, headers=bearer(key))).json()
        assert [d["id"] for d in first["items"]] == ids[::-1][:2]
        second = (
            await gw.client.get(
                path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=bearer(key)
            )
        ).json()
        assert [d["id"] for d in second["items"]] == ids[:1]
        assert second["next_cursor"] is None
        pending = (
            await gw.client.get(path, params={"status": "pending"}, headers=bearer(key))
        ).json()
        assert len(pending["items"]) == 3


async def test_another_workspace_gets_404_on_every_webhook_path(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        ws = await gw.workspace()
        key = ws["api_key"]
        sub = await subscribe(gw, key, "https://x.test/h", ["*"])
        ping = await gw.client.post(f"/v1/webhooks/{sub['id']}/test", headers=bearer(key))
        delivery_id = ping.json()["id"]
        intruder = (await gw.workspace(name="Intruder"))["api_key"]
        base = f"/v1/webhooks/{sub['id']}"
        calls = [
            ("GET", base, None),
            ("PATCH", base, {"enabled": False}),
            ("DELETE", base, None),
            ("GET", f"{base}/deliveries", None),
            ("POST", f"{base}/deliveries/{delivery_id}/replay", None),
            ("POST", f"{base}/test", None),
            ("POST", f"{base}/rotate-secret", None),
        ]
        for method, path, body in calls:
            r = await gw.client.request(method, path, json=body, headers=bearer(intruder))
            assert r.status_code == 404, (method, path, r.status_code)
        assert (await gw.client.get("/v1/webhooks", headers=bearer(intruder))).json()["items"] == []
        analyst = (await gw.key(key, "analyst"))["api_key"]
        for method, path, body in calls:
            r = await gw.client.request(method, path, json=body, headers=bearer(analyst))
            assert r.status_code == 403, (method, path, r.status_code)
        # Nothing changed.
        after = (await gw.client.get(base, headers=bearer(key))).json()
        assert after["enabled"] is True and after["secret_rotation_ends_at"] is None
        log = (await gw.client.get(f"{base}/deliveries", headers=bearer(key))).json()
        assert len(log["items"]) == 1


async def test_payloads_are_documented_in_the_openapi_webhooks_section(make_settings):
    async with running_gateway(make_settings, run_workers=False) as gw:
        doc = merge_documents(own=gw.app.state.openapi.own(), services={})
        validate(doc)
        hook = doc["webhooks"]["post.published"]["post"]
        ref = hook["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(schema["required"]) == {"id", "type", "timestamp", "workspace_id", "data"}
        data = doc["components"]["schemas"][schema["properties"]["data"]["$ref"].rsplit("/")[-1]]
        assert "external_id" in data["properties"]
        assert "webhook.test" in doc["webhooks"]
        for crisis_event in ("alert.raised", "alert.resolved", "queue.frozen", "queue.resumed"):
            assert crisis_event in doc["webhooks"], crisis_event
        assert "queue.freeze_requested" not in doc["webhooks"]  # a command between services
        assert "10 h" in doc["paths"]["/v1/webhooks"]["post"]["description"]
        assert "post.due" not in doc["webhooks"]
        assert "docs/roles.md" in doc["info"]["description"]


async def test_a_bus_event_becomes_a_signed_delivery_end_to_end(make_settings):
    async with (
        receiving() as (receiver, url),
        running_gateway(
            make_settings, webhook_poll_seconds=0.5, outbound_allow=allowing(url)
        ) as gw,
    ):
        ws = await gw.workspace()
        sub = await subscribe(gw, ws["api_key"], url, ["post.published"])
        event = published(ws["id"])
        # Any service's outbox reaches the bus the same way; the gateway's is at hand.
        async with unit_of_work(gw.runtime.sessions) as session:
            await gw.runtime.outbox.add(session, event)
        async with asyncio.timeout(30):
            while not receiver.got:
                receiver.arrived.clear()
                await receiver.arrived.wait()
        body, headers = receiver.got[0]
        payload = Webhook(sub["secret"]).verify(body, headers)
        assert payload["id"] == str(event.id) and payload["type"] == "post.published"
        assert json.loads(body)["workspace_id"] == ws["id"]


async def test_crisis_and_queue_events_reach_their_subscribers(make_settings):
    async with (
        receiving() as (receiver, url),
        running_gateway(
            make_settings, webhook_poll_seconds=0.5, outbound_allow=allowing(url)
        ) as gw,
    ):
        ws = await gw.workspace()
        sub = await subscribe(gw, ws["api_key"], url, ["alert.raised", "queue.frozen"])
        now = datetime.now(UTC)
        alert_id = uuid.uuid4()
        events = [
            Envelope.of(
                AlertRaised(alert_id=alert_id, scope="workspace", detected_at=now,
                            reason="14 messages in 15 min, 100% negative; crisis in he",
                            languages=["he"], top_phrases=["החזר"]),
                workspace_id=uuid.UUID(ws["id"]),
            ),
            Envelope.of(
                QueueFrozen(reason="Crisis alert", frozen_by=f"alert:{alert_id}",
                            alert_id=alert_id, frozen_at=now),
                workspace_id=uuid.UUID(ws["id"]),
            ),
        ]
        async with unit_of_work(gw.runtime.sessions) as session:
            await gw.runtime.outbox.add(session, *events)
        async with asyncio.timeout(30):
            while len(receiver.got) < 2:
                receiver.arrived.clear()
                await receiver.arrived.wait()
        payloads = [Webhook(sub["secret"]).verify(body, headers) for body, headers in receiver.got]
        by_type = {p["type"]: p for p in payloads}
        assert by_type["alert.raised"]["data"]["languages"] == ["he"]
        assert by_type["queue.frozen"]["data"]["frozen_by"] == f"alert:{alert_id}"
