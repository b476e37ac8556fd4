"""What operators read: outbox counters, queue depth, request ids and traces."""

import uuid

import httpx

from services.metrics.app import create_app
from services.metrics.settings import MetricsSettings
from shared.db import unit_of_work
from shared.events import Envelope, WorkspaceCreated
from tests.support.servers import lifespan
from tests.support.waits import until


async def test_outbox_counters_queue_depth_and_request_ids(make_settings):
    settings = make_settings(MetricsSettings)
    app = create_app(settings)
    async with lifespan(app):
        runtime = app.state.runtime
        queue = settings.queue_name("posts")
        await until(lambda: runtime.bus.consuming.get(queue), timeout=20, what="the consumer")
        async with unit_of_work(runtime.sessions) as session:
            await runtime.outbox.add(
                session,
                Envelope.of(
                    WorkspaceCreated(workspace_id=uuid.uuid4(), name="w", timezone="UTC"),
                    workspace_id=None,
                ),
            )
        await until(
            lambda: runtime.metrics.outbox_published._value.get() >= 1,
            timeout=5,
            what="the outbox's first publish counted",
        )
        assert runtime.metrics.outbox_published._value.get() == 1
        depths = await runtime.bus.queue_depths([queue, "no-such-queue"])
        assert depths == {queue: 0}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
            r = await client.get("/healthz", headers={"x-request-id": "abc-123"})
            assert r.headers["x-request-id"] == "abc-123"
            generated = await client.get("/healthz")
            assert len(generated.headers["x-request-id"]) == 32
            text = (await client.get("/metrics")).text
            assert "herald_outbox_published_total 1.0" in text
            assert 'herald_http_request_seconds_count{method="GET",route="/healthz"' in text
