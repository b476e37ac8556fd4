"""External review: links made by the team, and the public pages a link opens."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from services.scheduler.api.deps import OpenedLink, ReaderDep, SettingsDep, WriterDep
from services.scheduler.posts import load_post
from services.scheduler.review_links import (
    REVIEW_PATH,
    add_comment,
    comments_of,
    create_link,
    links_of,
    revoke_link,
)
from services.scheduler.schemas import (
    MediaIn,
    ReviewCommentIn,
    ReviewCommentOut,
    ReviewedPost,
    ReviewedVariant,
    ReviewLinkCreated,
    ReviewLinkIn,
    ReviewLinkOut,
    review_link_out,
)
from services.scheduler.timing import local_time
from shared.errors import ValidationFailed
from shared.service import SessionDep

router = APIRouter(prefix="/v1/posts", tags=["review"])
# Served without the internal token (an open prefix): the token in the URL is the credential.
public_router = APIRouter(prefix=REVIEW_PATH.rstrip("/"), tags=["review"])


@router.post("/{post_id}/review-links", response_model=ReviewLinkCreated, status_code=201)
async def make_link(
    post_id: UUID,
    body: ReviewLinkIn,
    principal: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
) -> ReviewLinkCreated:
    """A link for someone without an account to read this post and comment on it, until
    it expires; shown once."""
    if body.expires_in_hours > settings.review_link_max_hours:
        raise ValidationFailed(
            f"A review link lives at most {settings.review_link_max_hours} hours.",
            field="expires_in_hours",
        )
    link, token = await create_link(
        session,
        principal=principal,
        post_id=post_id,
        expires_in_hours=body.expires_in_hours,
        reviewer=body.reviewer,
    )
    url = f"{settings.public_url.rstrip('/')}{REVIEW_PATH}{token}"
    return ReviewLinkCreated(**review_link_out(link).model_dump(), url=url, token=token)


@router.get("/{post_id}/review-links", response_model=list[ReviewLinkOut])
async def read_links(
    post_id: UUID, principal: ReaderDep, session: SessionDep
) -> list[ReviewLinkOut]:
    return [
        review_link_out(link)
        for link in await links_of(session, principal=principal, post_id=post_id)
    ]


@router.delete("/{post_id}/review-links/{link_id}", status_code=204)
async def revoke(
    post_id: UUID, link_id: UUID, principal: WriterDep, session: SessionDep
) -> Response:
    await revoke_link(session, principal=principal, post_id=post_id, link_id=link_id)
    return Response(status_code=204)


@router.get("/{post_id}/review-comments", response_model=list[ReviewCommentOut])
async def read_comments(
    post_id: UUID, principal: ReaderDep, session: SessionDep
) -> list[ReviewCommentOut]:
    """What external reviewers said about the post."""
    await load_post(session, workspace_id=principal.workspace_id, post_id=post_id)
    rows = await comments_of(session, post_id=post_id)
    return [ReviewCommentOut.model_validate(c, from_attributes=True) for c in rows]


@public_router.get("/{token}", response_model=ReviewedPost)
async def read_reviewed(link: OpenedLink, session: SessionDep) -> ReviewedPost:
    """The post the link is for, read only, with the comments left on it."""
    post, targets = await load_post(session, workspace_id=link.workspace_id, post_id=link.post_id)
    seen: set[UUID] = set()
    variants = []
    for t in targets:
        # One variant per channel (a recurring post: its first occurrence listed).
        if t.channel_id in seen:
            continue
        seen.add(t.channel_id)
        media = t.media if t.media is not None else post.media or []
        variants.append(
            ReviewedVariant(
                network=t.network,
                text=t.text if t.text is not None else post.text,
                media=[MediaIn.model_validate(m) for m in media],
                due_at=t.due_at,
                local_due_at=local_time(t.due_at, t.timezone) if t.due_at and t.timezone else None,
            )
        )
    comments = await comments_of(session, post_id=post.id)
    return ReviewedPost(
        post_id=post.id,
        status=post.status,
        text=post.text,
        media=[MediaIn.model_validate(m) for m in post.media or []],
        variants=variants,
        comments=[ReviewCommentOut.model_validate(c, from_attributes=True) for c in comments],
        expires_at=link.expires_at,
    )


@public_router.post("/{token}/comments", response_model=ReviewCommentOut, status_code=201)
async def comment(body: ReviewCommentIn, link: OpenedLink, session: SessionDep) -> ReviewCommentOut:
    comment = await add_comment(session, link=link, author=body.author, text_=body.text)
    return ReviewCommentOut.model_validate(comment, from_attributes=True)
