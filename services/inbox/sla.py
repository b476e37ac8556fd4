"""Response-time targets: how soon a workspace means to answer a conversation, by priority.

A conversation waits from when it reached the inbox until the team first answers it. One
still open and unanswered past its target has breached it: the loop marks it (the list shows
it `overdue`) and says so once, with `conversation.sla_breached`, which clients receive as a
webhook and the metrics service counts.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.models import Conversation, SlaTarget
from services.inbox.sentiment import PRIORITIES
from shared.events import ConversationSlaBreached, Envelope
from shared.outbox import Outbox

# Minutes; what a workspace that set nothing is held to.
DEFAULT_TARGETS: dict[str, int] = {"urgent": 60, "high": 4 * 60, "normal": 24 * 60, "low": 72 * 60}
assert set(DEFAULT_TARGETS) == set(PRIORITIES)

# An unanswered, open thread that has not been marked yet: the only ones that can breach.
AWAITING = and_(
    Conversation.status == "open",
    Conversation.first_response_at.is_(None),
    Conversation.sla_breached_at.is_(None),
)


async def targets_for(session: AsyncSession, workspace_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(SlaTarget.priority, SlaTarget.minutes).where(SlaTarget.workspace_id == workspace_id)
    )
    return {**DEFAULT_TARGETS, **{priority: minutes for priority, minutes in rows.all()}}


def _target_minutes() -> ColumnElement[Any]:
    """The conversation's target in minutes: the workspace's own, else the default."""
    default = case(DEFAULT_TARGETS, value=Conversation.priority, else_=DEFAULT_TARGETS["normal"])
    return func.coalesce(SlaTarget.minutes, default)


async def mark_breaches(session: AsyncSession, *, outbox: Outbox, now: datetime, batch: int) -> int:
    """Marks up to `batch` conversations that are past their target and emits one event for
    each; returns how many. Rows another replica holds are skipped."""
    minutes = _target_minutes()
    rows = (
        await session.execute(
            select(Conversation, minutes)
            .outerjoin(
                SlaTarget,
                and_(
                    SlaTarget.workspace_id == Conversation.workspace_id,
                    SlaTarget.priority == Conversation.priority,
                ),
            )
            .where(AWAITING)
            .where(Conversation.created_at + func.make_interval(0, 0, 0, 0, 0, minutes) <= now)
            .order_by(Conversation.created_at)
            .limit(batch)
            .with_for_update(of=Conversation, skip_locked=True)
        )
    ).all()
    for conversation, target in rows:
        conversation.sla_breached_at = now
        await outbox.add(
            session,
            Envelope.of(
                ConversationSlaBreached(
                    conversation_id=conversation.id,
                    channel_id=conversation.channel_id,
                    network=conversation.network,
                    priority=conversation.priority,
                    target_minutes=target,
                    waiting_since=conversation.created_at,
                    breached_at=now,
                    assignee=conversation.assignee,
                ),
                workspace_id=conversation.workspace_id,
            ),
        )
    return len(rows)


def is_overdue(conversation: Conversation) -> bool:
    """Past its target and still waiting for the team's first answer."""
    return (
        conversation.sla_breached_at is not None
        and conversation.first_response_at is None
        and conversation.status == "open"
    )


# The list's `overdue` filter: the same as `is_overdue`, in SQL.
OVERDUE = and_(
    Conversation.sla_breached_at.is_not(None),
    Conversation.first_response_at.is_(None),
    Conversation.status == "open",
)
