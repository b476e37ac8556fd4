"""Templates (a post's content kept for reuse), posts made from them, and duplicates."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from services.scheduler.api.deps import LookupDep, ReaderDep, SettingsDep, WriterDep
from services.scheduler.models import Template
from services.scheduler.posts import create_post, post_out
from services.scheduler.schemas import (
    PostIn,
    PostOut,
    TemplateIn,
    TemplateOut,
    TemplatePage,
    TemplateUse,
)
from services.scheduler.templates import (
    body_from,
    delete_template,
    duplicate_content,
    get_template,
    list_templates,
    save_template,
)
from shared.service import RuntimeDep, SessionDep

# Included before the posts router: `/v1/posts/templates` is not a post id.
router = APIRouter(prefix="/v1/posts", tags=["templates"])


def _out(template: Template) -> TemplateOut:
    return TemplateOut.model_validate(template, from_attributes=True)


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
    return TemplatePage(items=[_out(t) for t in rows], next_cursor=next_cursor)


@router.get("/templates/{template_id}", response_model=TemplateOut)
async def read_template(
    template_id: UUID, principal: ReaderDep, session: SessionDep
) -> TemplateOut:
    return _out(
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
    return _out(template)


async def _create(
    body: PostIn,
    *,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    lookup: LookupDep,
    response: Response,
) -> PostOut:
    post, targets = await create_post(
        session,
        principal=principal,
        body=body,
        lookup=lookup,
        outbox=runtime.outbox,
        notify_horizon=settings.dispatch_max_sleep,
        defaults=settings.workspace_defaults,
        recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
    )
    response.headers["ETag"] = f'"{post.version}"'
    response.headers["Location"] = f"/v1/posts/{post.id}"
    return post_out(post, targets)


@router.post("/templates/{template_id}/posts", response_model=PostOut, status_code=201)
async def create_from_template(
    template_id: UUID,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    lookup: LookupDep,
    response: Response,
    use: TemplateUse | None = None,
) -> PostOut:
    """A new post from the template, with the fields given over it (a draft without
    `schedule`)."""
    template = await get_template(
        session, workspace_id=principal.workspace_id, template_id=template_id
    )
    body = body_from(template.body, use or TemplateUse())
    return await _create(
        body,
        principal=principal,
        session=session,
        runtime=runtime,
        settings=settings,
        lookup=lookup,
        response=response,
    )


@router.post("/{post_id}/duplicate", response_model=PostOut, status_code=201)
async def duplicate(
    post_id: UUID,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    lookup: LookupDep,
    response: Response,
    use: TemplateUse | None = None,
) -> PostOut:
    """A copy of the post's content as a new post (a draft unless `schedule` is given)."""
    content = await duplicate_content(session, principal=principal, post_id=post_id)
    return await _create(
        body_from(content, use or TemplateUse()),
        principal=principal,
        session=session,
        runtime=runtime,
        settings=settings,
        lookup=lookup,
        response=response,
    )
