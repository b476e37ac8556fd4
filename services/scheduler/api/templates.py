"""Templates (a post's content kept for reuse), posts made from them, and duplicates."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from services.scheduler.api.answers import answer_new
from services.scheduler.api.deps import EditingDep, ReaderDep, WriterDep
from services.scheduler.posts import create_post_for
from services.scheduler.schemas import (
    PostOut,
    TemplateIn,
    TemplateOut,
    TemplatePage,
    TemplateUse,
    template_out,
)
from services.scheduler.templates import (
    body_from,
    delete_template,
    duplicate_content,
    get_template,
    list_templates,
    save_template,
)
from shared.service import SessionDep

# Included before the posts router: `/v1/posts/templates` is not a post id.
router = APIRouter(prefix="/v1/posts", tags=["templates"])


@router.get("/templates", response_model=TemplatePage)
async def read_templates(
    principal: ReaderDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TemplatePage:
    rows, next_cursor = await list_templates(
        session, workspace_id=principal.workspace_id, limit=limit, cursor=cursor
    )
    return TemplatePage(items=[template_out(t) for t in rows], next_cursor=next_cursor)


@router.get("/templates/{template_id}", response_model=TemplateOut)
async def read_template(
    template_id: UUID, principal: ReaderDep, session: SessionDep
) -> TemplateOut:
    return template_out(
        await get_template(session, workspace_id=principal.workspace_id, template_id=template_id)
    )


@router.delete("/templates/{template_id}", status_code=204)
async def remove_template(template_id: UUID, principal: WriterDep, session: SessionDep) -> Response:
    await delete_template(session, workspace_id=principal.workspace_id, template_id=template_id)
    return Response(status_code=204)


@router.post("/{post_id}/template", response_model=TemplateOut, status_code=201)
async def save_as_template(
    post_id: UUID, body: TemplateIn, principal: WriterDep, session: SessionDep, response: Response
) -> TemplateOut:
    """Keeps the post's content (copy, media, variants, tags, campaign; not its time)."""
    template = await save_template(session, principal=principal, post_id=post_id, name=body.name)
    response.headers["Location"] = f"/v1/posts/templates/{template.id}"
    return template_out(template)


@router.post("/templates/{template_id}/posts", response_model=PostOut, status_code=201)
async def create_from_template(
    template_id: UUID,
    editing: EditingDep,
    session: SessionDep,
    response: Response,
    use: TemplateUse | None = None,
) -> PostOut:
    """A new post from the template, with the fields given over it (a draft without
    `schedule`)."""
    template = await get_template(
        session, workspace_id=editing.principal.workspace_id, template_id=template_id
    )
    body = body_from(template.body, use or TemplateUse())
    post, targets = await create_post_for(session, editing=editing, body=body)
    return answer_new(response, post, targets)


@router.post("/{post_id}/duplicate", response_model=PostOut, status_code=201)
async def duplicate(
    post_id: UUID,
    editing: EditingDep,
    session: SessionDep,
    response: Response,
    use: TemplateUse | None = None,
) -> PostOut:
    """A copy of the post's content as a new post (a draft unless `schedule` is given)."""
    content = await duplicate_content(session, principal=editing.principal, post_id=post_id)
    body = body_from(content, use or TemplateUse())
    post, targets = await create_post_for(session, editing=editing, body=body)
    return answer_new(response, post, targets)
