"""Saved replies: a workspace's canned answers, with variables filled in per conversation."""

from __future__ import annotations

import uuid
from typing import Any

import regex
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.models import Channel, Conversation, SavedReply
from shared.auth import Principal
from shared.errors import Conflict, NotFound, ValidationFailed

VARIABLE = regex.compile(r"\{([a-z_]+)\}")
# What each variable becomes; an absent value becomes the fallback after the slash.
VARIABLES = {
    "author": "the person's name, else their handle",
    "author_handle": "the person's handle",
    "channel": "the channel's name",
    "network": "the network",
    "agent": "who sends the reply",
}


def check_template(text: str) -> None:
    unknown = sorted({m for m in VARIABLE.findall(text) if m not in VARIABLES})
    if unknown:
        raise ValidationFailed(
            f"Unknown variable(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"known: {', '.join('{' + v + '}' for v in VARIABLES)}.",
            field="text",
        )


def render(text: str, values: dict[str, str]) -> str:
    # Only `{known}` is replaced: braces in ordinary text are left as written.
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def variables_for(
    *, conversation: Conversation, channel: Channel | None, principal: Principal
) -> dict[str, str]:
    author: dict[str, Any] = conversation.author or {}
    handle = author.get("handle") or ""
    return {
        "author": author.get("name") or handle or "there",
        "author_handle": handle,
        "channel": channel.name if channel else "",
        "network": conversation.network,
        "agent": principal.principal_id,
    }


async def find(session: AsyncSession, *, principal: Principal, reply_id: uuid.UUID) -> SavedReply:
    saved = await session.scalar(
        select(SavedReply).where(SavedReply.id == reply_id,
                                 SavedReply.workspace_id == principal.workspace_id)
    )
    if saved is None:
        raise NotFound(f"No saved reply {reply_id} in this workspace.")
    return saved


async def create(
    session: AsyncSession, *, principal: Principal, name: str, text: str
) -> SavedReply:
    check_template(text)
    saved = SavedReply(workspace_id=principal.workspace_id, name=name, text=text,
                       created_by=principal.principal_id)
    session.add(saved)
    await _flush(session)
    await session.refresh(saved)
    return saved


async def update(
    session: AsyncSession, *, principal: Principal, reply_id: uuid.UUID,
    name: str | None, text: str | None,
) -> SavedReply:
    saved = await find(session, principal=principal, reply_id=reply_id)
    if text is not None:
        check_template(text)
        saved.text = text
    if name is not None:
        saved.name = name
    await _flush(session)
    await session.refresh(saved)
    return saved


async def delete(session: AsyncSession, *, principal: Principal, reply_id: uuid.UUID) -> None:
    await session.delete(await find(session, principal=principal, reply_id=reply_id))
    await session.flush()


async def _flush(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("A saved reply with this name exists already.", field="name") from exc
