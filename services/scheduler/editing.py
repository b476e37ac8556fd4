"""Changing a post: its copy, variants, channels, tags or time, and canceling it.

Until the dispatcher claims a target (`publishing`), everything can still change, guarded by
the post's version; after that a change is a clear 409. A recurring post is edited as a series
(`series.py`); a post that went out is changed on its networks (`published.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.campaigns import campaign_for_post
from services.scheduler.models import Channel, Post, Target, Transition
from services.scheduler.planning import (
    EDITABLE,
    Editing,
    Versions,
    calendar_news,
    check_version,
    checked,
    edited_event,
    media_json,
    merge,
    plan_times,
    refuse_if_claimed,
    status_after_edit,
    variant_of,
    wake_dispatcher_if_needed,
    write_copy,
)
from services.scheduler.posts import campaign_set_event, load_post, record_transition, summarize
from services.scheduler.published import delete_published, edit_published, is_out, live
from services.scheduler.recurrence import is_recurring
from services.scheduler.schemas import PostIn, PostPatch
from services.scheduler.series import edit_series
from shared.errors import Conflict, NotFound
from shared.events import Envelope, PostCanceled, PostDeleted


async def edit(
    session: AsyncSession,
    *,
    editing: Editing,
    post_id: UUID,
    patch: PostPatch,
    expected_version: Versions,
) -> tuple[Post, list[Target]]:
    """`_edit`, with the campaign named by id or name resolved first (a new name makes a
    campaign) and `post.campaign_set` said when the post changes campaign."""
    principal, outbox = editing.principal, editing.outbox
    moves = {"campaign", "campaign_id"} & patch.model_fields_set
    campaign = None
    if moves:
        campaign = await campaign_for_post(
            session,
            principal=principal,
            name=patch.campaign,
            campaign_id=patch.campaign_id,
            outbox=outbox,
        )
        patch = patch.model_copy(update={"campaign": campaign.name if campaign else None})
    before = await session.scalar(
        select(Post.campaign_id).where(
            Post.id == post_id, Post.workspace_id == principal.workspace_id
        )
    )
    post, targets = await _edit(
        session, editing=editing, post_id=post_id, patch=patch, expected_version=expected_version
    )
    # What earlier stages approved is not what the post says now.
    post.approval_stage = 0
    if moves:
        post.campaign_id = campaign.id if campaign else None
        if post.campaign_id != before:
            await outbox.add(session, campaign_set_event(post, now=editing.now))
    return post, targets


async def _edit(
    session: AsyncSession,
    *,
    editing: Editing,
    post_id: UUID,
    patch: PostPatch,
    expected_version: Versions,
) -> tuple[Post, list[Target]]:
    """Changes copy, variants, channels, tags or the time of a post nobody has claimed yet.

    The post row is locked and its version compared, so of two concurrent edits based on the
    same version one wins and the other gets a 409. The merged post is checked exactly as a
    new one would be.
    """
    post, targets = await load_post(
        session, workspace_id=editing.principal.workspace_id, post_id=post_id, for_update=True
    )
    check_version(post, expected_version)
    if post.status == "canceled":
        raise Conflict("A canceled post cannot be changed.", field="status")
    if is_out(targets) and not is_recurring(post.schedule):
        return await edit_published(
            session,
            post=post,
            targets=targets,
            patch=patch,
            by=editing.principal.principal_id,
            now=editing.now,
            outbox=editing.outbox,
        )
    if is_recurring(post.schedule) or (patch.schedule is not None and patch.schedule.rrule):
        if not is_recurring(post.schedule):
            # A one-off post that went out is history; it does not become a series.
            refuse_if_claimed(targets)
        return await edit_series(session, editing=editing, post=post, targets=targets, patch=patch)
    refuse_if_claimed(targets)
    return await _edit_one_off(session, editing=editing, post=post, targets=targets, patch=patch)


async def _edit_one_off(
    session: AsyncSession,
    *,
    editing: Editing,
    post: Post,
    targets: list[Target],
    patch: PostPatch,
) -> tuple[Post, list[Target]]:
    """When the targets or the schedule change, every due time is planned again from the
    (new) schedule. In a workspace that requires approval, an edit by someone who may not
    approve sends an approved or scheduled post back to review."""
    schedule_changed = "schedule" in patch.model_fields_set
    merged, channels = await checked(
        session, editing=editing, body=merge(post, [variant_of(t) for t in targets], patch)
    )
    times = (
        await plan_times(
            session,
            schedule=merged.schedule,
            channels=channels,
            principal=editing.principal,
            now=editing.now,
            post_id=post.id,
        )
        if schedule_changed or patch.targets is not None
        else [(t.due_at, t.timezone) for t in targets]
    )
    was_scheduled = post.status == "scheduled"
    before = {t.channel_id: t.due_at for t in targets}
    new_targets, dropped = await _retarget(
        session, post=post, targets=targets, merged=merged, channels=channels, times=times
    )
    write_copy(post, merged, schedule_changed=schedule_changed, now=editing.now)
    status = await status_after_edit(
        session,
        post=post,
        current=post.status,
        planned=merged.schedule is not None,
        principal=editing.principal,
        defaults=editing.defaults,
    )
    for target in new_targets:
        target.status = status
    if status != post.status:
        record_transition(
            session, post_id=post.id, from_status=post.status, to_status=status,
            by=editing.principal.principal_id, comment="edited",
        )  # fmt: skip
        post.status = status
    await session.flush()
    events = await _calendar_events(
        session, editing=editing, post=post, targets=new_targets, dropped=dropped,
        before=before, was_scheduled=was_scheduled,
    )  # fmt: skip
    changed = patch.model_fields_set - {"version"}
    events.append(edited_event(post, changed=changed, by=editing.principal.principal_id))
    await editing.outbox.add(session, *events)
    return post, new_targets


async def _retarget(
    session: AsyncSession,
    *,
    post: Post,
    targets: list[Target],
    merged: PostIn,
    channels: Sequence[Channel],
    times: Sequence[tuple[datetime | None, str | None]],
) -> tuple[list[Target], list[Target]]:
    """Keeps the target (and its id) of every channel that stays; adds and drops the others.
    Returns the targets now and the ones dropped."""
    by_channel = {t.channel_id: t for t in targets}
    kept_ids = {target_in.channel_id for target_in in merged.targets}
    dropped = [t for t in targets if t.channel_id not in kept_ids]
    if dropped:
        await session.execute(delete(Target).where(Target.id.in_([t.id for t in dropped])))
    new_targets: list[Target] = []
    for index, (target_in, channel, (due_at, tz_name)) in enumerate(
        zip(merged.targets, channels, times, strict=True)
    ):
        target = by_channel.get(target_in.channel_id)
        if target is None:
            target = Target(
                id=uuid.uuid4(),
                post_id=post.id,
                workspace_id=post.workspace_id,
                channel_id=channel.id,
                network=channel.network,
                status=post.status,
                options={},
            )
            session.add(target)
        target.position = index
        target.text = target_in.text
        target.media = media_json(target_in.media)
        target.options = target_in.options
        target.due_at = due_at
        target.timezone = tz_name
        new_targets.append(target)
    return new_targets, dropped


async def _calendar_events(
    session: AsyncSession,
    *,
    editing: Editing,
    post: Post,
    targets: list[Target],
    dropped: list[Target],
    before: dict[UUID, datetime | None],
    was_scheduled: bool,
) -> list[Envelope]:
    """What the calendar hears of an edit: targets put on it, moved on it, or taken off."""
    scheduled = post.status == "scheduled"
    moved: list[Target] = []
    put_on: list[Target] = []
    if scheduled:
        if was_scheduled:
            moved = [
                t for t in targets if t.channel_id in before and before[t.channel_id] != t.due_at
            ]
            put_on = [t for t in targets if t.channel_id not in before]
        else:
            put_on = targets
        await wake_dispatcher_if_needed(
            session,
            due_times=[t.due_at for t in targets],
            horizon=editing.notify_horizon,
            now=editing.now,
        )
    # Targets that were on the calendar and no longer are.
    off = [t.id for t in dropped] if was_scheduled else []
    if was_scheduled and not scheduled:
        off += [t.id for t in targets if t.channel_id in before]
    return calendar_news(post, moved=moved, put_on=put_on, taken_off=off)


async def cancel(
    session: AsyncSession,
    *,
    editing: Editing,
    post_id: UUID,
    expected_version: Versions,
    target_id: UUID | None = None,
) -> tuple[Post, list[Target]]:
    """Cancels every target not yet claimed. A target being published right now is a 409;
    targets already published or failed stay as they are. Once nothing is left to cancel,
    the published targets are removed from their networks (`published.delete_published`);
    `target_id` removes that one published target alone."""
    principal = editing.principal
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    check_version(post, expected_version)
    publishing = [t for t in targets if t.status in ("publishing", "retrying")]
    if publishing:
        raise Conflict(
            f"{len(publishing)} target(s) are being published right now and cannot be canceled.",
            field="targets",
        )
    open_targets = [t for t in targets if t.status in EDITABLE]
    if target_id is not None or (not open_targets and live(targets)):
        # What is left is out on its networks: removing it from there is what is asked.
        return await delete_published(
            session, post=post, targets=targets, target_id=target_id,
            by=principal.principal_id, now=editing.now, outbox=editing.outbox,
        )  # fmt: skip
    if not open_targets:
        raise Conflict(f"Nothing left to cancel (the post is {post.status}).", field="status")
    by = principal.principal_id
    for target in open_targets:
        target.status = "canceled"
    previous = post.status
    post.status = summarize([t.status for t in targets])
    post.version += 1
    post.updated_at = editing.now
    record_transition(session, post_id=post.id, from_status=previous, to_status="canceled", by=by)
    target_ids = [t.id for t in open_targets]
    await editing.outbox.add(
        session,
        Envelope.of(
            PostCanceled(post_id=post.id, target_ids=target_ids), workspace_id=post.workspace_id
        ),
        Envelope.of(
            PostDeleted(post_id=post.id, by=by, target_ids=target_ids),
            workspace_id=post.workspace_id,
        ),
    )
    return post, targets


async def transitions(
    session: AsyncSession, *, workspace_id: UUID, post_id: UUID
) -> list[Transition]:
    owner = await session.scalar(
        select(Post.id).where(Post.id == post_id, Post.workspace_id == workspace_id)
    )
    if owner is None:
        raise NotFound(f"No post {post_id} in this workspace.", field="post_id")
    return list(
        (
            await session.scalars(
                select(Transition).where(Transition.post_id == post_id).order_by(Transition.id)
            )
        ).all()
    )
