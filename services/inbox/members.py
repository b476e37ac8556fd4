"""Who is in a workspace, as the gateway says (`member.added`, `member.removed`): the people
a conversation may be assigned to. An assignee is a member's id."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.models import Member
from shared.errors import ValidationFailed
from shared.events import MemberAdded, MemberRemoved


async def remember_member(session: AsyncSession, *, workspace_id: UUID, added: MemberAdded) -> None:
    insert = pg_insert(Member).values(
        member_id=added.member_id, workspace_id=workspace_id, email=added.email, name=added.name
    )
    # A removal that arrived first stays: the row only learns who it was.
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[Member.member_id],
            set_={"email": insert.excluded.email, "name": insert.excluded.name},
        )
    )


async def forget_member(
    session: AsyncSession, *, workspace_id: UUID, removed: MemberRemoved
) -> None:
    await session.execute(
        pg_insert(Member)
        .values(member_id=removed.member_id, workspace_id=workspace_id, removed=True)
        .on_conflict_do_update(index_elements=[Member.member_id], set_={"removed": True})
    )


async def is_member(session: AsyncSession, *, workspace_id: UUID, member_id: str) -> bool:
    try:
        parsed = UUID(member_id)
    except ValueError:
        return False
    found = await session.scalar(
        select(Member.member_id).where(
            Member.member_id == parsed, Member.workspace_id == workspace_id, ~Member.removed
        )
    )
    return found is not None


async def require_member(session: AsyncSession, *, workspace_id: UUID, assignee: str) -> None:
    """422 naming `assignee` unless it is a current member of the workspace."""
    if not await is_member(session, workspace_id=workspace_id, member_id=assignee):
        raise ValidationFailed(
            f"{assignee!r} is not a member of this workspace; assign a member's id.",
            field="assignee",
        )
