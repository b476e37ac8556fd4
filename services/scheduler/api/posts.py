"""Posts: plan, check and read them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.api.deps import (
    ApproverDep,
    LookupDep,
    ReaderDep,
    SettingsDep,
    WriterDep,
)
from services.scheduler.finding import PostFilters, find_posts, targets_of
from services.scheduler.imports import csv_export, import_posts, wants_csv
from services.scheduler.lifecycle import (
    approve,
    cancel,
    edit,
    parse_if_match,
    reject,
    submit,
    transitions,
)
from services.scheduler.models import Post
from services.scheduler.occurrences import edit_occurrence, skip_occurrence
from services.scheduler.posts import create_post, load_post, post_out, validate_post
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
)
from shared import audit
from shared.auth import Principal
from shared.errors import PreconditionRequired, ValidationFailed
from shared.limits import PayloadTooLarge
from shared.service import Runtime, RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/posts", tags=["posts"])


def etag(version: int) -> str:
    return f'"{version}"'


async def audited(
    session: AsyncSession, runtime: Runtime, principal: Principal, action: str, post: Post
) -> None:
    """The audit entry of a change someone made to a post (publish results are the
    platform's: consumers.py)."""
    await audit.record(
        session,
        runtime.outbox,
        audit.Actor.of(principal),
        action=action,
        resource_type="post",
        resource_id=post.id,
        service="scheduler",
        details={"status": post.status, "version": post.version},
    )


@router.post("", response_model=PostOut, status_code=201)
async def create(
    body: PostIn,
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
    await audited(session, runtime, principal, "post.created", post)
    response.headers["ETag"] = etag(post.version)
    response.headers["Location"] = f"/v1/posts/{post.id}"
    return post_out(post, targets)


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


async def csv_bytes(request: Request, *, limit: int) -> bytes:
    """The uploaded CSV, refused (413) as soon as it is known to be above `limit` bytes:
    before anything is parsed, and without reading more than the limit."""
    too_large = PayloadTooLarge(f"A CSV import may be at most {limit} bytes.", field="file")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ValidationFailed("Send the CSV as the multipart field 'file'.", field="file")
            if upload.size is not None and upload.size > limit:
                raise too_large
            return await upload.read()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise too_large
    return bytes(data)


@router.post("/validate", response_model=ValidationOut)
async def validate(
    body: PostIn, principal: WriterDep, session: SessionDep, lookup: LookupDep
) -> ValidationOut:
    return await validate_post(session, principal=principal, body=body, lookup=lookup)


@router.get("/{post_id}", response_model=PostOut)
async def get(
    post_id: UUID, principal: ReaderDep, session: SessionDep, response: Response
) -> PostOut:
    post, targets = await load_post(session, workspace_id=principal.workspace_id, post_id=post_id)
    response.headers["ETag"] = etag(post.version)
    return post_out(post, targets)


IfMatch = Annotated[str | None, Header(alias="If-Match")]


@router.patch("/{post_id}", response_model=PostOut)
async def update(
    post_id: UUID,
    patch: PostPatch,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    lookup: LookupDep,
    response: Response,
    if_match: IfMatch = None,
) -> PostOut:
    expected = parse_if_match(if_match)
    if expected is None:
        expected = patch.version
    if expected is None:
        raise PreconditionRequired(
            "Send If-Match with the post's ETag (or its version) so no edit is lost.",
            field="If-Match",
        )
    post, targets = await edit(
        session,
        principal=principal,
        post_id=post_id,
        patch=patch,
        expected_version=expected,
        lookup=lookup,
        outbox=runtime.outbox,
        notify_horizon=settings.dispatch_max_sleep,
        defaults=settings.workspace_defaults,
        recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
    )
    await audited(session, runtime, principal, "post.edited", post)
    response.headers["ETag"] = etag(post.version)
    return post_out(post, targets)


@router.delete("/{post_id}", response_model=PostOut)
async def cancel_post(
    post_id: UUID,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatch = None,
    target_id: Annotated[
        UUID | None, Query(description="Remove only this published target from its network")
    ] = None,
) -> PostOut:
    """Cancels what has not gone out. A post that is out (nothing left to cancel) is removed
    from each network it is live on, where the network's API allows it; one that cannot is a
    422 naming the target, and nothing changes. The outcome arrives later: each target's
    `deleted_at` or `remote_error`, and `post.deleted` with `on_network`."""
    post, targets = await cancel(
        session,
        principal=principal,
        post_id=post_id,
        expected_version=parse_if_match(if_match),
        outbox=runtime.outbox,
        target_id=target_id,
    )
    await audited(session, runtime, principal, "post.canceled", post)
    response.headers["ETag"] = etag(post.version)
    return post_out(post, targets)


@router.post("/{post_id}/submit", response_model=PostOut)
async def submit_post(
    post_id: UUID,
    principal: WriterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    if_match: IfMatch = None,
) -> PostOut:
    post, targets = await submit(
        session, principal=principal, post_id=post_id, expected_version=parse_if_match(if_match)
    )
    await audited(session, runtime, principal, "post.submitted", post)
    response.headers["ETag"] = etag(post.version)
    return post_out(post, targets)


@router.post("/{post_id}/approve", response_model=PostOut)
async def approve_post(
    post_id: UUID,
    principal: ApproverDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    response: Response,
    review: ReviewIn | None = None,
    if_match: IfMatch = None,
) -> PostOut:
    post, targets = await approve(
        session,
        principal=principal,
        post_id=post_id,
        comment=review.comment if review else None,
        expected_version=parse_if_match(if_match),
        outbox=runtime.outbox,
        notify_horizon=settings.dispatch_max_sleep,
        defaults=settings.workspace_defaults,
    )
    await audited(session, runtime, principal, "post.approved", post)
    response.headers["ETag"] = etag(post.version)
    return post_out(post, targets)


@router.post("/{post_id}/reject", response_model=PostOut)
async def reject_post(
    post_id: UUID,
    principal: ApproverDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    review: ReviewIn | None = None,
    if_match: IfMatch = None,
) -> PostOut:
    post, targets = await reject(
        session,
        principal=principal,
        post_id=post_id,
        comment=review.comment if review else None,
        expected_version=parse_if_match(if_match),
        outbox=runtime.outbox,
    )
    await audited(session, runtime, principal, "post.rejected", post)
    response.headers["ETag"] = etag(post.version)
    return post_out(post, targets)


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
    if_match: IfMatch = None,
) -> PostOut:
    """Skips one occurrence of a recurring post (an EXDATE), named by its UTC instant as the
    calendar lists it, with or without a row yet. Answers the series."""
    post, targets = await skip_occurrence(
        session,
        principal=principal,
        post_id=post_id,
        at=at,
        expected_version=parse_if_match(if_match),
        outbox=runtime.outbox,
        recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
    )
    response.headers["ETag"] = etag(post.version)
    return post_out(post, targets)


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
    if_match: IfMatch = None,
) -> PostOut:
    """Edits one occurrence alone: it leaves the series (skipped there) and becomes a post of
    its own with the edit, `series_id` and `occurrence_at` set. Answers that new post."""
    expected = parse_if_match(if_match)
    post, targets = await edit_occurrence(
        session,
        principal=principal,
        post_id=post_id,
        at=at,
        patch=patch,
        expected_version=expected if expected is not None else patch.version,
        lookup=lookup,
        outbox=runtime.outbox,
        notify_horizon=settings.dispatch_max_sleep,
        defaults=settings.workspace_defaults,
        recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
    )
    response.headers["ETag"] = etag(post.version)
    response.headers["Location"] = f"/v1/posts/{post.id}"
    return post_out(post, targets)
