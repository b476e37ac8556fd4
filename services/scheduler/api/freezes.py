"""Freezing and resuming the outgoing queue (crisis response)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler import freezes
from services.scheduler.api.deps import ReaderDep, SettingsDep
from services.scheduler.schemas import FreezeIn, FreezeOut, QueueStateOut, ResumeIn, ResumeOut
from shared import audit
from shared.auth import Principal, require
from shared.service import Runtime, RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/queue", tags=["queue freeze"])

FreezerDep = Annotated[Principal, Depends(require("queue.freeze"))]


@router.post(
    "/freeze",
    response_model=FreezeOut,
    status_code=201,
    summary="Freeze the outgoing queue",
    responses={200: {"description": "Already frozen: the freeze in force, unchanged."}},
)
async def freeze(
    body: FreezeIn,
    principal: FreezerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> FreezeOut:
    """Nothing scheduled goes out (evergreen and recurring posts included) until resumed;
    replies still do. Freezing a frozen scope changes nothing and answers 200."""
    current, new = await freezes.freeze(
        session,
        outbox=runtime.outbox,
        workspace_id=principal.workspace_id,
        channel_id=body.channel_id,
        reason=body.reason,
        by=principal.principal_id,
        now=runtime.clock(),
    )
    if new:
        await _audited(
            session, runtime, principal, "queue.frozen", body.channel_id, {"reason": body.reason}
        )
    else:
        response.status_code = 200
    return FreezeOut.model_validate(current, from_attributes=True)


@router.post("/resume", response_model=ResumeOut, summary="Resume the outgoing queue")
async def resume(
    body: ResumeIn,
    principal: FreezerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> ResumeOut:
    """Without `channel_id`, lifts every freeze of the workspace (its own and its
    channels'); with one, that channel's. What fell due while frozen goes out now, or is
    marked missed when it is later than the workspace's missed-post threshold
    (`missed_after_seconds`). 409 when not frozen."""
    resumed = await freezes.resume(
        session,
        outbox=runtime.outbox,
        workspace_id=principal.workspace_id,
        channel_id=body.channel_id,
        by=principal.principal_id,
        now=runtime.clock(),
        default_missed_after=settings.default_missed_after_seconds,
    )
    details = {"due": resumed.due, "past_threshold": resumed.past_threshold}
    await _audited(session, runtime, principal, "queue.resumed", body.channel_id, details)
    return ResumeOut(
        resumed=[FreezeOut.model_validate(f, from_attributes=True) for f in resumed.freezes],
        due=resumed.due,
        past_threshold=resumed.past_threshold,
    )


@router.get("/state", response_model=QueueStateOut, summary="Whether the queue is frozen")
async def state(principal: ReaderDep, session: SessionDep, runtime: RuntimeDep) -> QueueStateOut:
    active = await freezes.active(session, workspace_id=principal.workspace_id)
    return QueueStateOut(
        frozen=any(f.channel_id is None for f in active),
        freezes=[FreezeOut.model_validate(f, from_attributes=True) for f in active],
        held=await freezes.held_count(
            session, workspace_id=principal.workspace_id, now=runtime.clock()
        ),
    )


async def _audited(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    action: str,
    channel_id: UUID | None,
    details: dict[str, Any],
) -> None:
    """A freeze or resume in the audit log: of the channel, or of the whole workspace."""
    await audit.record(
        session,
        runtime.outbox,
        audit.Actor.of(principal),
        action=action,
        resource_type="channel" if channel_id else "workspace",
        resource_id=channel_id or principal.workspace_id,
        service="scheduler",
        details=details,
    )
