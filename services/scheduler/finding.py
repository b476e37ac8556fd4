"""Finding posts: every post of the workspace, drafts included, filtered, searched, paginated.

Search (`q`) is substring matching on a lower-cased copy of the post's text and all its
variants (`Post.search_text`), served by a pg_trgm GIN index; no stemming and no dictionary,
so it behaves the same in every language:

- Every word of `q` must occur somewhere in the text or a variant (AND), anywhere in a word.
- Hebrew: prefixes written onto the word are found, "מוצר" matches "והמוצר", "למוצר",
  "שבמוצר"; Hebrew points (niqqud, cantillation) are removed on both sides, so "שָׁלוֹם"
  and "שלום" match each other; suffixes are found too ("ילד" matches "הילדים", "לילדה").
  A word spelled plene in one place and defective in the other ("שולחן" / "שלחן") does not
  match, nor does a form whose stem letters change ("שנה" does not find "שנת").
- Icelandic: an inflected form is found from the part it shares with the searched word,
  "hest" matches "hestur", "hesti", "hestinum"; "hestur" does not match "hesti" (the ending
  differs) and an umlauted stem ("barn" / "börn") does not match. Case is folded
  ("ÞÓRSMÖRK" = "þórsmörk"), accents are not: á, é, í, ó, ú, ý, ö, æ, ð, þ are letters of
  their own, so "a" does not find "á" (no unaccent, on purpose).
- English: "launch" finds "launches" and "relaunched"; "ran" also finds "grand" (substring),
  "running" does not find "ran" (no stemming).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import STATUSES, Post, Target
from services.scheduler.pages import newest_first
from shared.errors import ValidationFailed

MAX_QUERY_WORDS = 10


def _fold(value: str) -> str:
    """Lower case without Hebrew points; other marks (Icelandic accents) stay letters."""
    decomposed = unicodedata.normalize("NFC", value).casefold()
    return "".join(
        ch
        for ch in decomposed
        if not ("\u0591" <= ch <= "\u05c7" and unicodedata.category(ch) == "Mn")
    )


def search_text(text: str, variants: Iterable[str | None]) -> str:
    """What the search looks in: the copy and each distinct variant, folded."""
    parts = list(dict.fromkeys(part for part in [text, *variants] if part))
    return _fold("\n".join(parts))


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def query_words(q: str) -> list[str]:
    words = [word for word in _fold(q).split() if word]
    if not words:
        raise ValidationFailed("q needs at least one word.", field="q")
    if len(words) > MAX_QUERY_WORDS:
        raise ValidationFailed(f"q may have at most {MAX_QUERY_WORDS} words.", field="q")
    return words


@dataclass(frozen=True)
class PostFilters:
    """What `GET /v1/posts` narrows by; every field given must hold (AND)."""

    status: str | None = None
    channel_id: UUID | None = None
    network: str | None = None
    campaign: str | None = None
    tag: str | None = None
    author: str | None = None
    q: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None


def _check_range(start: datetime | None, end: datetime | None, *, names: tuple[str, str]) -> None:
    for value, name in ((start, names[0]), (end, names[1])):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(
                f"{name} needs a UTC offset (e.g. 2030-01-01T00:00:00Z).", field=name
            )
    if start is not None and end is not None and end <= start:
        raise ValidationFailed(f"{names[1]} must be after {names[0]}.", field=names[1])


def filtered(query: Select[tuple[Post]], filters: PostFilters) -> Select[tuple[Post]]:
    if filters.status is not None and filters.status not in STATUSES:
        raise ValidationFailed(f"status is one of {', '.join(sorted(STATUSES))}.", field="status")
    _check_range(filters.created_from, filters.created_to, names=("created_from", "created_to"))
    _check_range(filters.due_from, filters.due_to, names=("due_from", "due_to"))
    post_terms = _given(
        (filters.status, lambda v: Post.status == v),
        (filters.created_from, lambda v: Post.created_at >= v),
        (filters.created_to, lambda v: Post.created_at < v),
        (filters.campaign, lambda v: Post.campaign == v),
        (filters.tag, lambda v: Post.tags.contains([v])),
        (filters.author, lambda v: Post.created_by == v),
    )
    if post_terms:
        query = query.where(*post_terms)
    target_terms = _given(
        (filters.channel_id, lambda v: Target.channel_id == v),
        (filters.network, lambda v: Target.network == v),
        (filters.due_from, lambda v: Target.due_at >= v),
        (filters.due_to, lambda v: Target.due_at < v),
    )
    if target_terms:
        # One target must satisfy them all: "on X, due next week", not "on X" and "due next
        # week" on different channels.
        query = query.where(exists().where(Target.post_id == Post.id, *target_terms))
    if filters.q is not None:
        for word in query_words(filters.q):
            query = query.where(Post.search_text.like(f"%{_like_escape(word)}%", escape="\\"))
    return query


def _given(*terms: tuple[Any, Callable[[Any], ColumnElement[bool]]]) -> list[ColumnElement[bool]]:
    """The conditions of the filters given (a filter left out is None)."""
    return [condition(value) for value, condition in terms if value is not None]


async def find_posts(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    filters: PostFilters,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Post], str | None]:
    """The workspace's posts, newest first, keyset-paginated on (created_at, id)."""
    query = filtered(select(Post).where(Post.workspace_id == workspace_id), filters)
    return await newest_first(session, query, model=Post, limit=limit, cursor=cursor)


async def targets_of(session: AsyncSession, *, post_ids: list[UUID]) -> dict[UUID, list[Target]]:
    found: dict[UUID, list[Target]] = {post_id: [] for post_id in post_ids}
    if not post_ids:
        return found
    rows = await session.scalars(
        select(Target)
        .where(Target.post_id.in_(post_ids))
        .order_by(Target.post_id, Target.position, Target.due_at.nulls_first(), Target.id)
    )
    for target in rows:
        found[target.post_id].append(target)
    return found
