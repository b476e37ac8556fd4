import asyncio
import hashlib
import os
import uuid
from datetime import UTC, datetime

import httpx

from services.metrics.app import create_app as create_metrics
from services.metrics.settings import MetricsSettings
from shared.bus import Bus, OutgoingMessage
from shared.events import Envelope, PostPublished
from tests.conftest import AMQP_URL, INTERNAL_TOKEN
from tests.gateway.support import bearer, echo_upstreams, running_gateway
from tests.support.servers import free_port, serve
from tests.support.waits import until

SERVICES = ("scheduler", "publisher", "inbox", "metrics")


def urls(upstreams) -> dict[str, str]:
    return {f"{name}_url": url for name, (_, url) in upstreams.items()}


def header(seen: dict, name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k == name]


async def test_each_path_reaches_its_owning_service_with_the_identity(make_settings):
    async with (
        echo_upstreams(*SERVICES) as ups,
        running_gateway(make_settings, run_workers=False, **urls(ups)) as gw,
    ):
        ws = await gw.workspace(timezone="America/New_York")
        editor = await gw.key(ws["api_key"], "editor")
        table = [
            ("GET", "/v1/posts", "scheduler"),
            ("POST", "/v1/posts/123/approve", "scheduler"),
            ("GET", "/v1/calendar", "scheduler"),
            ("PUT", "/v1/channels/abc/slots", "scheduler"),
            ("GET", "/v1/channels/abc/queue", "scheduler"),
            ("POST", "/v1/channels/abc/queue/shuffle", "scheduler"),
            ("GET", "/v1/scheduler/settings", "scheduler"),
            ("POST", "/v1/queue/freeze", "scheduler"),
            ("GET", "/v1/queue/state", "scheduler"),
            ("GET", "/v1/channels", "publisher"),
            ("PATCH", "/v1/channels/abc", "publisher"),
            ("GET", "/v1/channels/callback/x", "publisher"),
            ("GET", "/v1/networks", "publisher"),
            ("GET", "/v1/conversations/1", "inbox"),
            ("GET", "/v1/alerts", "inbox"),
            ("POST", "/v1/saved-replies", "inbox"),
            ("GET", "/v1/inbox/rules", "inbox"),
            ("POST", "/v1/contests", "inbox"),
            ("GET", "/v1/contests/abc/entries", "inbox"),
            ("GET", "/v1/analytics/summary", "metrics"),
            ("POST", "/v1/links", "metrics"),
            ("POST", "/v1/conversions", "metrics"),
            ("GET", "/v1/campaigns", "scheduler"),
            ("PATCH", "/v1/campaigns/abc", "scheduler"),
            ("GET", "/v1/campaigns/abc/report", "metrics"),
        ]
        for method, path, service in table:
            r = await gw.client.request(
                method,
                path,
                params={"a": "1", "b": "x y"},
                json={"hello": "world"} if method != "GET" else None,
                headers={
                    **bearer(editor["api_key"]),
                    "X-Request-Id": "req-42",
                    "x-herald-workspace-id": str(uuid.uuid4()),
                    "X-Herald-Role": "owner",
                    "x-herald-internal-token": "forged",
                },
            )
            assert r.status_code == 200, (path, r.text)
            seen = r.json()
            assert seen["service"] == service, path
            assert seen["path"] == path and seen["query"] == "a=1&b=x+y"
            assert header(seen, "x-herald-workspace-id") == [ws["id"]]
            assert header(seen, "x-herald-role") == ["editor"]
            assert header(seen, "x-herald-principal-id") == [editor["id"]]
            assert header(seen, "x-herald-workspace-timezone") == ["America/New_York"]
            assert header(seen, "x-herald-internal-token") == [INTERNAL_TOKEN]
            assert header(seen, "x-request-id") == ["req-42"]
            assert len(header(seen, "traceparent")) == 1
            assert header(seen, "authorization") == []
            if method != "GET":
                assert seen["body"] == '{"hello":"world"}'
            assert r.headers["x-request-id"] == "req-42"
            assert r.headers["x-echo"] == service


async def test_network_webhooks_and_short_links_need_no_key_and_pass_untouched(make_settings):
    async with (
        echo_upstreams(*SERVICES) as ups,
        running_gateway(make_settings, run_workers=False, **urls(ups)) as gw,
    ):
        body = b'{"z":1,  "a":"\xc3\xa9"}\n\x00raw'
        r = await gw.client.post(
            "/hooks/x?crc_token=abc",
            content=body,
            headers={
                "x-twitter-webhooks-signature": "sha256=abc+/=",
                "content-type": "application/json; charset=utf-8",
                "x-herald-workspace-id": str(uuid.uuid4()),
            },
        )
        assert r.status_code == 200, r.text
        seen = r.json()
        assert seen["service"] == "inbox" and seen["query"] == "crc_token=abc"
        assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()
        assert header(seen, "x-twitter-webhooks-signature") == ["sha256=abc+/="]
        assert header(seen, "content-type") == ["application/json; charset=utf-8"]
        assert header(seen, "x-herald-workspace-id") == []
        assert header(seen, "x-herald-internal-token") == [INTERNAL_TOKEN]

        link = await gw.client.get("/l/abc123")
        assert link.status_code == 302
        assert link.headers["location"] == "https://example.com/abc123"

        feed = await gw.client.get("/v1/calendar.ics", params={"token": "t"})
        assert feed.status_code == 200 and feed.json()["service"] == "scheduler"

        # An external reviewer has a link, not a key.
        review = await gw.client.post("/v1/review/tok123/comments", json={"text": "ok"})
        assert review.status_code == 200 and review.json()["service"] == "scheduler"
        assert header(review.json(), "x-herald-workspace-id") == []


