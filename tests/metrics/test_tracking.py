import uuid
from datetime import UTC, datetime

import httpx

from services.metrics.app import create_app
from services.metrics.settings import MetricsSettings
from shared.bus import Bus, OutgoingMessage
from shared.events import Envelope, PostPublished
from tests.conftest import AMQP_URL, identity
from tests.support.servers import lifespan
from tests.support.waits import until


async def test_published_post_is_tracked_once_even_if_delivered_twice(make_settings, bus_prefix):
    settings = make_settings(MetricsSettings)
    app = create_app(settings)
    workspace = uuid.uuid4()
    published = PostPublished(
        post_id=uuid.uuid4(), target_id=uuid.uuid4(), channel_id=uuid.uuid4(), network="x",
        external_id="123", url="https://x.com/i/status/123", published_at=datetime.now(UTC),
    )
    envelope = Envelope.of(published, workspace_id=workspace)
    bus = Bus(url=AMQP_URL, exchange=settings.exchange_name)
    async with lifespan(app):
        runtime = app.state.runtime
        posts = settings.queue_name("posts")
        await until(lambda: runtime.bus.consuming.get(posts), timeout=20, what="the consumer")
        message = OutgoingMessage(
            routing_key=envelope.type, body=envelope.model_dump_json().encode(),
            message_id=str(envelope.id),
        )
        await bus.publish([message, message])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            async def tracked() -> httpx.Response | None:
                r = await client.get(
                    f"/v1/analytics/posts/{published.post_id}", headers=identity(workspace)
                )
                return r if r.status_code == 200 else None

            r = await until(tracked, timeout=5, what="the post tracked")
            assert [t["external_id"] for t in r.json()["targets"]] == ["123"]
            other = await client.get(
                f"/v1/analytics/posts/{published.post_id}", headers=identity(uuid.uuid4())
            )
            assert other.status_code == 404
            assert other.headers["content-type"] == "application/problem+json"
            no_token = await client.get(f"/v1/analytics/posts/{published.post_id}")
            assert no_token.status_code == 401
        counts = runtime.metrics.consumed.labels("metrics.posts", "duplicate")._value.get()
        assert counts == 1
    await bus.close()
