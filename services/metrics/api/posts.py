"""Per-post analytics."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from sqlalchemy import select

from services.metrics.models import TrackedPost
from services.metrics.schemas import PostAnalytics, TrackedTarget
from shared.auth import Principal, require
from shared.errors import NotFound
from shared.service import SessionDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

AnalystDep = Annotated[Principal, Depends(require("analytics.read"))]


@router.get("/posts/{post_id}", response_model=PostAnalytics)
async def post_analytics(
    post_id: UUID, principal: AnalystDep, session: SessionDep
) -> PostAnalytics:
    rows = (
        await session.scalars(
            select(TrackedPost).where(
                TrackedPost.post_id == post_id,
                TrackedPost.workspace_id == principal.workspace_id,
            )
        )
    ).all()
    if not rows:
        raise NotFound(f"No published post {post_id} in this workspace.", field="post_id")
    return PostAnalytics(
        post_id=post_id,
        targets=[TrackedTarget.model_validate(row, from_attributes=True) for row in rows],
    )
