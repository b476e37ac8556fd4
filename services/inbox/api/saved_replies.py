"""Saved replies: canned answers with variables."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from sqlalchemy import select

from services.inbox import saved_replies
from services.inbox.api.deps import ReaderDep, ResponderDep
from services.inbox.models import SavedReply
from services.inbox.schemas import SavedReplyIn, SavedReplyList, SavedReplyOut, SavedReplyPatch
from shared.service import SessionDep

router = APIRouter(prefix="/v1/saved-replies", tags=["saved replies"])


def out(saved: SavedReply) -> SavedReplyOut:
    return SavedReplyOut.model_validate(saved, from_attributes=True)


@router.get("", response_model=SavedReplyList)
async def list_saved(principal: ReaderDep, session: SessionDep) -> SavedReplyList:
    rows = (
        await session.scalars(
            select(SavedReply)
            .where(SavedReply.workspace_id == principal.workspace_id)
            .order_by(SavedReply.name)
        )
    ).all()
    return SavedReplyList(items=[out(r) for r in rows], variables=saved_replies.VARIABLES)


@router.post("", response_model=SavedReplyOut, status_code=201)
async def create_saved(
    body: SavedReplyIn, principal: ResponderDep, session: SessionDep
) -> SavedReplyOut:
    return out(await saved_replies.create(session, principal=principal, name=body.name,
                                          text=body.text))


@router.get("/{reply_id}", response_model=SavedReplyOut)
async def get_saved(reply_id: UUID, principal: ReaderDep, session: SessionDep) -> SavedReplyOut:
    return out(await saved_replies.find(session, principal=principal, reply_id=reply_id))


@router.patch("/{reply_id}", response_model=SavedReplyOut)
async def patch_saved(
    reply_id: UUID, body: SavedReplyPatch, principal: ResponderDep, session: SessionDep
) -> SavedReplyOut:
    return out(await saved_replies.update(session, principal=principal, reply_id=reply_id,
                                          name=body.name, text=body.text))


@router.delete("/{reply_id}", status_code=204)
async def delete_saved(reply_id: UUID, principal: ResponderDep, session: SessionDep) -> Response:
    await saved_replies.delete(session, principal=principal, reply_id=reply_id)
    return Response(status_code=204)
