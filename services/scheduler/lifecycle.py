"""A post's life before it goes out: review, approval, last-minute edits and cancellation.

draft → in_review → approved / changes_requested → scheduled → publishing → published / failed,
plus canceled and missed. Until the dispatcher claims a target (`publishing`), everything can
still change, guarded by the post's version; after that a change is a clear 409. A recurring
post stays editable as a series: each edit re-plans the occurrences not yet claimed, and the
claimed ones keep what they went out with.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.campaigns import campaign_for_post
from services.scheduler.channels import ChannelLookup
from services.scheduler.finding import search_text
from services.scheduler.media import resolve_post_media
from services.scheduler.models import Post, Target, Transition
from services.scheduler.posts import (
    campaign_set_event,
    check_variants,
    load_post,
    media_json,
    plan_times,
    raise_for_problems,
    record_transition,
    resolve_channels,
    summarize,
    wake_dispatcher_if_needed,
)
from services.scheduler.published import delete_published, edit_published, is_out, live
from services.scheduler.recurrence import expand, is_recurring
from services.scheduler.schemas import MediaIn, PostIn, PostPatch, ScheduleIn, TargetIn
from services.scheduler.workspaces import Defaults, workspace_settings
from shared.auth import Principal
from shared.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from shared.events import (
    Envelope,
    PostApproved,
    PostCanceled,
    PostDeleted,
    PostEdited,
    PostRejected,
    PostRescheduled,
    PostScheduled,
    TargetRef,
)
from shared.outbox import Outbox

# Statuses in which a target is still only a plan.
EDITABLE = frozenset({"draft", "in_review", "changes_requested", "approved", "scheduled"})
CLAIMED = frozenset({"publishing", "retrying", "published", "failed", "missed"})


def _check_version(post: Post, expected: int | None) -> None:
    if expected is not None and expected != post.version:
        raise Conflict(
            f"The post changed meanwhile (version {post.version}, you sent {expected}); "
            "reload it and try again.",
            field="version",
            extra={"current_version": post.version},
        )


def _refuse_if_claimed(targets: Sequence[Target]) -> None:
    claimed = [t for t in targets if t.status in CLAIMED]
    if claimed:
        raise Conflict(
            f"{len(claimed)} target(s) were already claimed for publishing "
            f"(status {claimed[0].status}); the post can no longer be changed.",
            field="targets",
        )


def _set_status(
    session: AsyncSession,
    *,
    post: Post,
    targets: Sequence[Target],
    status: str,
    by: str,
    comment: str | None = None,
) -> None:
    previous = post.status
    for target in targets:
        if target.status in EDITABLE:
            target.status = status
    post.status = status
    post.version += 1
    post.updated_at = datetime.now(UTC)
    record_transition(
        session, post_id=post.id, from_status=previous, to_status=status, by=by, comment=comment
    )


def edited_event(
    post: Post, *, changed: Iterable[str], by: str, occurrence_at: datetime | None = None
) -> Envelope:
    return Envelope.of(
        PostEdited(
            post_id=post.id,
            post_version=post.version,
            by=by,
            changed=sorted(set(changed)),
            occurrence_at=occurrence_at,
            status=post.status,
        ),
        workspace_id=post.workspace_id,
    )


def _refs(targets: Sequence[Target]) -> list[TargetRef]:
    return [
        TargetRef(target_id=t.id, channel_id=t.channel_id, network=t.network, due_at=t.due_at)
        for t in targets
    ]


async def submit(
    session: AsyncSession, *, principal: Principal, post_id: UUID, expected_version: int | None
) -> tuple[Post, list[Target]]:
    """Asks for review: draft or changes_requested → in_review."""
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    _check_version(post, expected_version)
    if post.status not in {"draft", "changes_requested"}:
        raise Conflict(f"A post that is {post.status} cannot be submitted.", field="status")
    _set_status(session, post=post, targets=targets, status="in_review", by=principal.principal_id)
    post.approval_stage = 0
    return post, targets


async def approve(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    comment: str | None,
    expected_version: int | None,
    outbox: Outbox,
    notify_horizon: float,
    defaults: Defaults | None = None,
) -> tuple[Post, list[Target]]:
    """in_review → scheduled (when it has a time) or approved (a time still to be chosen).

    The role check is the route's (`posts.approve`). In a workspace with approval stages each
    approval is the current stage's (by one it names), and only the last stage's approval
    moves the post on; in one that forbids it, a post's creator approves no stage of it.
    """
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    _check_version(post, expected_version)
    if post.status != "in_review":
        raise Conflict(
            f"Only a post in review can be approved (it is {post.status}).", field="status"
        )
    ws = (
        await workspace_settings(session, workspace_id=post.workspace_id, defaults=defaults)
        if defaults is not None
        else None
    )
    stage = _approval_stage(post, principal=principal, ws=ws)
    if stage is not None and post.approval_stage + 1 < len(ws.approval_stages if ws else ()):
        return await _approve_stage(
            session, post=post, targets=targets, by=principal.principal_id, stage=stage,
            comment=comment, outbox=outbox,
        )  # fmt: skip
    now = datetime.now(UTC)
    scheduled = post.schedule is not None
    # Occurrences of a series that already went out are not part of what is approved.
    planned = [t for t in targets if t.status in EDITABLE]
    if scheduled:
        if post.schedule and post.schedule.get("now"):
            for target in planned:
                target.due_at = now
        late = [t for t in planned if t.due_at is not None and t.due_at <= now]
        if late:
            raise Conflict(
                "The planned time passed while the post waited for review; "
                "give it a new time (PATCH schedule) and submit it again.",
                field="schedule.at",
            )
    by = principal.principal_id
    _set_status(session, post=post, targets=targets, status="approved", by=by, comment=comment)
    events = [
        Envelope.of(
            PostApproved(
                post_id=post.id, by=by, comment=comment, stage=stage["name"] if stage else None
            ),
            workspace_id=post.workspace_id,
        )
    ]
    if scheduled:
        _set_status(session, post=post, targets=targets, status="scheduled", by=by)
        events.append(
            Envelope.of(
                PostScheduled(post_id=post.id, targets=_refs(planned)),
                workspace_id=post.workspace_id,
            )
        )
        await wake_dispatcher_if_needed(
            session, due_times=[t.due_at for t in planned], horizon=notify_horizon
        )
    await outbox.add(session, *events)
    return post, targets


def _approval_stage(
    post: Post, *, principal: Principal, ws: Defaults | None
) -> dict[str, Any] | None:
    """The stage this approval is for (None without stages); refuses who may not give it."""
    if ws is None:
        return None
    if ws.forbid_self_approval and post.created_by == principal.principal_id:
        raise PermissionDenied("In this workspace nobody approves their own post.", field="post_id")
    if not ws.approval_stages:
        return None
    stage = ws.approval_stages[min(post.approval_stage, len(ws.approval_stages) - 1)]
    roles, principals = stage.get("roles") or [], stage.get("principals") or []
    if (roles or principals) and not (
        principal.role in roles or principal.principal_id in principals
    ):
        raise PermissionDenied(
            f"The post waits for the {stage['name']!r} stage, which you may not approve.",
            field="stage",
        )
    return stage


async def _approve_stage(
    session: AsyncSession,
    *,
    post: Post,
    targets: list[Target],
    by: str,
    stage: dict[str, Any],
    comment: str | None,
    outbox: Outbox,
) -> tuple[Post, list[Target]]:
    """One stage approved, more to come: the post stays in review, one stage further."""
    post.approval_stage += 1
    post.version += 1
    post.updated_at = datetime.now(UTC)
    record_transition(
        session,
        post_id=post.id,
        from_status="in_review",
        to_status="in_review",
        by=by,
        comment=f"{stage['name']} approved" + (f": {comment}" if comment else ""),
    )
    await outbox.add(
        session,
        Envelope.of(
            PostApproved(post_id=post.id, by=by, comment=comment, stage=stage["name"], final=False),
            workspace_id=post.workspace_id,
        ),
    )
    return post, targets


async def reject(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    comment: str | None,
    expected_version: int | None,
    outbox: Outbox,
) -> tuple[Post, list[Target]]:
    """in_review → changes_requested, with the reviewer's comment."""
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    _check_version(post, expected_version)
    if post.status != "in_review":
        raise Conflict(
            f"Only a post in review can be rejected (it is {post.status}).", field="status"
        )
    by = principal.principal_id
    _set_status(
        session, post=post, targets=targets, status="changes_requested", by=by, comment=comment
    )
    post.approval_stage = 0
    await outbox.add(
        session,
        Envelope.of(
            PostRejected(post_id=post.id, by=by, comment=comment),
            workspace_id=post.workspace_id,
        ),
    )
    return post, targets


