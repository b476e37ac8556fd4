"""Typed bus handlers: `on(Model, handler)` gives the handler `Received[Model]`.

The wrapper parses the payload into the model before the handler runs, so a handler reads
typed fields and never half-handles a message it cannot take: a payload of another type,
another shape or an unknown version, or one without the workspace the handler asks for, is
refused as a handler error (`MessageRefused`), which the consumer counts against the delivery
limit until the message lands in the dead-letter queue.
"""

from __future__ import annotations

import uuid

import pytest

from services.metrics.models import BUS
from services.metrics.settings import MetricsSettings
from shared.consumer import MessageRefused, Received, Subscription, is_infrastructure_error, on
from shared.events import ChannelDisconnected, Envelope, WorkspaceCreated
from shared.service import Runtime
from tests.security.ops_support import publish, queue_depth
from tests.support.waits import until

# The handlers under test never touch the session: what they get is the point.
NO_SESSION = None


def created(name: str, workspace_id: uuid.UUID | None) -> Envelope:
    return Envelope.of(
        WorkspaceCreated(workspace_id=uuid.uuid4(), name=name, timezone="Europe/Paris"),
        workspace_id=workspace_id,
    )


class Seen:
    """A handler that keeps what it was given, and the workspace it belongs to."""

    def __init__(self) -> None:
        self.events: list[Received[WorkspaceCreated]] = []
        self.workspaces: list[uuid.UUID] = []

    async def __call__(self, session: object, event: Received[WorkspaceCreated]) -> None:
        self.events.append(event)
        self.workspaces.append(event.workspace_id)


async def test_the_handler_gets_typed_data_and_the_envelope() -> None:
    seen = Seen()
    event_type, handler = on(WorkspaceCreated, seen)
    assert event_type == "workspace.created"
    workspace = uuid.uuid4()
    envelope = created("Acme", workspace)

    await handler(NO_SESSION, envelope)  # type: ignore[arg-type]

    [event] = seen.events
    assert isinstance(event.data, WorkspaceCreated)
    assert event.data.name == "Acme" and event.data.timezone == "Europe/Paris"
    assert isinstance(event.data.workspace_id, uuid.UUID)  # parsed, not the JSON string
    assert event.envelope is envelope
    assert event.workspace_id == workspace == seen.workspaces[0]
    assert event.occurred_at == envelope.occurred_at and event.occurred_at.tzinfo is not None


async def test_a_payload_of_another_type_is_refused_before_the_handler_runs() -> None:
    seen = Seen()
    _, handler = on(WorkspaceCreated, seen)
    other = Envelope.of(
        ChannelDisconnected(channel_id=uuid.uuid4(), reason="revoked"), workspace_id=uuid.uuid4()
    )
    with pytest.raises(MessageRefused, match="is not WorkspaceCreated") as refused:
        await handler(NO_SESSION, other)  # type: ignore[arg-type]
    assert not seen.events
    # A handler error, counted against the delivery limit; not an outage to wait out.
    assert not is_infrastructure_error(refused.value)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"data": {"name": "Acme"}}, id="another shape"),
        pytest.param({"version": 99}, id="an unknown version"),
    ],
)
async def test_a_payload_it_cannot_parse_is_refused(change: dict[str, object]) -> None:
    seen = Seen()
    _, handler = on(WorkspaceCreated, seen)
    broken = created("Acme", uuid.uuid4()).model_copy(update=change)
    with pytest.raises(MessageRefused) as refused:
        await handler(NO_SESSION, broken)  # type: ignore[arg-type]
    assert not seen.events
    assert not is_infrastructure_error(refused.value)


async def test_a_message_without_workspace_is_refused_when_the_handler_needs_one() -> None:
    seen = Seen()
    _, handler = on(WorkspaceCreated, seen)
    with pytest.raises(MessageRefused, match="has no workspace_id"):
        await handler(NO_SESSION, created("Nobody's", None))  # type: ignore[arg-type]
    assert seen.workspaces == []


async def test_refused_messages_end_in_the_dead_letter_queue_and_the_rest_is_handled(
    make_settings,
) -> None:
    settings = make_settings(MetricsSettings, delivery_limit=2)
    runtime = Runtime.create(settings, tables=BUS)
    seen = Seen()
    queue = settings.queue_name("typed")
    workspace = uuid.uuid4()
    good = created("Acme", workspace)
    no_workspace = created("Nobody's", None)
    misshapen = created("Broken", workspace).model_copy(update={"data": {"name": "Broken"}})
    subscription = Subscription.of("typed", on(WorkspaceCreated, seen))
    async with runtime.running(subscriptions=[subscription]):
        await until(lambda: runtime.bus.consuming.get(queue), timeout=20, what="the consumer")
        await publish(settings.exchange_name, [no_workspace, misshapen, good])

        async def dead_lettered() -> bool:
            return await queue_depth(f"{queue}.dead") == 2

        await until(dead_lettered, timeout=30, what="the two refused messages dead-lettered")
        await until(lambda: seen.workspaces == [workspace], timeout=10, what="the good one")
    assert [e.envelope.id for e in seen.events if e.data.name == "Acme"] == [good.id]
