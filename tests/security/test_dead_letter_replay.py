"""What a consumer dead-lettered can be put back on its queue and is then handled once.

Dead-lettered messages used to stay where they were: nothing but the broker's own tools could
move them back, and moving them through the exchange would have delivered them to every other
service's queue again. `python -m shared.deadletters replay <queue>` puts them back on their
own queue only.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from services.metrics.models import BUS
from services.metrics.settings import MetricsSettings
from shared.consumer import Subscription
from shared.events import Envelope, WorkspaceCreated
from shared.service import Runtime
from tests.security.ops_support import deadletters, publish, queue_depth, wait_until


def workspace_created(name: str) -> Envelope:
    return Envelope.of(
        WorkspaceCreated(workspace_id=uuid.uuid4(), name=name, timezone="UTC"), workspace_id=None
    )


async def test_dead_lettered_messages_are_replayed_to_their_queue_and_handled_once(make_settings):
    settings = make_settings(MetricsSettings, delivery_limit=2)
    runtime = Runtime.create(settings, tables=BUS)
    queue = settings.queue_name("replayed")
    dead_queue = f"{queue}.dead"
    handled: Counter[str] = Counter()
    # A handler with a bug: every message fails until the fix is deployed.
    fixed = asyncio.Event()

    async def on_workspace_created(session, envelope: Envelope) -> None:
        if not fixed.is_set():
            raise ValueError("a bug in the handler")
        handled[envelope.data["name"]] += 1

    subscription = Subscription(
        purpose="replayed", handlers={"workspace.created": on_workspace_created}
    )
    async with runtime.running(subscriptions=[subscription]):
        await wait_until(
            lambda: runtime.bus.consuming.get(queue), what="consumer"
        )
        names = [f"acme-{i}" for i in range(6)]
        await publish(settings.exchange_name, [workspace_created(n) for n in names])
        await wait_until(
            lambda: _equals(queue_depth(dead_queue), 6), what="the messages dead-lettered"
        )
        assert not handled

        fixed.set()
        assert (await deadletters("count", queue)).split() == [dead_queue, "6"]
        out = await deadletters("replay", queue, "--limit", "2")
        assert "moved 2 message(s)" in out
        await wait_until(lambda: sum(handled.values()) == 2, what="two")
        assert await queue_depth(dead_queue) == 4

        out = await deadletters("replay", queue)
        assert "moved 4 message(s)" in out
        await wait_until(lambda: sum(handled.values()) >= 6, what="all")
        assert await queue_depth(dead_queue) == 0
        # Nothing else comes: every message handled exactly once.
        await wait_until(lambda: _equals(queue_depth(queue), 0), what="the queue drained")
        assert handled == Counter(names)


async def _equals(depth, n: int) -> bool:
    return await depth == n