def _variant(target: Target) -> TargetIn:
    return TargetIn(
        channel_id=target.channel_id,
        text=target.text,
        media=[MediaIn.model_validate(m) for m in target.media]
        if target.media is not None
        else None,
        options=target.options or {},
    )


def _merge(post: Post, variants: list[TargetIn], patch: PostPatch) -> PostIn:
    """The post as it will be: the patch's fields over the stored ones."""
    given = patch.model_fields_set
    schedule = (
        patch.schedule
        if "schedule" in given
        else (ScheduleIn.model_validate(post.schedule) if post.schedule else None)
    )
    return PostIn(
        text=patch.text if patch.text is not None else post.text,
        media=patch.media
        if patch.media is not None
        else [MediaIn.model_validate(m) for m in post.media or []],
        targets=patch.targets if patch.targets is not None else variants,
        schedule=schedule,
        tags=patch.tags if patch.tags is not None else list(post.tags or []),
        campaign=patch.campaign if "campaign" in given else post.campaign,
    )


async def _status_after_edit(
    session: AsyncSession,
    *,
    post: Post,
    current: str,
    planned: bool,
    principal: Principal,
    defaults: Defaults,
) -> str:
    """Where an edited plan stands. In a workspace that requires approval, an edit by someone
    who may not approve sends an approved or scheduled plan back to review."""
    ws = await workspace_settings(session, workspace_id=post.workspace_id, defaults=defaults)
    needs_review = ws.approval_required and not principal.can("posts.approve")
    if not planned:
        return current if current in {"in_review", "changes_requested"} else "draft"
    if current == "changes_requested" or (needs_review and current != "draft"):
        # Back to (or still in) review; changes requested stay so until resubmitted.
        return "changes_requested" if current == "changes_requested" else "in_review"
    if needs_review:
        return "in_review"
    if ws.approval_required and current == "in_review":
        # An approver's edit is not an approval; that stays an explicit act.
        return "in_review"
    return "scheduled"


