"""Publish jobs: one per post target, claimed by any replica, settled exactly once."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters.base import Published
from services.publisher.models import PublishJob
from shared.events import (
    Envelope,
    EventData,
    PostDue,
    PostPublished,
    PostPublishFailed,
    PostRetrying,
    ReplyFailed,
    ReplyRequested,
    ReplySent,
)
from shared.outbox import Outbox

NOTIFY_CHANNEL = "publisher_jobs"
FIRST_COMMENT = uuid.UUID("5f0c3a4e-8f43-4c1e-9a55-3c1f0e0c2b7d")


def first_comment_id(target_id: uuid.UUID) -> uuid.UUID:
    """The first comment's own job key, fixed by its post target (one comment per target)."""
    return uuid.uuid5(FIRST_COMMENT, str(target_id))


async def record_due(
    session: AsyncSession, *, workspace_id: uuid.UUID, due: PostDue, correlation_id: str | None
) -> bool:
    """Records the job (once per target) and wakes the publishing loop. Returns whether there
    is work: a target already published, or already being worked on, is skipped."""
    now = datetime.now(UTC)
    inserted = await session.scalar(
        pg_insert(PublishJob)
        .values(
            id=uuid.uuid4(),
            target_id=due.target_id,
            post_id=due.post_id,
            channel_id=due.channel_id,
            workspace_id=workspace_id,
            network=due.network,
            text=due.text,
            media=[m.model_dump(mode="json") for m in due.media],
            options=due.options,
            due_at=due.due_at,
            due_attempt=due.attempt,
            retry_until=due.retry_until,
            correlation_id=correlation_id,
            status="pending",
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[PublishJob.target_id])
        .returning(PublishJob.id)
    )
    if inserted is None:
        # The scheduler asking again after a failure is a retry on purpose; anything else is a
        # duplicate delivery of work we already hold.
        reopened = await session.scalar(
            update(PublishJob)
            .where(
                PublishJob.target_id == due.target_id,
                PublishJob.status == "failed",
                PublishJob.due_attempt < due.attempt,
            )
            .values(
                status="pending",
                due_attempt=due.attempt,
                retry_until=due.retry_until,
                attempts=0,
                next_attempt_at=now,
                text=due.text,
                error_class=None,
                error=None,
                updated_at=now,
            )
            .returning(PublishJob.id)
        )
        if reopened is None:
            return False
    await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    return True


async def record_reply(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    request: ReplyRequested,
    correlation_id: str | None,
) -> bool:
    """Records a reply to send, once per `reply_id` (a redelivered request is skipped)."""
    now = datetime.now(UTC)
    options = {
        "in_reply_to": request.in_reply_to,
        "reply_kind": request.kind,
        "recipient_id": request.recipient_id,
        "root_id": request.root_id,
    }
    inserted = await session.scalar(
        pg_insert(PublishJob)
        .values(
            id=uuid.uuid4(),
            kind="reply",
            target_id=request.reply_id,
            post_id=request.conversation_id,
            channel_id=request.channel_id,
            workspace_id=workspace_id,
            network=request.network,
            text=request.text,
            media=[],
            options={k: v for k, v in options.items() if v is not None},
            due_at=now,
            correlation_id=correlation_id,
            status="pending",
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[PublishJob.target_id])
        .returning(PublishJob.id)
    )
    if inserted is None:
        return False
    await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    return True


