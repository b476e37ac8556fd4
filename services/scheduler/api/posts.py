"""Posts: plan, check and read them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from services.scheduler.api.answers import answer, answer_new
from services.scheduler.api.deps import (
    ApproverDep,
    EditingDep,
    IfMatchDep,
    LookupDep,
    PreviewsDep,
    ReaderDep,
    SettingsDep,
    WriterDep,
)
from services.scheduler.editing import cancel, edit, transitions
from services.scheduler.finding import PostFilters, find_posts, targets_of
from services.scheduler.imports import csv_bytes, csv_export, import_posts, wants_csv
from services.scheduler.occurrences import edit_occurrence, skip_occurrence
from services.scheduler.planning import based_on, validate_post
from services.scheduler.posts import audited, create_post_for, load_post
from services.scheduler.review import approve, reject, submit
from services.scheduler.schemas import (
    ImportCheckOut,
    ImportOut,
    ImportRowError,
    OccurrencePatch,
    PostIn,
    PostOut,
    PostPage,
    PostPatch,
    ReviewIn,
    TransitionOut,
    ValidationOut,
    post_out,
)
from shared.errors import PreconditionRequired, ValidationFailed
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/posts", tags=["posts"])


@router.post("", response_model=PostOut, status_code=201)
async def create(
    body: PostIn,
    editing: EditingDep,
    session: SessionDep,
    response: Response,
) -> PostOut:
    post, targets = await create_post_for(session, editing=editing, body=body)
    await audited(session, editing.outbox, editing.principal, "post.created", post)
    return answer_new(response, post, targets)


@router.post(
    "/import",
    response_model=ImportOut,
    status_code=201,
    responses={200: {"model": ImportCheckOut, "description": "The dry run's verdict"}},
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def import_csv(
    request: Request,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    lookup: LookupDep,
    dry_run: Annotated[
        bool, Query(description="Check every row and answer its problems; save nothing")
    ] = False,
) -> ImportOut | JSONResponse:
    """A CSV of posts (one row per post and channel) as `text/csv` or a multipart `file`;
    all rows or none. With `dry_run=true`: 200 and every row's problems, nothing saved."""
    data = await csv_bytes(request, limit=settings.import_max_bytes)
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("The CSV must be UTF-8.", field="body") from exc
    run = await import_posts(
        session,
        principal=principal,
        raw=raw,
        lookup=lookup,
        outbox=runtime.outbox,
        notify_horizon=settings.dispatch_max_sleep,
        defaults=settings.workspace_defaults,
        recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
        dry_run=dry_run,
    )
    if dry_run:
        failing = {error["row"] for error in run.errors}
        verdict = ImportCheckOut(
            valid=not run.errors,
            rows=run.rows,
            valid_rows=run.rows - len(failing),
            posts=len(run.created),
            errors=[ImportRowError(**error) for error in run.errors],
        )
        return JSONResponse(verdict.model_dump(mode="json"), status_code=200)
    return ImportOut(
        created=len(run.created),
        posts=[post_out(post, targets) for post, targets in run.created],
    )