async def edit(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    patch: PostPatch,
    outbox: Outbox,
    **kwargs: Any,
) -> tuple[Post, list[Target]]:
    """`_edit`, with the campaign named by id or name resolved first (a new name makes a
    campaign) and `post.campaign_set` said when the post changes campaign."""
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
        session, principal=principal, post_id=post_id, patch=patch, outbox=outbox, **kwargs
    )
    # What earlier stages approved is not what the post says now.
    post.approval_stage = 0
    if moves:
        post.campaign_id = campaign.id if campaign else None
        if post.campaign_id != before:
            await outbox.add(session, campaign_set_event(post))
    return post, targets


async def _edit(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    patch: PostPatch,
    expected_version: int | None,
    lookup: ChannelLookup | None,
    outbox: Outbox,
    notify_horizon: float,
    defaults: Defaults,
    recurrence_horizon: timedelta = timedelta(days=60),
) -> tuple[Post, list[Target]]:
    """Changes copy, variants, channels, tags or the time of a post nobody has claimed yet.

    The post row is locked and its version compared, so of two concurrent edits based on the
    same version one wins and the other gets a 409. The merged post is checked exactly as a
    new one would be. When the targets or the schedule change, every due time is planned again
    from the (new) schedule. In a workspace that requires approval, an edit by someone who may
    not approve sends an approved or scheduled post back to review.
    """
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    _check_version(post, expected_version)
    if post.status == "canceled":
        raise Conflict("A canceled post cannot be changed.", field="status")
    if is_out(targets) and not is_recurring(post.schedule):
        return await edit_published(
            session,
            post=post,
            targets=targets,
            patch=patch,
            by=principal.principal_id,
            now=datetime.now(UTC),
            outbox=outbox,
        )
    if is_recurring(post.schedule) or (patch.schedule is not None and patch.schedule.rrule):
        if not is_recurring(post.schedule):
            # A one-off post that went out is history; it does not become a series.
            _refuse_if_claimed(targets)
        return await _edit_series(
            session,
            principal=principal,
            post=post,
            targets=targets,
            patch=patch,
            lookup=lookup,
            outbox=outbox,
            notify_horizon=notify_horizon,
            defaults=defaults,
            recurrence_horizon=recurrence_horizon,
        )
    _refuse_if_claimed(targets)
    schedule_changed = "schedule" in patch.model_fields_set
    merged = _merge(post, [_variant(t) for t in targets], patch)
    merged = await resolve_post_media(session, workspace_id=principal.workspace_id, body=merged)
    channels = await resolve_channels(session, principal=principal, body=merged, lookup=lookup)
    raise_for_problems(check_variants(body=merged, channels=channels))

    replan = schedule_changed or patch.targets is not None
    now = datetime.now(UTC)
    times = (
        await plan_times(
            session,
            schedule=merged.schedule,
            channels=channels,
            principal=principal,
            now=now,
            post_id=post.id,
        )
        if replan
        else [(t.due_at, t.timezone) for t in targets]
    )
    was_scheduled = post.status == "scheduled"
    before = {t.channel_id: (t.id, t.due_at) for t in targets}

    # Keep the target (and its id) of every channel that stays; add and drop the others.
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

    post.text = merged.text
    post.search_text = search_text(merged.text, [t.text for t in merged.targets])
    post.media = media_json(merged.media) or []
    post.tags = list(dict.fromkeys(tag.strip() for tag in merged.tags if tag.strip()))
    post.campaign = merged.campaign
    if schedule_changed:
        post.schedule = (
            merged.schedule.model_dump(mode="json", exclude_defaults=True)
            if merged.schedule
            else None
        )
    post.version += 1
    post.updated_at = now

    status = await _status_after_edit(
        session,
        post=post,
        current=post.status,
        planned=merged.schedule is not None,
        principal=principal,
        defaults=defaults,
    )
    by = principal.principal_id
    for target in new_targets:
        target.status = status
    if status != post.status:
        record_transition(
            session,
            post_id=post.id,
            from_status=post.status,
            to_status=status,
            by=by,
            comment="edited",
        )
        post.status = status
    await session.flush()

    events: list[Envelope] = []
    if status == "scheduled":
        moved = [
            t for t in new_targets if t.channel_id in before and before[t.channel_id][1] != t.due_at
        ]
        added = [t for t in new_targets if t.channel_id not in before]
        if not was_scheduled:
            events.append(
                Envelope.of(
                    PostScheduled(post_id=post.id, targets=_refs(new_targets)),
                    workspace_id=post.workspace_id,
                )
            )
        else:
            if moved:
                events.append(
                    Envelope.of(
                        PostRescheduled(post_id=post.id, targets=_refs(moved)),
                        workspace_id=post.workspace_id,
                    )
                )
            if added:
                events.append(
                    Envelope.of(
                        PostScheduled(post_id=post.id, targets=_refs(added)),
                        workspace_id=post.workspace_id,
                    )
                )
        await wake_dispatcher_if_needed(
            session, due_times=[t.due_at for t in new_targets], horizon=notify_horizon
        )
    # Targets that were on the calendar and no longer are.
    off = [t.id for t in dropped] if was_scheduled else []
    if was_scheduled and status != "scheduled":
        off += [t.id for t in new_targets if t.channel_id in before]
    if off:
        events.append(
            Envelope.of(
                PostCanceled(post_id=post.id, target_ids=off), workspace_id=post.workspace_id
            )
        )
    changed = patch.model_fields_set - {"version"}
    events.append(edited_event(post, changed=changed, by=principal.principal_id))
    await outbox.add(session, *events)
    return post, new_targets


