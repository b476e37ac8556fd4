"""Bus handlers of the publisher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters import Adapters
from services.publisher.changes import record_change
from services.publisher.insights import collect_metrics
from services.publisher.jobs import record_due, record_reply
from services.publisher.moderation import carry_out
from services.publisher.polling import fetch_inbox
from services.publisher.sending import Credentials
from services.publisher.settings import PublisherSettings
from shared.consumer import Received, Subscription, on
from shared.events import (
    CommentModerationRequested,
    InboxFetch,
    MetricsCollect,
    PostDue,
    ReplyRequested,
    TargetDeleteRequested,
    TargetEditRequested,
)
from shared.events.envelope import EventData
from shared.service import Runtime


@dataclass(frozen=True)
class Handlers:
    runtime: Runtime
    adapters: Adapters
    credentials: Credentials
    settings: PublisherSettings

    def network_call(self, event: Received[Any]) -> dict[str, Any]:
        """What a handler that talks to the network while it holds the message is given."""
        return {
            "workspace_id": event.envelope.workspace_id,
            "request": event.data,
            "adapters": self.adapters,
            "credentials": self.credentials,
            "outbox": self.runtime.outbox,
            "causation_id": event.envelope.id,
            "runtime": self.runtime,
            "settings": self.settings,
        }

    async def post_due(self, session: AsyncSession, event: Received[PostDue]) -> None:
        # Only recorded here: the network is called by the publishing loop, outside this
        # transaction, so a slow network never holds a message or a database connection.
        await record_due(
            session,
            workspace_id=event.workspace_id,
            due=event.data,
            correlation_id=event.envelope.correlation_id,
        )

    async def reply_requested(self, session: AsyncSession, event: Received[ReplyRequested]) -> None:
        await record_reply(
            session,
            workspace_id=event.workspace_id,
            request=event.data,
            correlation_id=event.envelope.correlation_id,
        )

    async def change_requested(self, session: AsyncSession, event: Received[Any]) -> None:
        # Recorded once per request id; the change loop calls the network.
        await record_change(
            session,
            workspace_id=event.workspace_id,
            request=event.data,
            correlation_id=event.envelope.correlation_id,
            now=self.runtime.clock(),
        )

    async def inbox_fetch(self, session: AsyncSession, event: Received[InboxFetch]) -> None:
        await fetch_inbox(session, **self.network_call(event))

    async def metrics_collect(self, session: AsyncSession, event: Received[MetricsCollect]) -> None:
        await collect_metrics(session, **self.network_call(event))

    async def moderation_requested(
        self, session: AsyncSession, event: Received[CommentModerationRequested]
    ) -> None:
        await carry_out(session, **self.network_call(event))


def subscriptions(
    runtime: Runtime,
    *,
    adapters: Adapters,
    credentials: Credentials,
    settings: PublisherSettings,
) -> list[Subscription]:
    h = Handlers(runtime=runtime, adapters=adapters, credentials=credentials, settings=settings)
    changes: list[type[EventData]] = [TargetEditRequested, TargetDeleteRequested]
    return [
        Subscription.of("moderation", on(CommentModerationRequested, h.moderation_requested)),
        Subscription.of("posts", on(PostDue, h.post_due)),
        Subscription.of("replies", on(ReplyRequested, h.reply_requested)),
        Subscription.of("inbox", on(InboxFetch, h.inbox_fetch)),
        Subscription.of("metrics", on(MetricsCollect, h.metrics_collect)),
        Subscription.of("changes", *(on(model, h.change_requested) for model in changes)),
    ]