async def record_first_comment(
    session: AsyncSession, *, job: PublishJob, external_id: str, now: datetime
) -> None:
    """Queues the post's first comment as a job of its own: its retries never hold back the
    post's `post.published`, and a redelivery cannot add a second comment."""
    comment = str(job.options.get("first_comment") or "").strip()
    if not comment:
        return
    await session.execute(
        pg_insert(PublishJob)
        .values(
            id=uuid.uuid4(),
            kind="first_comment",
            target_id=first_comment_id(job.target_id),
            post_id=job.post_id,
            channel_id=job.channel_id,
            workspace_id=job.workspace_id,
            network=job.network,
            text=comment,
            media=[],
            options={"in_reply_to": external_id, "root_id": external_id},
            due_at=now,
            correlation_id=job.correlation_id,
            status="pending",
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[PublishJob.target_id])
    )
    await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_seconds: float, batch: int
) -> list[PublishJob]:
    """Claims due jobs for this replica. A job still `sending` whose lease ran out belonged to
    a process that died mid-call: its post may be live, so it is marked for reconciliation."""
    jobs = list(
        await session.scalars(
            select(PublishJob)
            .where(
                or_(
                    and_(PublishJob.status == "pending", PublishJob.next_attempt_at <= now),
                    and_(PublishJob.status == "sending", PublishJob.lease_until < now),
                )
            )
            .order_by(PublishJob.next_attempt_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    for job in jobs:
        if job.status == "sending":
            job.reconcile = True
        if not job.reconcile:
            job.sent_at = now
        job.status = "sending"
        job.lease_token = uuid.uuid4()
        job.lease_until = now + timedelta(seconds=lease_seconds)
        job.attempts += 1
        job.updated_at = now
    await session.flush()
    return jobs


async def renew_lease(
    session: AsyncSession, *, job_id: uuid.UUID, lease_token: uuid.UUID, lease_seconds: float
) -> bool:
    """Pushes the lease out again; False when it is no longer ours."""
    kept = await session.scalar(
        update(PublishJob)
        .where(
            PublishJob.id == job_id,
            PublishJob.lease_token == lease_token,
            PublishJob.status == "sending",
        )
        .values(lease_until=datetime.now(UTC) + timedelta(seconds=lease_seconds))
        .returning(PublishJob.id)
    )
    return kept is not None


async def record_part(
    session: AsyncSession,
    *,
    job_id: uuid.UUID,
    lease_token: uuid.UUID,
    index: int,
    part: dict[str, Any],
) -> bool:
    """Keeps a thread part that is now on the network, at once and on its own, so whatever
    happens to the rest of the attempt the next one resumes after it. The part is known, so
    nothing is left to reconcile. False when the lease is no longer ours."""
    kept = await session.scalar(
        update(PublishJob)
        .where(
            PublishJob.id == job_id,
            PublishJob.lease_token == lease_token,
            PublishJob.status == "sending",
            func.jsonb_array_length(PublishJob.parts) == index,
        )
        .values(
            parts=PublishJob.parts.op("||")(literal([part], JSONB)),
            reconcile=False,
            updated_at=datetime.now(UTC),
        )
        .returning(PublishJob.id)
    )
    return kept is not None


async def held(
    session: AsyncSession, *, job_id: uuid.UUID, lease_token: uuid.UUID
) -> PublishJob | None:
    """The job, if this replica still holds it; None when the lease was lost meanwhile."""
    job: PublishJob | None = await session.scalar(
        select(PublishJob)
        .where(
            PublishJob.id == job_id,
            PublishJob.lease_token == lease_token,
            PublishJob.status == "sending",
        )
        .with_for_update()
    )
    return job


async def mark_published(
    session: AsyncSession, *, job: PublishJob, published: Published, outbox: Outbox
) -> None:
    now = datetime.now(UTC)
    job.status, job.external_id, job.url = "published", published.external_id, published.url
    job.published_at, job.updated_at = now, now
    job.lease_token = job.lease_until = None
    job.reconcile = False
    job.error_class = job.error = None
    await session.flush()
    if job.kind == "first_comment":
        return
    if job.kind == "reply":
        await tell(
            session,
            outbox,
            job,
            ReplySent(
                reply_id=job.target_id,
                conversation_id=job.post_id,
                channel_id=job.channel_id,
                external_id=published.external_id,
                sent_at=now,
            ),
        )
        return
    await record_first_comment(session, job=job, external_id=published.external_id, now=now)
    await tell(
        session,
        outbox,
        job,
        PostPublished(
            post_id=job.post_id,
            target_id=job.target_id,
            channel_id=job.channel_id,
            network=job.network,
            external_id=published.external_id,
            url=published.url,
            published_at=now,
            due_at=job.due_at,
            text=job.text,
            media_kind=media_kind(job.media),
        ),
    )


async def tell(session: AsyncSession, outbox: Outbox, job: PublishJob, event: EventData) -> None:
    """Says what became of a job's write, in its workspace and under its correlation id."""
    await outbox.add(
        session,
        Envelope.of(event, workspace_id=job.workspace_id, correlation_id=job.correlation_id),
    )


def media_kind(media: list[dict[str, Any]] | None) -> str:
    """What the post showed: "text" without media, else its first item's kind."""
    if not media:
        return "text"
    return str(media[0].get("kind") or "image")


async def mark_failed(
    session: AsyncSession, *, job: PublishJob, error_class: str, error: str, outbox: Outbox
) -> None:
    now = datetime.now(UTC)
    job.status, job.error_class, job.error = "failed", error_class, error
    job.lease_token = job.lease_until = None
    job.updated_at = now
    await session.flush()
    if job.kind == "first_comment":
        return
    if job.kind == "reply":
        await tell(
            session,
            outbox,
            job,
            ReplyFailed(
                reply_id=job.target_id,
                conversation_id=job.post_id,
                channel_id=job.channel_id,
                error_class=error_class,
                error=error,
            ),
        )
        return
    await tell(
        session,
        outbox,
        job,
        PostPublishFailed(
            post_id=job.post_id,
            target_id=job.target_id,
            channel_id=job.channel_id,
            network=job.network,
            error_class=error_class,
            error=error,
            failed_at=now,
        ),
    )


def backoff_delay(
    *,
    attempts: int,
    base: float,
    cap: float,
    retry_after: float | None,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with jitter; a network's own "come back at" wins when it gave one."""
    rng = rng or random.Random()
    if retry_after is not None:
        return retry_after + rng.uniform(0, min(5.0, 0.1 * retry_after + 0.5))
    ceiling = min(cap, base * 2.0 ** max(0, attempts - 1))
    # "Equal jitter": never less than half the step, so retries still back off.
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


async def schedule_retry(
    session: AsyncSession,
    *,
    job: PublishJob,
    error_class: str,
    error: str,
    delay: float,
    reconcile: bool,
    outbox: Outbox | None = None,
) -> None:
    """Sets the next attempt. With `outbox`, says so (`post.retrying`), so the target shows
    `retrying` with the attempt count, the last error and when the next attempt is."""
    now = datetime.now(UTC)
    job.status = "pending"
    job.next_attempt_at = now + timedelta(seconds=delay)
    job.error_class, job.error = error_class, error
    job.reconcile = job.reconcile or reconcile
    job.lease_token = job.lease_until = None
    job.updated_at = now
    await session.flush()
    if outbox is None or job.kind != "post":
        return
    await tell(
        session,
        outbox,
        job,
        PostRetrying(
            post_id=job.post_id,
            target_id=job.target_id,
            channel_id=job.channel_id,
            network=job.network,
            attempts=job.attempts,
            error_class=error_class,
            error=error,
            next_attempt_at=job.next_attempt_at,
        ),
    )


def out_of_time(job: PublishJob, *, now: datetime, delay: float, max_attempts: int) -> bool:
    """Whether a retry `delay` seconds away is too late: past the post's deadline, or, for a
    job without one (replies, first comments), past the attempt limit."""
    if job.retry_until is not None:
        return now + timedelta(seconds=delay) > job.retry_until
    return job.attempts >= max_attempts


async def mark_waiting(session: AsyncSession, *, job: PublishJob, reason: str) -> None:
    """Parks the job until its channel is reconnected (the attempt is not counted)."""
    job.status, job.error_class, job.error = "waiting", "auth_expired", reason
    job.attempts = max(0, job.attempts - 1)
    job.lease_token = job.lease_until = None
    job.updated_at = datetime.now(UTC)
    await session.flush()


async def resume_waiting(session: AsyncSession, *, channel_id: uuid.UUID) -> None:
    now = datetime.now(UTC)
    resumed = await session.execute(
        update(PublishJob)
        .where(PublishJob.channel_id == channel_id, PublishJob.status == "waiting")
        .values(status="pending", next_attempt_at=now, updated_at=now)
        .returning(PublishJob.id)
    )
    if resumed.first() is not None:
        await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