async def test_problems_for_unknown_routes_missing_keys_and_dead_upstreams(make_settings):
    dead = f"http://127.0.0.1:{free_port()}"
    async with (
        echo_upstreams("scheduler") as ups,
        running_gateway(make_settings, run_workers=False, publisher_url=dead, **urls(ups)) as gw,
    ):
        ws = await gw.workspace()
        key = bearer(ws["api_key"])
        cases = [
            (await gw.client.get("/v1/nothing-here", headers=key), 404),
            (await gw.client.get("/nowhere"), 404),
            (await gw.client.get("/v1/posts"), 401),
            (await gw.client.get("/v1/posts", headers=bearer("hk_live_wrong")), 401),
            (await gw.client.get("/v1/posts", headers={"Authorization": "Basic abc"}), 401),
            (await gw.client.get("/v1/channels", headers=key), 503),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == status
        assert cases[-1][0].headers["retry-after"]
        # Nothing reached the upstream for the refused calls.
        echo, _ = ups["scheduler"]
        assert echo.seen == []


async def test_services_refuse_calls_without_the_internal_token(make_settings):
    metrics = create_metrics(make_settings(MetricsSettings, run_workers=False))
    async with echo_upstreams("scheduler") as ups, serve(metrics) as metrics_url:
        _, echo_url = ups["scheduler"]
        async with httpx.AsyncClient() as client:
            for url in (f"{echo_url}/v1/posts", f"{metrics_url}/v1/analytics/posts/{uuid.uuid4()}"):
                plain = await client.get(url)
                forged = await client.get(url, headers={"x-herald-internal-token": "nope"})
                for r in (plain, forged):
                    assert r.status_code == 401
                    assert r.headers["content-type"] == "application/problem+json"


async def test_bodies_stream_both_ways(make_settings):
    async with (
        echo_upstreams("scheduler") as ups,
        running_gateway(make_settings, served=True, **urls(ups)) as gw,
    ):
        ws = await gw.workspace()
        key = bearer(ws["api_key"])
        echo, _ = ups["scheduler"]
        # The upstream holds its second chunk until the client has read the first one.
        async with gw.client.stream("GET", "/v1/posts/stream", headers=key) as r:
            lines = r.aiter_lines()
            assert await asyncio.wait_for(anext(lines), 5) == "first"
            echo.release.set()
            assert await asyncio.wait_for(anext(lines), 5) == "second"

        chunk = os.urandom(64 * 1024)
        digest = hashlib.sha256()

        async def upload():
            for _ in range(80):  # 5 MiB, never held whole by the client
                digest.update(chunk)
                yield chunk

        r = await gw.client.post("/v1/posts/upload", content=upload(), headers=key)
        assert r.status_code == 200
        assert r.json()["body_len"] == 80 * len(chunk)
        assert r.json()["body_sha256"] == digest.hexdigest()


async def test_metrics_answers_through_the_gateway_for_the_right_workspace(
    make_settings, bus_prefix
):
    metrics_settings = make_settings(MetricsSettings)
    metrics = create_metrics(metrics_settings)
    async with (
        serve(metrics) as metrics_url,
        running_gateway(make_settings, run_workers=False, metrics_url=metrics_url) as gw,
    ):
        ws = await gw.workspace()
        other = await gw.workspace(name="Other")
        published = PostPublished(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            channel_id=uuid.uuid4(),
            network="x",
            external_id="987",
            url="https://x.com/i/status/987",
            published_at=datetime.now(UTC),
        )
        envelope = Envelope.of(published, workspace_id=uuid.UUID(ws["id"]))
        runtime = metrics.state.runtime
        posts_queue = metrics_settings.queue_name("posts")
        await until(lambda: runtime.bus.consuming.get(posts_queue), timeout=20, what="consumer")
        bus = Bus(url=AMQP_URL, exchange=metrics_settings.exchange_name)
        await bus.publish(
            [
                OutgoingMessage(
                    routing_key=envelope.type,
                    body=envelope.model_dump_json().encode(),
                    message_id=str(envelope.id),
                )
            ]
        )
        await bus.close()
        path = f"/v1/analytics/posts/{published.post_id}"
        async def analytics() -> httpx.Response | None:
            r = await gw.client.get(path, headers=bearer(ws["api_key"]))
            return r if r.status_code == 200 else None

        r = await until(analytics, timeout=5, what="the post's analytics")
        assert r.json()["targets"][0]["external_id"] == "987"
        theirs = await gw.client.get(path, headers=bearer(other["api_key"]))
        assert theirs.status_code == 404
        assert theirs.headers["content-type"] == "application/problem+json"
