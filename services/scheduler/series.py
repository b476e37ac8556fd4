"""Editing a recurring post as a series: its copy, variants, channels, tags or rule.

Each occurrence is a row (see `recurrence`). Occurrences already claimed, published, failed or
missed keep what they went out with: their copy is written onto them before the post's
changes. The occurrences still only planned are planned again from the (new) rule: one that
falls at the same instant on the same channel keeps its row and id, the others are removed and
the new ones added, and the events say so (`post.canceled` for the removed, `post.scheduled`
for the added). A series may also become a one-off post or a draft again (`schedule` without
`rrule`, or null); its past occurrences stay.

No occurrence can be claimed meanwhile: the post row is locked, and the dispatcher claims only
targets whose post it can lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Channel, Post, Target
from services.scheduler.planning import (
    EDITABLE,
    Editing,
    calendar_news,
    checked,
    edited_event,
    media_json,
    merge,
    plan_times,
    status_after_edit,
    variant_of,
    wake_dispatcher_if_needed,
    write_copy,
)
from services.scheduler.posts import load_post, record_transition, summarize
from services.scheduler.recurrence import expand
from services.scheduler.schemas import PostIn, PostPatch, TargetIn
from shared.events import Envelope

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass
class _Replanned:
    """The planned occurrences after an edit: kept (same channel and instant), added, removed."""

    kept: list[Target] = field(default_factory=list)
    added: list[Target] = field(default_factory=list)
    removed: list[Target] = field(default_factory=list)


def current_variants(targets: Sequence[Target]) -> list[TargetIn]:
    """The current variant of each channel: its next planned occurrence's, else its latest."""

    def rank(t: Target) -> tuple[int, float]:
        due = (t.due_at or _NEVER).timestamp()
        return (1, -due) if t.status in EDITABLE else (0, due)

    variants: dict[UUID, Target] = {}
    for target in sorted(targets, key=lambda t: (t.position, t.channel_id)):
        best = variants.get(target.channel_id)
        if best is None or rank(target) > rank(best):
            variants[target.channel_id] = target
    return [variant_of(t) for t in variants.values()]


async def edit_series(
    session: AsyncSession,
    *,
    editing: Editing,
    post: Post,
    targets: list[Target],
    patch: PostPatch,
) -> tuple[Post, list[Target]]:
    """Edits a recurring post (see the module)."""
    open_ = [t for t in targets if t.status in EDITABLE]
    closed = [t for t in targets if t.status not in EDITABLE]
    schedule_changed = "schedule" in patch.model_fields_set
    merged, channels = await checked(
        session, editing=editing, body=merge(post, current_variants(targets), patch)
    )
    firsts = await plan_times(
        session,
        schedule=merged.schedule,
        channels=channels,
        principal=editing.principal,
        now=editing.now,
        post_id=post.id,
        fresh=schedule_changed,
    )
    current = summarize([t.status for t in open_]) if open_ else "scheduled"
    status = await status_after_edit(
        session,
        post=post,
        current=current,
        planned=merged.schedule is not None,
        principal=editing.principal,
        defaults=editing.defaults,
    )
    was_scheduled = any(t.status == "scheduled" for t in open_)
    if patch.text is not None or patch.media is not None:
        _keep_what_went_out(post, closed)
    replanned = await _replan(
        session, editing=editing, post=post, open_=open_, closed=closed, merged=merged,
        channels=channels, firsts=firsts, status=status,
    )  # fmt: skip
    write_copy(post, merged, schedule_changed=schedule_changed, now=editing.now)
    if status != current:
        record_transition(
            session, post_id=post.id, from_status=current, to_status=status,
            by=editing.principal.principal_id, comment="series edited",
        )  # fmt: skip
    post.status = summarize([t.status for t in [*closed, *replanned.kept, *replanned.added]])
    await session.flush()
    events = await _series_events(
        session, editing=editing, post=post, replanned=replanned, status=status,
        was_scheduled=was_scheduled,
    )  # fmt: skip
    changed = patch.model_fields_set - {"version"}
    events.append(edited_event(post, changed=changed, by=editing.principal.principal_id))
    await editing.outbox.add(session, *events)
    _, after = await load_post(session, workspace_id=post.workspace_id, post_id=post.id)
    return post, after


def _keep_what_went_out(post: Post, closed: Sequence[Target]) -> None:
    """Occurrences already claimed keep the copy they went out with."""
    for target in closed:
        if target.text is None:
            target.text = post.text
        if target.media is None:
            target.media = list(post.media or [])


async def _instants(
    editing: Editing, merged: PostIn, first: datetime | None, tz_name: str | None
) -> list[datetime | None]:
    """The occurrences of one channel within the horizon (the first alone for a one-off)."""
    instants: list[datetime | None] = [first]
    if merged.schedule is not None and merged.schedule.rrule:
        assert first is not None and tz_name is not None
        instants += await expand(
            merged.schedule,
            ZoneInfo(tz_name),
            after=first,
            until=editing.now + editing.recurrence_horizon,
        )
    return instants


async def _replan(
    session: AsyncSession,
    *,
    editing: Editing,
    post: Post,
    open_: list[Target],
    closed: list[Target],
    merged: PostIn,
    channels: Sequence[Channel],
    firsts: Sequence[tuple[datetime | None, str | None]],
    status: str,
) -> _Replanned:
    planned = {(t.channel_id, t.due_at): t for t in open_}
    # An instant that already has its occurrence claimed is never planned a second time.
    taken = {(t.channel_id, t.due_at) for t in closed if t.due_at is not None}
    result = _Replanned()
    for index, (target_in, channel, (first, tz_name)) in enumerate(
        zip(merged.targets, channels, firsts, strict=True)
    ):
        for due_at in await _instants(editing, merged, first, tz_name):
            if (channel.id, due_at) in taken:
                continue
            target = planned.pop((channel.id, due_at), None)
            if target is None:
                target = Target(
                    id=uuid.uuid4(),
                    post_id=post.id,
                    workspace_id=post.workspace_id,
                    channel_id=channel.id,
                    network=channel.network,
                    due_at=due_at,
                )
                session.add(target)
                result.added.append(target)
            else:
                result.kept.append(target)
            target.position = index
            target.text = target_in.text
            target.media = media_json(target_in.media)
            target.options = target_in.options
            target.timezone = tz_name
            target.status = status
    result.removed = list(planned.values())
    if result.removed:
        await session.execute(delete(Target).where(Target.id.in_([t.id for t in result.removed])))
    return result


async def _series_events(
    session: AsyncSession,
    *,
    editing: Editing,
    post: Post,
    replanned: _Replanned,
    status: str,
    was_scheduled: bool,
) -> list[Envelope]:
    fresh: list[Target] = []
    if status == "scheduled":
        fresh = [*replanned.kept, *replanned.added] if not was_scheduled else replanned.added
        await wake_dispatcher_if_needed(
            session,
            due_times=[t.due_at for t in replanned.added],
            horizon=editing.notify_horizon,
            now=editing.now,
        )
    off = [t.id for t in replanned.removed] if was_scheduled else []
    if was_scheduled and status != "scheduled":
        off += [t.id for t in replanned.kept]
    return calendar_news(post, moved=[], put_on=fresh, taken_off=off)
