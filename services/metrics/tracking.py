"""Which posts this service measures."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.models import TrackedPost
from shared.events import PostPublished


async def track_published_post(
    session: AsyncSession, *, workspace_id: UUID, published: PostPublished
) -> None:
    await session.execute(
        pg_insert(TrackedPost)
        .values(
            target_id=published.target_id,
            post_id=published.post_id,
            workspace_id=workspace_id,
            channel_id=published.channel_id,
            network=published.network,
            external_id=published.external_id,
            url=published.url,
            campaign=published.campaign,
            published_at=published.published_at,
        )
        .on_conflict_do_nothing(index_elements=[TrackedPost.target_id])
    )
