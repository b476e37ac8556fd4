"""Members: invited by email token, listed, given another role, removed with their keys.

Rules: nobody grants (or takes from someone) a role above their own (`ROLE_RANK`), and a
workspace always keeps at least one active owner key. A member's keys never hold more than
the member: a role change takes each key down to what both the key and the new role allow,
and never raises one (an analyst-scoped integration key stays an analyst key when its member
is promoted). Removal revokes them all.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.edge.keys import (
    ROLE_RANK,
    announce,
    hash_secret,
    issue_key,
    other_owner_keys,
)
from services.gateway.models import ApiKey, Invitation, Member
from shared.auth import PERMISSIONS, ROLES, Role
from shared.errors import Conflict, NotFound, PermissionDenied

KEY_NAME_LENGTH = ApiKey.__table__.c.name.type.length

INVITATION_PREFIX = "hinv_"


def _check_grant(*, by_role: str, role: str, verb: str) -> None:
    if ROLE_RANK[role] > ROLE_RANK[by_role]:
        raise PermissionDenied(f"The role '{by_role}' may not {verb} the role '{role}'.")


async def invite(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    email: str,
    role: Role,
    by_role: str,
    by: str,
    ttl: timedelta,
    now: datetime,
) -> tuple[Invitation, str]:
    """An invitation and its token (returned once; only its hash is kept)."""
    _check_grant(by_role=by_role, role=role, verb="grant")
    email = email.strip().lower()
    existing = await session.scalar(
        select(Member.id).where(
            Member.workspace_id == workspace_id,
            Member.email == email,
            Member.removed_at.is_(None),
        )
    )
    if existing is not None:
        raise Conflict(f"{email} is already a member of this workspace.", field="email")
    token = INVITATION_PREFIX + secrets.token_urlsafe(32)
    invitation = Invitation(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        email=email,
        role=role,
        token_hash=hash_secret(token),
        invited_by=by,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invitation)
    await session.flush()
    return invitation, token


def key_name(owner: str) -> str:
    """"<owner>'s key", shortened to fit the key's name column (an email may be 320 long)."""
    suffix = "'s key"
    return owner[: KEY_NAME_LENGTH - len(suffix)] + suffix


async def accept(
    session: AsyncSession,
    *,
    token: str,
    name: str | None,
    key_prefix: str,
    now: datetime,
) -> tuple[Member, ApiKey, str]:
    """The new member and their first API key (secret returned once)."""
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_secret(token)).with_for_update()
    )
    # One answer for unknown, used and expired tokens: a guesser learns nothing.
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= now:
        raise NotFound(
            "This invitation is not valid: unknown, already used or expired.", field="token"
        )
    already = await session.scalar(
        select(Member.id).where(
            Member.workspace_id == invitation.workspace_id,
            Member.email == invitation.email,
            Member.removed_at.is_(None),
        )
    )
    if already is not None:
        raise Conflict(f"{invitation.email} is already a member of this workspace.", field="token")
    member = Member(
        id=uuid.uuid4(),
        workspace_id=invitation.workspace_id,
        email=invitation.email,
        name=name,
        role=invitation.role,
        invited_by=invitation.invited_by,
        created_at=now,
    )
    session.add(member)
    await session.flush()
    invitation.accepted_at = now
    invitation.member_id = member.id
    key, secret = await issue_key(
        session,
        workspace_id=invitation.workspace_id,
        name=key_name(name or invitation.email),
        role=invitation.role,  # type: ignore[arg-type]  (checked when invited)
        prefix=key_prefix,
        created_by=f"invitation:{invitation.id}",
        member_id=member.id,
    )
    return member, key, secret


async def list_members(
    session: AsyncSession, *, workspace_id: UUID, limit: int, after: tuple[datetime, UUID] | None
) -> list[Member]:
    query = select(Member).where(Member.workspace_id == workspace_id, Member.removed_at.is_(None))
    if after is not None:
        query = query.where((Member.created_at, Member.id) > after)
    query = query.order_by(Member.created_at, Member.id).limit(limit)
    return list((await session.scalars(query)).all())


async def _member(session: AsyncSession, *, workspace_id: UUID, member_id: UUID) -> Member:
    member = await session.scalar(
        select(Member)
        .where(
            Member.id == member_id,
            Member.workspace_id == workspace_id,
            Member.removed_at.is_(None),
        )
        .with_for_update()
    )
    if member is None:
        raise NotFound(f"No member {member_id} in this workspace.", field="id")
    return member


async def _keep_an_owner(session: AsyncSession, *, workspace_id: UUID, member_id: UUID) -> None:
    """Refuses a change that would leave the workspace without an active owner key."""
    others = await other_owner_keys(
        session,
        workspace_id=workspace_id,
        besides=(ApiKey.member_id.is_(None)) | (ApiKey.member_id != member_id),
    )
    if not others:
        raise Conflict(
            "This would leave the workspace without an owner; make someone else owner first."
        )


def _allowed(role: str) -> frozenset[str]:
    return frozenset(name for name, roles in PERMISSIONS.items() if role in roles)


def key_role_after(key_role: str, member_role: str) -> Role:
    """The role a member's key keeps when the member's role changes: the most capable role
    allowed nothing that either the key or the member's new role is refused.

    A key under the new role keeps its own; above it, it goes down to it; beside it (an editor
    key of a member made reviewer) it goes down to what both share (analyst).
    """
    both = _allowed(key_role) & _allowed(member_role)
    within = [r for r in ROLES if _allowed(r) <= both]
    return max(within, key=lambda r: (len(_allowed(r)), r == key_role))


async def change_role(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    member_id: UUID,
    role: Role,
    by_role: str,
) -> tuple[Member, list[str]]:
    """The member with the new role, and the hashes of the keys whose role went down."""
    member = await _member(session, workspace_id=workspace_id, member_id=member_id)
    _check_grant(by_role=by_role, role=member.role, verb="change a member holding")
    _check_grant(by_role=by_role, role=role, verb="grant")
    if member.role == "owner" and role != "owner":
        await _keep_an_owner(session, workspace_id=workspace_id, member_id=member.id)
    member.role = role
    keys = await session.scalars(
        select(ApiKey)
        .where(ApiKey.member_id == member.id, ApiKey.revoked_at.is_(None))
        .with_for_update()
    )
    changed = []
    for key in keys.all():
        after = key_role_after(key.role, role)
        if after != key.role:
            key.role = after
            changed.append(key.secret_hash)
    await session.flush()
    await announce(session, *(f"changed:{h}" for h in changed))
    return member, changed


async def remove(
    session: AsyncSession, *, workspace_id: UUID, member_id: UUID, by_role: str
) -> list[str]:
    """Removes the member; returns the hashes of the keys revoked with them."""
    member = await _member(session, workspace_id=workspace_id, member_id=member_id)
    _check_grant(by_role=by_role, role=member.role, verb="remove a member holding")
    if member.role == "owner":
        await _keep_an_owner(session, workspace_id=workspace_id, member_id=member.id)
    member.removed_at = func.now()
    hashes = await session.scalars(
        update(ApiKey)
        .where(ApiKey.member_id == member.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ApiKey.secret_hash)
    )
    revoked = list(hashes.all())
    await session.flush()
    await announce(session, *(f"revoked:{h}" for h in revoked))
    return revoked