async def cancel(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    expected_version: int | None,
    outbox: Outbox,
    target_id: UUID | None = None,
) -> tuple[Post, list[Target]]:
    """Cancels every target not yet claimed. A target being published right now is a 409;
    targets already published or failed stay as they are. Once nothing is left to cancel,
    the published targets are removed from their networks (`published.delete_published`);
    `target_id` removes that one published target alone."""
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    _check_version(post, expected_version)
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
            session,
            post=post,
            targets=targets,
            target_id=target_id,
            by=principal.principal_id,
            now=datetime.now(UTC),
            outbox=outbox,
        )
    if not open_targets:
        raise Conflict(f"Nothing left to cancel (the post is {post.status}).", field="status")
    by = principal.principal_id
    for target in open_targets:
        target.status = "canceled"
    previous = post.status
    post.status = summarize([t.status for t in targets])
    post.version += 1
    post.updated_at = datetime.now(UTC)
    record_transition(session, post_id=post.id, from_status=previous, to_status="canceled", by=by)
    target_ids = [t.id for t in open_targets]
    await outbox.add(
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


def parse_if_match(value: str | None) -> int | None:
    """`If-Match: "3"` (or `W/"3"`, or `3`) → 3; `*` or absent → no precondition."""
    if value is None or value.strip() == "*":
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationFailed("If-Match must be the post's ETag.", field="If-Match") from exc


async def _edit_series(
    session: AsyncSession,
    *,
    principal: Principal,
    post: Post,
    targets: list[Target],
    patch: PostPatch,
    lookup: ChannelLookup | None,
    outbox: Outbox,
    notify_horizon: float,
    defaults: Defaults,
    recurrence_horizon: timedelta,
) -> tuple[Post, list[Target]]:
    """Edits a recurring post: its copy, variants, channels, tags or rule.

    Each occurrence is a row (see `recurrence`). Occurrences already claimed, published,
    failed or missed keep what they went out with: their copy is written onto them before the
    post's changes. The occurrences still only planned are planned again from the (new) rule:
    one that falls at the same instant on the same channel keeps its row and id, the others
    are removed and the new ones added, and the events say so (`post.canceled` for the
    removed, `post.scheduled` for the added). A series may also become a one-off post or a
    draft again (`schedule` without `rrule`, or null); its past occurrences stay.

    No occurrence can be claimed meanwhile: the post row is locked, and the dispatcher claims
    only targets whose post it can lock.
    """
    open_ = [t for t in targets if t.status in EDITABLE]
    closed = [t for t in targets if t.status not in EDITABLE]
    # The current variant of each channel: its next planned occurrence's, else its latest.
    never = datetime.min.replace(tzinfo=UTC)

    def rank(t: Target) -> tuple[int, float]:
        due = (t.due_at or never).timestamp()
        return (1, -due) if t.status in EDITABLE else (0, due)

    variants: dict[UUID, Target] = {}
    for target in sorted(targets, key=lambda t: (t.position, t.channel_id)):
        best = variants.get(target.channel_id)
        if best is None or rank(target) > rank(best):
            variants[target.channel_id] = target
    by_position = [_variant(t) for t in variants.values()]
    schedule_changed = "schedule" in patch.model_fields_set
    merged = _merge(post, by_position, patch)
    merged = await resolve_post_media(session, workspace_id=principal.workspace_id, body=merged)
    channels = await resolve_channels(session, principal=principal, body=merged, lookup=lookup)
    raise_for_problems(check_variants(body=merged, channels=channels))
    now = datetime.now(UTC)
    firsts = await plan_times(
        session,
        schedule=merged.schedule,
        channels=channels,
        principal=principal,
        now=now,
        post_id=post.id,
        fresh=schedule_changed,
    )
    current = summarize([t.status for t in open_]) if open_ else "scheduled"
    status = await _status_after_edit(
        session,
        post=post,
        current=current,
        planned=merged.schedule is not None,
        principal=principal,
        defaults=defaults,
    )
    was_scheduled = any(t.status == "scheduled" for t in open_)

    if patch.text is not None or patch.media is not None:
        for target in closed:
            if target.text is None:
                target.text = post.text
            if target.media is None:
                target.media = list(post.media or [])

    planned = {(t.channel_id, t.due_at): t for t in open_}
    # An instant that already has its occurrence claimed is never planned a second time.
    taken = {(t.channel_id, t.due_at) for t in closed if t.due_at is not None}
    kept: list[Target] = []
    added: list[Target] = []
    for index, (target_in, channel, (first, tz_name)) in enumerate(
        zip(merged.targets, channels, firsts, strict=True)
    ):
        instants: list[datetime | None] = [first]
        if merged.schedule is not None and merged.schedule.rrule:
            assert first is not None and tz_name is not None
            instants += await expand(
                merged.schedule, ZoneInfo(tz_name), after=first, until=now + recurrence_horizon
            )
        for due_at in instants:
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
                added.append(target)
            else:
                kept.append(target)
            target.position = index
            target.text = target_in.text
            target.media = media_json(target_in.media)
            target.options = target_in.options
            target.timezone = tz_name
            target.status = status
    removed = list(planned.values())
    if removed:
        await session.execute(delete(Target).where(Target.id.in_([t.id for t in removed])))

    post.text = merged.text
    post.search_text = search_text(merged.text, [t.text for t in merged.targets])
    post.media = media_json(merged.media) or []
    post.tags = list(dict.fromkeys(tag.strip() for tag in merged.tags if tag.strip()))
    post.campaign = merged.campaign
    if schedule_changed:
        post.schedule = (
            merged.schedule.model_dump(mode="json", exclude_defaults=True)
            if merged.schedule
            else None
        )
    post.version += 1
    post.updated_at = now
    if status != current:
        record_transition(
            session,
            post_id=post.id,
            from_status=current,
            to_status=status,
            by=principal.principal_id,
            comment="series edited",
        )
    post.status = summarize([t.status for t in [*closed, *kept, *added]])
    await session.flush()

    events: list[Envelope] = []
    if status == "scheduled":
        fresh = [*kept, *added] if not was_scheduled else added
        if fresh:
            events.append(
                Envelope.of(
                    PostScheduled(post_id=post.id, targets=_refs(fresh)),
                    workspace_id=post.workspace_id,
                )
            )
        await wake_dispatcher_if_needed(
            session, due_times=[t.due_at for t in added], horizon=notify_horizon
        )
    off = [t.id for t in removed] if was_scheduled else []
    if was_scheduled and status != "scheduled":
        off += [t.id for t in kept]
    if off:
        events.append(
            Envelope.of(
                PostCanceled(post_id=post.id, target_ids=off), workspace_id=post.workspace_id
            )
        )
    changed = patch.model_fields_set - {"version"}
    events.append(edited_event(post, changed=changed, by=principal.principal_id))
    await outbox.add(session, *events)
    _, after = await load_post(session, workspace_id=post.workspace_id, post_id=post.id)
    return post, after
