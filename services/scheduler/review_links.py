"""External review links: someone without an account reads one post and comments on it.

A link is made for one post by someone who may write posts, lives until it expires (at most
`review_link_max_hours`) or is revoked, and is shown once: only its token's SHA-256 is kept.
Whoever holds it may read that post (copy, media, variants, time, status, the comments left
through links) and add comments, nothing else: no other post, no change to this one. The
token is the credential, so the path is served without an API key (the gateway routes
`/v1/review/…` without one) and each link is rate limited on its own, counted in PostgreSQL
so replicas share the count (a request refused, for bad input or over the limit, rolls its
count back with the rest of its transaction). An unknown, expired or revoked token is the same
404.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Post, ReviewComment, ReviewLink
from services.scheduler.posts import load_post
from shared.auth import Principal
from shared.errors import NotFound, RateLimited

REVIEW_PATH = "/v1/review/"
WINDOW_SECONDS = 60

# One statement counts the request in the link's current window (a new window once the old
# one is over) and says whether the link is still good.
_COUNT = text(
    """
    UPDATE scheduler.review_links
    SET window_start = CASE WHEN window_start IS NULL
                                 OR window_start <= now() - CAST(:window AS interval)
                            THEN now() ELSE window_start END,
        window_count = CASE WHEN window_start IS NULL
                                 OR window_start <= now() - CAST(:window AS interval)
                            THEN 1 ELSE window_count + 1 END
    WHERE token_hash = :hash AND revoked_at IS NULL AND expires_at > now()
    RETURNING id, window_count, window_start
    """
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_link(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    expires_in_hours: int,
    reviewer: str,
) -> tuple[ReviewLink, str]:
    """A new link for the post, and its token (shown this once)."""
    await load_post(session, workspace_id=principal.workspace_id, post_id=post_id)
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    link = ReviewLink(
        id=uuid.uuid4(),
        workspace_id=principal.workspace_id,
        post_id=post_id,
        token_hash=_hash(token),
        reviewer=reviewer,
        created_by=principal.principal_id,
        created_at=now,
        expires_at=now + timedelta(hours=expires_in_hours),
        window_count=0,
    )
    session.add(link)
    await session.flush()
    return link, token


async def links_of(
    session: AsyncSession, *, principal: Principal, post_id: UUID
) -> list[ReviewLink]:
    await load_post(session, workspace_id=principal.workspace_id, post_id=post_id)
    rows = await session.scalars(
        select(ReviewLink).where(ReviewLink.post_id == post_id).order_by(ReviewLink.created_at)
    )
    return list(rows.all())


async def revoke_link(
    session: AsyncSession, *, principal: Principal, post_id: UUID, link_id: UUID
) -> None:
    link = await session.scalar(
        select(ReviewLink).where(
            ReviewLink.id == link_id,
            ReviewLink.post_id == post_id,
            ReviewLink.workspace_id == principal.workspace_id,
        )
    )
    if link is None:
        raise NotFound(f"No review link {link_id} on this post.", field="link_id")
    link.revoked_at = link.revoked_at or datetime.now(UTC)


async def comments_of(session: AsyncSession, *, post_id: UUID) -> list[ReviewComment]:
    rows = await session.scalars(
        select(ReviewComment)
        .where(ReviewComment.post_id == post_id)
        .order_by(ReviewComment.created_at, ReviewComment.id)
    )
    return list(rows.all())


async def open_link(session: AsyncSession, *, token: str, limit: int) -> ReviewLink:
    """The link the token names, with this request counted against its rate limit."""
    row = (
        await session.execute(
            _COUNT, {"hash": _hash(token), "window": timedelta(seconds=WINDOW_SECONDS)}
        )
    ).first()
    if row is None:
        raise NotFound(
            "This review link does not exist, has expired or was revoked.", field="token"
        )
    if row.window_count > limit:
        ends = row.window_start + timedelta(seconds=WINDOW_SECONDS)
        retry = max(1, int((ends - datetime.now(UTC)).total_seconds()))
        raise RateLimited(
            f"At most {limit} requests a minute through one review link; try again in {retry} s.",
            field="token",
            headers={"Retry-After": str(retry)},
        )
    link = await session.get(ReviewLink, row.id)
    assert link is not None
    return link


async def add_comment(
    session: AsyncSession, *, link: ReviewLink, author: str, text_: str
) -> ReviewComment:
    comment = ReviewComment(
        id=uuid.uuid4(),
        workspace_id=link.workspace_id,
        post_id=link.post_id,
        link_id=link.id,
        author=author,
        text=text_,
        created_at=datetime.now(UTC),
    )
    session.add(comment)
    await session.flush()
    return comment


async def reviewed_post(session: AsyncSession, *, link: ReviewLink) -> Post:
    post, _ = await load_post(session, workspace_id=link.workspace_id, post_id=link.post_id)
    return post
