"""Templates and duplicates: a post's content kept for reuse, and a post made from another.

A template holds what a post says and where (copy, media, variants with their options, tags,
campaign), never when: a post made from it is a draft unless the request gives a schedule.
Making a post from a template or duplicating one goes through `create_post`, so the same
channel and network checks apply as to any new post (a channel disconnected since is a 422
naming the target).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Post, Target, Template
from services.scheduler.pages import newest_first
from services.scheduler.planning import variant_of
from services.scheduler.posts import load_post
from services.scheduler.schemas import PostIn, TemplateUse
from shared.auth import Principal
from shared.errors import NotFound


def _content(post: Post, targets: list[Target]) -> dict[str, Any]:
    """The post's content as a `POST /v1/posts` body without a schedule: one variant per
    channel (a recurring post's next planned one, else its latest)."""
    never = datetime.min.replace(tzinfo=UTC)
    chosen: dict[UUID, Target] = {}
    for target in sorted(targets, key=lambda t: (t.position, t.due_at or never)):
        chosen.setdefault(target.channel_id, target)
    body = PostIn(
        text=post.text,
        media=post.media or [],
        targets=[variant_of(t) for t in chosen.values()],
        tags=list(post.tags or []),
        campaign=post.campaign,
    )
    return body.model_dump(mode="json", exclude_none=True, exclude={"schedule", "evergreen"})


async def save_template(
    session: AsyncSession, *, principal: Principal, post_id: UUID, name: str
) -> Template:
    post, targets = await load_post(session, workspace_id=principal.workspace_id, post_id=post_id)
    template = Template(
        id=uuid.uuid4(),
        workspace_id=principal.workspace_id,
        name=name,
        body=_content(post, targets),
        created_by=principal.principal_id,
        created_at=datetime.now(UTC),
    )
    session.add(template)
    await session.flush()
    return template


async def get_template(session: AsyncSession, *, workspace_id: UUID, template_id: UUID) -> Template:
    template = await session.scalar(
        select(Template).where(Template.id == template_id, Template.workspace_id == workspace_id)
    )
    if template is None:
        raise NotFound(f"No template {template_id} in this workspace.", field="template_id")
    return template


async def delete_template(session: AsyncSession, *, workspace_id: UUID, template_id: UUID) -> None:
    await get_template(session, workspace_id=workspace_id, template_id=template_id)
    await session.execute(delete(Template).where(Template.id == template_id))


async def list_templates(
    session: AsyncSession, *, workspace_id: UUID, limit: int, cursor: str | None
) -> tuple[list[Template], str | None]:
    """Newest first, keyset-paginated like every list."""
    query = select(Template).where(Template.workspace_id == workspace_id)
    return await newest_first(session, query, model=Template, limit=limit, cursor=cursor)


def body_from(content: dict[str, Any], use: TemplateUse) -> PostIn:
    """A new post's body: the saved content, with what the request gives over it."""
    body = dict(content)
    given = use.model_dump(exclude_unset=True, mode="json")
    body.update({key: value for key, value in given.items() if key != "schedule"})
    if use.schedule is not None:
        body["schedule"] = use.schedule.model_dump(mode="json", exclude_defaults=True)
    try:
        return PostIn.model_validate(body)
    except ValidationError as exc:
        # What the request gave over the template makes no valid post: the client's fault,
        # a 422 naming the field.
        raise RequestValidationError(exc.errors(), body=body) from exc


async def duplicate_content(
    session: AsyncSession, *, principal: Principal, post_id: UUID
) -> dict[str, Any]:
    post, targets = await load_post(session, workspace_id=principal.workspace_id, post_id=post_id)
    return _content(post, targets)
