"""Members: invitations by email token, acceptance (no key needed), list, role, removal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from services.gateway.api.deps import NoStore, SettingsDep, allowed
from services.gateway.audit import record_by
from services.gateway.edge.keys import KeyIdentity
from services.gateway.members import accept, change_role, invite, list_members, remove
from services.gateway.models import Member
from services.gateway.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    MemberChange,
    MemberJoined,
    MemberOut,
    MemberPage,
)
from shared import audit
from shared.events import Envelope, MemberAdded, MemberRemoved
from shared.pagination import decode_cursor, page_of
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/members", tags=["members"])

ManagerDep = Annotated[KeyIdentity, Depends(allowed("members.manage"))]


def _out(member: Member) -> MemberOut:
    return MemberOut(
        id=member.id,
        email=member.email,
        name=member.name,
        role=member.role,  # type: ignore[arg-type]  (checked on the way in)
        invited_by=member.invited_by,
        created_at=member.created_at,
    )


@router.post(
    "/invitations",
    response_model=InvitationCreated,
    status_code=201,
    dependencies=[NoStore],
    summary="Invite someone by email",
    description="Returns a token to pass on to the invitee (shown once, valid 7 days). "
    "Nobody invites to a role above their own.",
)
async def post_invitation(
    body: InvitationCreate,
    caller: ManagerDep,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> InvitationCreated:
    invitation, token = await invite(
        session,
        workspace_id=caller.workspace_id,
        email=body.email,
        role=body.role,
        by_role=caller.role,
        by=str(caller.key_id),
        ttl=timedelta(days=settings.invitation_ttl_days),
        now=datetime.now(UTC),
    )
    await record_by(
        session,
        runtime.outbox,
        caller,
        action="member.invited",
        resource_type="invitation",
        resource_id=invitation.id,
        details={"email": invitation.email, "role": body.role},
    )
    return InvitationCreated(
        id=invitation.id,
        email=invitation.email,
        role=body.role,
        expires_at=invitation.expires_at,
        token=token,
    )


@router.post(
    "/accept",
    response_model=MemberJoined,
    status_code=201,
    dependencies=[NoStore],
    summary="Accept an invitation (no API key needed)",
    description="The invitation token proves who is calling. Returns the new member and "
    "their first API key, with the invited role (shown once).",
    openapi_extra={"security": []},
)
async def post_accept(
    body: InvitationAccept, session: SessionDep, settings: SettingsDep, runtime: RuntimeDep
) -> MemberJoined:
    member, key, secret = await accept(
        session,
        token=body.token,
        name=body.name,
        key_prefix=settings.api_key_prefix,
        now=datetime.now(UTC),
    )
    # The newcomer is the actor: the invitation token proved who they are.
    await audit.record(
        session,
        runtime.outbox,
        audit.Actor(member.workspace_id, str(key.id), member.role),
        action="member.joined",
        resource_type="member",
        resource_id=member.id,
        service="gateway",
        details={"email": member.email, "role": member.role},
    )
    await runtime.outbox.add(
        session,
        Envelope.of(
            MemberAdded(
                member_id=member.id, email=member.email, name=member.name, role=member.role
            ),
            workspace_id=member.workspace_id,
        ),
    )
    return MemberJoined(
        member=_out(member), workspace_id=member.workspace_id, api_key=secret, api_key_id=key.id
    )


@router.get("", response_model=MemberPage, summary="List members")
async def get_members(
    caller: ManagerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> MemberPage:
    rows = await list_members(
        session, workspace_id=caller.workspace_id, limit=limit + 1, after=decode_cursor(cursor)
    )
    page, next_cursor = page_of(rows, limit)
    return MemberPage(items=[_out(m) for m in page], next_cursor=next_cursor)


@router.patch(
    "/{member_id}",
    response_model=MemberOut,
    summary="Change a member's role",
    description="A member's keys never hold more than the member: each key above the new "
    "role goes down to it, and no key is ever raised (a promoted member's narrower keys keep "
    "their roles).",
)
async def patch_member(
    member_id: UUID,
    body: MemberChange,
    caller: ManagerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    request: Request,
) -> MemberOut:
    member, _ = await change_role(
        session,
        workspace_id=caller.workspace_id,
        member_id=member_id,
        role=body.role,
        by_role=caller.role,
    )
    await record_by(
        session,
        runtime.outbox,
        caller,
        action="member.role_changed",
        resource_type="member",
        resource_id=member.id,
        details={"email": member.email, "role": member.role},
    )
    # This replica at once; the others when the NOTIFY of change_role reaches them.
    request.app.state.authenticator.cache.forget_workspace(caller.workspace_id)
    return _out(member)


@router.delete("/{member_id}", status_code=204, summary="Remove a member and revoke their API keys")
async def delete_member(
    member_id: UUID, caller: ManagerDep, session: SessionDep, runtime: RuntimeDep, request: Request
) -> Response:
    revoked = await remove(
        session, workspace_id=caller.workspace_id, member_id=member_id, by_role=caller.role
    )
    await record_by(
        session,
        runtime.outbox,
        caller,
        action="member.removed",
        resource_type="member",
        resource_id=member_id,
        details={"keys_revoked": len(revoked)},
    )
    await runtime.outbox.add(
        session,
        Envelope.of(MemberRemoved(member_id=member_id), workspace_id=caller.workspace_id),
    )
    for secret_hash in revoked:
        request.app.state.authenticator.cache.revoked(secret_hash)
    return Response(status_code=204)