@router.get("", response_model=PostPage, responses={200: {"content": {"text/csv": {}}}})
async def list_posts(
    request: Request,
    principal: ReaderDep,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=30)] = None,
    channel_id: UUID | None = None,
    network: Annotated[str | None, Query(max_length=20)] = None,
    campaign: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    author: Annotated[str | None, Query(max_length=200, description="Who created it")] = None,
    q: Annotated[
        str | None,
        Query(max_length=500, description="Words the text or a variant contains (any language)"),
    ] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    due_from: Annotated[datetime | None, Query(description="A target due at or after")] = None,
    due_to: Annotated[datetime | None, Query(description="A target due before")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> PostPage | Response:
    """Every post, drafts included, newest first. `Accept: text/csv` exports the page (one
    row per post and channel, the columns `POST /v1/posts/import` reads)."""
    filters = PostFilters(
        status=status,
        channel_id=channel_id,
        network=network,
        campaign=campaign,
        tag=tag,
        author=author,
        q=q,
        created_from=created_from,
        created_to=created_to,
        due_from=due_from,
        due_to=due_to,
    )
    posts, next_cursor = await find_posts(
        session,
        workspace_id=principal.workspace_id,
        filters=filters,
        limit=limit,
        cursor=cursor,
    )
    targets = await targets_of(session, post_ids=[post.id for post in posts])
    if wants_csv(request):
        return csv_export(posts, targets, next_cursor=next_cursor)
    return PostPage(
        items=[post_out(post, targets[post.id]) for post in posts], next_cursor=next_cursor
    )


# Unset fields stay out: a target's `preview` is there only where its network shows a card.
@router.post("/validate", response_model=ValidationOut, response_model_exclude_unset=True)
async def validate(
    body: PostIn,
    principal: WriterDep,
    session: SessionDep,
    lookup: LookupDep,
    previews: PreviewsDep,
) -> ValidationOut:
    """Per target: length, limit and problems; where the network shows a card the client
    builds from the page (Bluesky, LinkedIn, Facebook, Threads; a link and no media), the
    page's `preview`, null when the page could not be read."""
    return await validate_post(
        session, principal=principal, body=body, lookup=lookup, previews=previews
    )


@router.get("/{post_id}", response_model=PostOut)
async def get(
    post_id: UUID, principal: ReaderDep, session: SessionDep, response: Response
) -> PostOut:
    post, targets = await load_post(session, workspace_id=principal.workspace_id, post_id=post_id)
    return answer(response, post, targets)


@router.patch("/{post_id}", response_model=PostOut)
async def update(
    post_id: UUID,
    patch: PostPatch,
    editing: EditingDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatchDep,
) -> PostOut:
    """Only the fields given change (If-Match or `version` required).

    A post that went out (nothing of it still planned) is edited on its networks: `text`
    changes the copy of every target that goes out with the base copy, `targets` (each naming
    a channel the post is live on) the copy of that target alone, and `options.title` a
    YouTube video's title. Where a network's API cannot make the change the request is a 422
    naming the target, and nothing changes; otherwise each target's `change` records what was
    asked, and `edited_at` or `remote_error` (and `post.edited` with `on_network`) how the
    network took it."""
    expected = based_on(if_match, patch.version)
    if expected is None:
        raise PreconditionRequired(
            "Send If-Match with the post's ETag (or its version) so no edit is lost.",
            field="If-Match",
        )
    post, targets = await edit(
        session, editing=editing, post_id=post_id, patch=patch, expected_version=expected
    )
    await audited(session, editing.outbox, editing.principal, "post.edited", post)
    return answer(response, post, targets)


@router.delete("/{post_id}", response_model=PostOut)
async def cancel_post(
    post_id: UUID,
    editing: EditingDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatchDep,
    target_id: Annotated[
        UUID | None, Query(description="Remove only this published target from its network")
    ] = None,
) -> PostOut:
    """Cancels what has not gone out. A post that is out (nothing left to cancel) is removed
    from each network it is live on, where the network's API allows it; one that cannot is a
    422 naming the target, and nothing changes. The outcome arrives later: each target's
    `deleted_at` or `remote_error`, and `post.deleted` with `on_network`."""
    post, targets = await cancel(
        session, editing=editing, post_id=post_id, expected_version=if_match, target_id=target_id
    )
    await audited(session, editing.outbox, editing.principal, "post.canceled", post)
    return answer(response, post, targets)


@router.post("/{post_id}/submit", response_model=PostOut)
async def submit_post(
    post_id: UUID,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatchDep,
) -> PostOut:
    post, targets = await submit(
        session, principal=principal, post_id=post_id, expected_version=if_match
    )
    await audited(session, runtime.outbox, principal, "post.submitted", post)
    return answer(response, post, targets)


@router.post("/{post_id}/approve", response_model=PostOut)
async def approve_post(
    post_id: UUID,
    principal: ApproverDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchDep,
    review: ReviewIn | None = None,
) -> PostOut:
    post, targets = await approve(
        session,
        principal=principal,
        post_id=post_id,
        comment=review.comment if review else None,
        expected_version=if_match,
        outbox=runtime.outbox,
        notify_horizon=settings.dispatch_max_sleep,
        defaults=settings.workspace_defaults,
    )
    await audited(session, runtime.outbox, principal, "post.approved", post)
    return answer(response, post, targets)


@router.post("/{post_id}/reject", response_model=PostOut)
async def reject_post(
    post_id: UUID,
    principal: ApproverDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatchDep,
    review: ReviewIn | None = None,
) -> PostOut:
    post, targets = await reject(
        session,
        principal=principal,
        post_id=post_id,
        comment=review.comment if review else None,
        expected_version=if_match,
        outbox=runtime.outbox,
    )
    await audited(session, runtime.outbox, principal, "post.rejected", post)
    return answer(response, post, targets)


@router.get("/{post_id}/transitions", response_model=list[TransitionOut])
async def post_transitions(
    post_id: UUID, principal: ReaderDep, session: SessionDep
) -> list[TransitionOut]:
    rows = await transitions(session, workspace_id=principal.workspace_id, post_id=post_id)
    return [TransitionOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("/{post_id}/occurrences/{at}/skip", response_model=PostOut)
async def skip_one_occurrence(
    post_id: UUID,
    at: datetime,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchDep,
) -> PostOut:
    """Skips one occurrence of a recurring post (an EXDATE), named by its UTC instant as the
    calendar lists it, with or without a row yet. Answers the series."""
    post, targets = await skip_occurrence(
        session,
        principal=principal,
        post_id=post_id,
        at=at,
        expected_version=if_match,
        outbox=runtime.outbox,
        recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
    )
    return answer(response, post, targets)


@router.patch("/{post_id}/occurrences/{at}", response_model=PostOut, status_code=201)
async def edit_one_occurrence(
    post_id: UUID,
    at: datetime,
    patch: OccurrencePatch,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    lookup: LookupDep,
    response: Response,
    if_match: IfMatchDep,
) -> PostOut:
    """Edits one occurrence alone: it leaves the series (skipped there) and becomes a post of
    its own with the edit, `series_id` and `occurrence_at` set. Answers that new post."""
    post, targets = await edit_occurrence(
        session,
        principal=principal,
        post_id=post_id,
        at=at,
        patch=patch,
        expected_version=based_on(if_match, patch.version),
        lookup=lookup,
        outbox=runtime.outbox,
        notify_horizon=settings.dispatch_max_sleep,
        defaults=settings.workspace_defaults,
        recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
    )
    return answer_new(response, post, targets)
