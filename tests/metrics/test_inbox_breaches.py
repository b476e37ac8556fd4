"""The inbox report counts the conversations that went past their response-time target."""

import uuid
from datetime import UTC, datetime, timedelta

from services.metrics.consumers import subscriptions
from services.metrics.models import BUS
from shared.db import unit_of_work
from shared.events import ConversationSlaBreached, Envelope
from shared.service import Runtime
from tests.conftest import identity
from tests.metrics.support import quiet_app


def breach(conversation_id: uuid.UUID, at: datetime) -> ConversationSlaBreached:
    return ConversationSlaBreached(
        conversation_id=conversation_id,
        channel_id=uuid.uuid4(),
        network="x",
        priority="high",
        target_minutes=240,
        waiting_since=at - timedelta(minutes=240),
        breached_at=at,
    )


async def test_breaches_from_conversation_sla_breached(make_settings):
    async with quiet_app(make_settings) as (_app, runtime, client):
        # The service's own handler, driven without the broker (its wiring is what is tested).
        consumer_runtime = Runtime.create(runtime.settings, tables=BUS)
        handlers = {t: h for sub in subscriptions(consumer_runtime, runtime.settings)
                    for t, h in sub.handlers.items()}
        await consumer_runtime.engine.dispose()
        workspace = uuid.uuid4()
        now = datetime.now(UTC)
        events = [
            breach(uuid.uuid4(), now - timedelta(hours=3)),
            breach(uuid.uuid4(), now - timedelta(hours=1)),
            # Older than the range asked for.
            breach(uuid.uuid4(), now - timedelta(days=40)),
        ]
        for event in events:
            envelope = Envelope.of(event, workspace_id=workspace)
            for _ in range(2):  # a redelivered event changes nothing
                async with unit_of_work(runtime.sessions) as session:
                    await handlers["conversation.sla_breached"](session, envelope)
        r = await client.get("/v1/analytics/inbox", headers=identity(workspace))
        assert r.status_code == 200, r.text
        assert r.json()["sla_breaches"] == 2
        other = await client.get("/v1/analytics/inbox", headers=identity(uuid.uuid4()))
        assert other.json()["sla_breaches"] == 0
