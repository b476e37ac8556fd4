"""The audit log: who did what across the workspace, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from services.gateway.api.deps import allowed
from services.gateway.audit import AuditFilter, list_entries
from services.gateway.edge.keys import KeyIdentity
from services.gateway.schemas import AuditEntryOut, AuditPage
from shared.errors import ValidationFailed
from shared.pagination import decode_cursor, page_of
from shared.service import SessionDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])

ReaderDep = Annotated[KeyIdentity, Depends(allowed("audit.read"))]


@router.get("", response_model=AuditPage, summary="Who did what in the workspace")
async def get_audit(
    caller: ReaderDep,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=100, description="An API key id")] = None,
    action: Annotated[
        str | None,
        Query(max_length=100, description="`post.approved`, or `post.` for every post action"),
    ] = None,
    resource_type: Annotated[str | None, Query(max_length=50)] = None,
    resource_id: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> AuditPage:
    """Entries from every service, kept for `GATEWAY_AUDIT_RETENTION_DAYS` (365 by default).

    An entry appears once the change it records has committed and its event reached the
    gateway (usually within a second).
    """
    if since is not None and until is not None and until <= since:
        raise ValidationFailed("`to` must be after `from`.", field="to")
    rows = await list_entries(
        session,
        workspace_id=caller.workspace_id,
        where=AuditFilter(
            actor=actor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            since=since,
            until=until,
        ),
        limit=limit + 1,
        before=decode_cursor(cursor),
    )
    page, next_cursor = page_of(rows, limit, key=lambda entry: (entry.occurred_at, entry.id))
    return AuditPage(
        items=[AuditEntryOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )
