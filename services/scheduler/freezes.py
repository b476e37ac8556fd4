"""Freezing the outgoing queue during a crisis, and resuming it.

A freeze holds every target of its scope (the whole workspace, or one channel) that is still
`scheduled`: the dispatcher passes it over, so nothing scheduled, queued, recurring or
evergreen goes out, while replies (sent by the inbox through the publisher) still do. What
was already handed to the publisher (`publishing`) is not called back.

Resuming releases what fell due meanwhile to the dispatcher, which applies the workspace's
missed-post policy as for any late target: due longer ago than `missed_after_seconds` →
`missed` (with `post.missed`), otherwise published now. A freeze is asked for through the
API or by the inbox (`queue.freeze_requested`, when a raised alert asks for it); either way
it is recorded with who and why, and `queue.frozen` / `queue.resumed` tell everyone else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Channel, QueueFreeze, Target, WorkspaceSettings
from services.scheduler.planning import DUE_CHANNEL
from shared.errors import Conflict, ValidationFailed
from shared.events import Envelope, QueueFrozen, QueueResumed
from shared.outbox import Outbox

WORKSPACE = "workspace"


def scope_of(channel_id: UUID | None) -> str:
    return WORKSPACE if channel_id is None else str(channel_id)


def held_condition() -> str:
    """SQL on a target `t`: true while a freeze of its workspace or its channel holds it."""
    return (
        "EXISTS (SELECT 1 FROM scheduler.queue_freezes f "
        "WHERE f.workspace_id = t.workspace_id AND f.resumed_at IS NULL "
        "AND (f.channel_id IS NULL OR f.channel_id = t.channel_id))"
    )


async def active(session: AsyncSession, *, workspace_id: UUID) -> list[QueueFreeze]:
    return list(
        (
            await session.scalars(
                select(QueueFreeze)
                .where(QueueFreeze.workspace_id == workspace_id, QueueFreeze.resumed_at.is_(None))
                .order_by(QueueFreeze.frozen_at)
            )
        ).all()
    )


async def freeze(
    session: AsyncSession,
    *,
    outbox: Outbox,
    workspace_id: UUID,
    channel_id: UUID | None,
    reason: str,
    by: str,
    now: datetime,
    alert_id: UUID | None = None,
) -> tuple[QueueFreeze, bool]:
    """Freezes the scope; (the freeze, True) when new, (the one in force, False) when the
    scope was frozen already: freezing twice changes nothing."""
    if channel_id is not None:
        known = await session.scalar(
            select(Channel.id).where(Channel.id == channel_id, Channel.workspace_id == workspace_id)
        )
        if known is None:
            raise ValidationFailed(
                f"No channel {channel_id} in this workspace.", field="channel_id"
            )
    freeze_id = await session.scalar(
        pg_insert(QueueFreeze)
        .values(
            id=uuid.uuid4(),
            workspace_id=workspace_id,
            scope=scope_of(channel_id),
            channel_id=channel_id,
            reason=reason,
            frozen_by=by,
            alert_id=alert_id,
            frozen_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=[QueueFreeze.workspace_id, QueueFreeze.scope],
            index_where=QueueFreeze.resumed_at.is_(None),
        )
        .returning(QueueFreeze.id)
    )
    current = await session.scalar(
        select(QueueFreeze).where(
            QueueFreeze.workspace_id == workspace_id,
            QueueFreeze.scope == scope_of(channel_id),
            QueueFreeze.resumed_at.is_(None),
        )
    )
    assert current is not None
    if freeze_id is None:
        return current, False
    await outbox.add(
        session,
        Envelope.of(
            QueueFrozen(
                channel_id=channel_id,
                reason=reason,
                frozen_by=by,
                alert_id=alert_id,
                frozen_at=now,
            ),
            workspace_id=workspace_id,
        ),
    )
    return current, True


@dataclass(frozen=True)
class Resumed:
    # The freezes lifted: the scope's, or every one of the workspace's.
    freezes: list[QueueFreeze]
    due: int
    past_threshold: int


async def resume(
    session: AsyncSession,
    *,
    outbox: Outbox,
    workspace_id: UUID,
    channel_id: UUID | None,
    by: str,
    now: datetime,
    default_missed_after: int,
) -> Resumed:
    """Lifts the channel's freeze, or, without a channel, every freeze of the workspace (its
    own and its channels'); what fell due meanwhile is released to the dispatcher."""
    query = (
        select(QueueFreeze)
        .where(QueueFreeze.workspace_id == workspace_id, QueueFreeze.resumed_at.is_(None))
        .order_by(QueueFreeze.frozen_at)
        .with_for_update()
    )
    if channel_id is not None:
        query = query.where(QueueFreeze.scope == scope_of(channel_id))
    lifted = list((await session.scalars(query)).all())
    if not lifted:
        where = "This channel's" if channel_id else "The workspace's"
        raise Conflict(f"{where} queue is not frozen.")
    for current in lifted:
        current.resumed_by = by
        current.resumed_at = now
    await session.flush()
    due, past = await _released(
        session,
        workspace_id=workspace_id,
        channel_id=channel_id,
        now=now,
        default_missed_after=default_missed_after,
    )
    await outbox.add(
        session,
        *(
            Envelope.of(
                QueueResumed(
                    channel_id=current.channel_id,
                    resumed_by=by,
                    resumed_at=now,
                    frozen_at=current.frozen_at,
                    due=due,
                    past_threshold=past,
                ),
                workspace_id=workspace_id,
            )
            for current in lifted
        ),
    )
    # The dispatcher sleeps until the next due time it can see: wake it for the released.
    await session.execute(text(f"NOTIFY {DUE_CHANNEL}"))
    return Resumed(freezes=lifted, due=due, past_threshold=past)


async def _released(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    channel_id: UUID | None,
    now: datetime,
    default_missed_after: int,
) -> tuple[int, int]:
    """Targets due by now that no freeze holds any longer, and how many of them are later
    than the workspace's missed-post threshold."""
    settings = await session.get(WorkspaceSettings, workspace_id)
    missed_after = timedelta(
        seconds=settings.missed_after_seconds if settings else default_missed_after
    )
    scope = [
        Target.workspace_id == workspace_id,
        Target.status == "scheduled",
        Target.due_at <= now,
    ]
    if channel_id is not None:
        scope.append(Target.channel_id == channel_id)
    # Still held by another freeze (the workspace's, while one channel is resumed).
    still = select(QueueFreeze.id).where(
        QueueFreeze.workspace_id == workspace_id,
        QueueFreeze.resumed_at.is_(None),
        or_(QueueFreeze.channel_id.is_(None), QueueFreeze.channel_id == Target.channel_id),
    )
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Target.due_at < now - missed_after),
            ).where(and_(*scope), ~still.exists())
        )
    ).one()
    return int(row[0]), int(row[1])


async def held_count(session: AsyncSession, *, workspace_id: UUID, now: datetime) -> int:
    """Targets due by now and held by a freeze."""
    return int(
        await session.scalar(
            text(
                "SELECT count(*) FROM scheduler.targets t WHERE t.workspace_id = :ws "
                f"AND t.status = 'scheduled' AND t.due_at <= :now AND {held_condition()}"
            ),
            {"ws": workspace_id, "now": now},
        )
        or 0
    )
