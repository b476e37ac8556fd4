"""Bus handlers of the metrics service."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.tracking import track_published_post
from shared.consumer import Subscription
from shared.events import Envelope, PostPublished
from shared.service import Runtime


def subscriptions(runtime: Runtime) -> list[Subscription]:
    async def on_post_published(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.parsed()
        assert isinstance(data, PostPublished) and envelope.workspace_id
        await track_published_post(session, workspace_id=envelope.workspace_id, published=data)

    return [Subscription(purpose="posts", handlers={"post.published": on_post_published})]
