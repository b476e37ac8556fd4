"""Response-time targets of the workspace's inbox (services/inbox/sla.py)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.inbox import sla
from services.inbox.api.deps import ReaderDep, RulesDep, audited
from services.inbox.models import SlaTarget
from services.inbox.schemas import SlaTargets
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/inbox/sla", tags=["inbox"])


@router.get("", response_model=SlaTargets, summary="Response-time targets, by priority")
async def get_targets(principal: ReaderDep, session: SessionDep) -> SlaTargets:
    return SlaTargets(**await sla.targets_for(session, principal.workspace_id))


@router.put("", response_model=SlaTargets, summary="Set response-time targets")
async def put_targets(
    body: SlaTargets, principal: RulesDep, session: SessionDep, runtime: RuntimeDep
) -> SlaTargets:
    """Sets the targets named; the others keep theirs. Conversations waiting now are held
    to the new targets from the next look for breaches."""
    changed = body.model_dump(exclude_none=True)
    for priority, minutes in changed.items():
        values = {"minutes": minutes, "updated_by": principal.principal_id}
        await session.execute(
            pg_insert(SlaTarget)
            .values(workspace_id=principal.workspace_id, priority=priority, **values)
            .on_conflict_do_update(
                index_elements=[SlaTarget.workspace_id, SlaTarget.priority], set_=values
            )
        )
    await audited(
        session,
        runtime,
        principal,
        "sla_targets.changed",
        "workspace",
        principal.workspace_id,
        **changed,
    )
    return SlaTargets(**await sla.targets_for(session, principal.workspace_id))
