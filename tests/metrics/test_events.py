import uuid
from datetime import UTC, datetime, timedelta

import httpx

from services.metrics.app import create_app
from services.metrics.settings import MetricsSettings
from shared.bus import Bus, OutgoingMessage
from shared.events import ChannelConnected, ConversationReplied, Envelope, MessageReceived
from tests.conftest import AMQP_URL, identity
from tests.support.servers import lifespan
from tests.support.waits import until


async def test_inbox_and_channel_events_arrive_over_the_bus(make_settings):
    settings = make_settings(MetricsSettings)
    app = create_app(settings)
    workspace = uuid.uuid4()
    channel = uuid.uuid4()
    now = datetime.now(UTC)
    conversation = uuid.uuid4()
    events = [
        ChannelConnected(channel_id=channel, network="threads", external_id="t1", name="T",
                         timezone="Europe/Paris", status="active"),
        MessageReceived(message_id=uuid.uuid4(), conversation_id=conversation,
                        channel_id=channel, network="threads", kind="comment", sentiment=-0.7,
                        received_at=now - timedelta(minutes=10)),
        ConversationReplied(conversation_id=conversation, first_response_seconds=540,
                            replied_at=now - timedelta(minutes=1)),
    ]
    bus = Bus(url=AMQP_URL, exchange=settings.exchange_name)
    async with lifespan(app):
        runtime = app.state.runtime
        await until(
            lambda: all(runtime.bus.consuming.get(settings.queue_name(q))
                        for q in ("channels", "inbox")),
            timeout=20,
            what="the consumers",
        )  # fmt: skip
        envelopes = [Envelope.of(e, workspace_id=workspace) for e in events]
        await bus.publish([OutgoingMessage(routing_key=e.type, message_id=str(e.id),
                                           body=e.model_dump_json().encode())
                           for e in envelopes])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            async def answered() -> dict | None:
                r = await client.get("/v1/analytics/inbox", headers=identity(workspace),
                                     params={"channel_id": str(channel)})
                # Both facts travel as separate messages, handled in any order.
                ok = r.status_code == 200 and r.json()["responses"] == r.json()["volume"] == 1
                return r.json() if ok else None

            body = await until(answered, timeout=5, what="the message and the response counted")
            assert body["volume"] == 1 and body["days"][0]["negative"] == 1
            assert body["first_response_p50_seconds"] == 540
            best = await client.get("/v1/analytics/best-times", headers=identity(workspace),
                                    params={"channel_id": str(channel)})
            assert best.status_code == 200
            assert best.json()["timezone"] == "Europe/Paris" and best.json()["slots"] == []
    await bus.close()
