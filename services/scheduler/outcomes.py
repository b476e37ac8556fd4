"""How publishing went: each target's outcome as the publisher reports it, and the post's
failure said once every target of it has one."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import SETTLED, Post, Target
from services.scheduler.posts import record_target_moved, refresh_post_status
from services.scheduler.recurrence import is_recurring as schedule_is_recurring
from shared.events import Envelope, PostFailed, PostPartiallyFailed, TargetOutcome
from shared.outbox import Outbox


async def announce_outcome(session: AsyncSession, *, target: Target, outbox: Outbox) -> None:
    """Once every target of the post has an outcome, says `post.failed` when none went out
    and `post.partially_failed` when some failed and some went out (an all-published post
    needs no word beyond each target's `post.published`).

    A recurring post is judged occurrence by occurrence: the targets due at the same instant.
    The post row is locked (`refresh_post_status`), so of two targets settling at once the
    later one sees both outcomes, and only the report that changed a target gets here.
    """
    post = await session.get(Post, target.post_id)
    if post is None:
        return
    query = select(Target).where(Target.post_id == target.post_id)
    if schedule_is_recurring(post.schedule):
        query = query.where(Target.due_at == target.due_at)
    group = list((await session.scalars(query)).all())
    if any(t.status not in SETTLED for t in group):
        return
    failed = [t for t in group if t.status in {"failed", "missed"}]
    published = [t for t in group if t.status == "published"]
    if not failed:
        return
    outcomes = [
        TargetOutcome(
            target_id=t.id,
            channel_id=t.channel_id,
            network=t.network,
            status=t.status,
            error=t.error,
            url=t.url,
        )
        for t in [*published, *failed]
    ]
    data = (
        PostPartiallyFailed(post_id=post.id, due_at=target.due_at, targets=outcomes)
        if published
        else PostFailed(post_id=post.id, due_at=target.due_at, targets=outcomes)
    )
    await outbox.add(session, Envelope.of(data, workspace_id=post.workspace_id))


async def mark_published(
    session: AsyncSession,
    *,
    target_id: UUID,
    external_id: str,
    url: str | None,
    published_at: datetime,
    outbox: Outbox | None = None,
) -> bool:
    """Records a target as live. False when the target is unknown here (nothing to do)."""
    target = await session.get(Target, target_id, with_for_update=True)
    if target is None:
        return False
    previous = target.status
    target.status = "published"
    target.external_id = external_id
    target.url = url
    target.published_at = published_at
    target.error = None
    target.next_attempt_at = None
    record_target_moved(session, target, from_status=previous, by="publisher")
    await refresh_post_status(session, post_id=target.post_id)
    if outbox is not None and previous != "published":
        await announce_outcome(session, target=target, outbox=outbox)
    return True


async def mark_retrying(
    session: AsyncSession,
    *,
    target_id: UUID,
    attempts: int,
    error: str,
    next_attempt_at: datetime,
) -> bool:
    """A target the publisher is still trying: `retrying`, with its attempts, last error and
    next attempt. Reports that arrive late (after the outcome, or older than the one already
    shown) change nothing. False when the target is unknown here."""
    target = await session.get(Target, target_id, with_for_update=True)
    if target is None:
        return False
    if target.status not in ("publishing", "retrying"):
        return True
    if target.status == "retrying" and attempts <= target.attempts:
        return True
    previous = target.status
    target.status = "retrying"
    target.attempts = attempts
    target.error = error
    target.next_attempt_at = next_attempt_at
    if previous != "retrying":
        # One transition for the whole run of retries, not one per attempt.
        record_target_moved(session, target, from_status=previous, by="publisher", comment=error)
    await refresh_post_status(session, post_id=target.post_id)
    return True


async def mark_failed(
    session: AsyncSession, *, target_id: UUID, error: str, outbox: Outbox | None = None
) -> bool:
    target = await session.get(Target, target_id, with_for_update=True)
    if target is None:
        return False
    # A late failure report must not undo a success the publisher reported already.
    if target.status == "published":
        return True
    previous = target.status
    target.status = "failed"
    target.error = error
    target.next_attempt_at = None
    record_target_moved(session, target, from_status=previous, by="publisher", comment=error)
    await refresh_post_status(session, post_id=target.post_id)
    if outbox is not None and previous != "failed":
        await announce_outcome(session, target=target, outbox=outbox)
    return True
