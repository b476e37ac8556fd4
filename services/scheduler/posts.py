"""Posts and their targets: creating one, reading it, and the trail of its statuses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.campaigns import campaign_for_post
from services.scheduler.channels import ChannelLookup
from services.scheduler.finding import search_text
from services.scheduler.models import Campaign, Channel, Post, Target, Transition
from services.scheduler.pacing import check_series_pace
from services.scheduler.planning import DUE_CHANNEL as DUE_CHANNEL  # the loops' NOTIFY channel
from services.scheduler.planning import (
    Editing,
    checked,
    clean_tags,
    media_json,
    plan_times,
    refs,
    wake_dispatcher_if_needed,
)
from services.scheduler.recurrence import add_occurrences, expand
from services.scheduler.schemas import PostIn
from services.scheduler.workspaces import Defaults, workspace_settings
from shared import audit
from shared.auth import Principal
from shared.errors import NotFound
from shared.events import Envelope, PostCampaignSet, PostScheduled
from shared.outbox import Outbox

# Where a post stands, from the most to the least pressing, for a post whose targets differ.
_SUMMARY_ORDER = (
    "retrying",
    "publishing",
    "scheduled",
    "in_review",
    "changes_requested",
    "approved",
    "draft",
    "failed",
    "missed",
    "published",
    "canceled",
)


def summarize(statuses: Sequence[str]) -> str:
    """The post's status from its targets': theirs when they agree, else the most pressing."""
    distinct = set(statuses)
    if len(distinct) == 1:
        return distinct.pop()
    return next(s for s in _SUMMARY_ORDER if s in distinct)


def record_transition(
    session: AsyncSession,
    *,
    post_id: UUID,
    to_status: str,
    by: str,
    from_status: str | None = None,
    target_id: UUID | None = None,
    comment: str | None = None,
) -> None:
    session.add(
        Transition(
            post_id=post_id,
            target_id=target_id,
            from_status=from_status,
            to_status=to_status,
            by=by,
            comment=comment,
        )
    )


def record_target_moved(
    session: AsyncSession, target: Target, *, from_status: str, by: str, comment: str | None = None
) -> None:
    """A transition of one target to the status it now has."""
    record_transition(
        session,
        post_id=target.post_id,
        target_id=target.id,
        from_status=from_status,
        to_status=target.status,
        by=by,
        comment=comment,
    )


async def create_post(
    session: AsyncSession,
    *,
    principal: Principal,
    body: PostIn,
    lookup: ChannelLookup | None,
    outbox: Outbox,
    notify_horizon: float,
    defaults: Defaults,
    recurrence_horizon: timedelta = timedelta(days=60),
    series_id: UUID | None = None,
    occurrence_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[Post, list[Target]]:
    """Saves a post with one target per channel; scheduled when `body.schedule` is given.

    A recurring post gets one target row per channel and occurrence due within
    `recurrence_horizon` (at least the first); the dispatcher adds the later ones.

    In a workspace that requires approval, a post planned by someone who may not approve
    waits `in_review` with its times kept; approval puts it on the calendar. Everything is
    checked before anything is written, so a refused post leaves no trace.
    """
    editing = Editing(
        principal=principal,
        lookup=lookup,
        outbox=outbox,
        notify_horizon=notify_horizon,
        defaults=defaults,
        now=now or datetime.now(UTC),
        recurrence_horizon=recurrence_horizon,
    )
    body, channels = await checked(session, editing=editing, body=body)
    times = await plan_times(
        session, schedule=body.schedule, channels=channels, principal=principal, now=editing.now
    )
    ws = await workspace_settings(session, workspace_id=principal.workspace_id, defaults=defaults)
    campaign = await campaign_for_post(
        session,
        principal=principal,
        name=body.campaign,
        campaign_id=body.campaign_id,
        outbox=outbox,
    )
    if body.schedule is None:
        status = "draft"
    elif ws.approval_required and not principal.can("posts.approve"):
        status = "in_review"
    else:
        status = "scheduled"
    post = _new_post(
        editing, body=body, status=status, campaign=campaign, series_id=series_id,
        occurrence_at=occurrence_at,
    )  # fmt: skip
    session.add(post)
    # The post row first: the targets reference it.
    await session.flush()
    targets = await _new_targets(
        session, editing=editing, post=post, body=body, channels=channels, times=times
    )
    record_transition(session, post_id=post.id, to_status=status, by=principal.principal_id)
    await session.flush()
    if campaign is not None:
        await outbox.add(session, campaign_set_event(post, now=editing.now))
    if status == "scheduled":
        await outbox.add(
            session,
            Envelope.of(
                PostScheduled(post_id=post.id, targets=refs(targets)),
                workspace_id=principal.workspace_id,
            ),
        )
        await wake_dispatcher_if_needed(
            session,
            due_times=[t.due_at for t in targets],
            horizon=notify_horizon,
            now=editing.now,
        )
    return post, targets


async def create_post_for(
    session: AsyncSession, *, editing: Editing, body: PostIn
) -> tuple[Post, list[Target]]:
    """`create_post` for a writer's request."""
    return await create_post(
        session,
        principal=editing.principal,
        body=body,
        lookup=editing.lookup,
        outbox=editing.outbox,
        notify_horizon=editing.notify_horizon,
        defaults=editing.defaults,
        recurrence_horizon=editing.recurrence_horizon,
        now=editing.now,
    )


def _new_post(
    editing: Editing,
    *,
    body: PostIn,
    status: str,
    campaign: Campaign | None,
    series_id: UUID | None,
    occurrence_at: datetime | None,
) -> Post:
    principal, now = editing.principal, editing.now
    return Post(
        id=uuid.uuid4(),
        workspace_id=principal.workspace_id,
        status=status,
        version=1,
        text=body.text,
        media=media_json(body.media) or [],
        tags=clean_tags(body.tags),
        campaign=campaign.name if campaign else None,
        campaign_id=campaign.id if campaign else None,
        schedule=body.schedule.model_dump(mode="json", exclude_defaults=True)
        if body.schedule
        else None,
        evergreen_gap_days=body.evergreen.min_gap_days if body.evergreen else None,
        created_by=principal.principal_id,
        search_text=search_text(body.text, [target.text for target in body.targets]),
        series_id=series_id,
        occurrence_at=occurrence_at,
        created_at=now,
        updated_at=now,
    )


async def _new_targets(
    session: AsyncSession,
    *,
    editing: Editing,
    post: Post,
    body: PostIn,
    channels: Sequence[Channel],
    times: Sequence[tuple[datetime | None, str | None]],
) -> list[Target]:
    """One target per channel; a recurring post's occurrences within the horizon too."""
    targets = [
        Target(
            id=uuid.uuid4(),
            post_id=post.id,
            workspace_id=post.workspace_id,
            channel_id=channel.id,
            network=channel.network,
            position=index,
            text=target_in.text,
            media=media_json(target_in.media),
            options=target_in.options,
            status=post.status,
            due_at=due_at,
            timezone=tz_name,
            updated_at=editing.now,
        )
        for index, (target_in, channel, (due_at, tz_name)) in enumerate(
            zip(body.targets, channels, times, strict=True)
        )
    ]
    session.add_all(targets)
    if body.schedule is not None and body.schedule.rrule:
        for first, channel in zip(list(targets), channels, strict=True):
            assert first.due_at is not None and first.timezone is not None
            later = await expand(
                body.schedule,
                ZoneInfo(first.timezone),
                after=first.due_at,
                until=editing.now + editing.recurrence_horizon,
            )
            if post.status == "scheduled":
                await check_series_pace(session, channel=channel, instants=[first.due_at, *later])
            targets += add_occurrences(session, template=first, instants=later, status=post.status)
    return targets


async def load_post(
    session: AsyncSession, *, workspace_id: UUID, post_id: UUID, for_update: bool = False
) -> tuple[Post, list[Target]]:
    query = select(Post).where(Post.id == post_id, Post.workspace_id == workspace_id)
    if for_update:
        query = query.with_for_update()
    post = (await session.scalars(query)).first()
    if post is None:
        raise NotFound(f"No post {post_id} in this workspace.", field="post_id")
    targets = (
        await session.scalars(
            select(Target)
            .where(Target.post_id == post_id)
            .order_by(Target.position, Target.due_at.nulls_first(), Target.id)
        )
    ).all()
    return post, list(targets)


def campaign_set_event(post: Post, *, now: datetime | None = None) -> Envelope:
    return Envelope.of(
        PostCampaignSet(
            post_id=post.id, campaign_id=post.campaign_id, set_at=now or datetime.now(UTC)
        ),
        workspace_id=post.workspace_id,
    )


async def refresh_post_status(session: AsyncSession, *, post_id: UUID) -> None:
    """Brings the post's summary status and version in line with its targets."""
    # Sessions do not autoflush: the targets' new statuses must reach the query below.
    await session.flush()
    post = await session.get(Post, post_id, with_for_update=True)
    if post is None:
        return
    statuses = (await session.scalars(select(Target.status).where(Target.post_id == post_id))).all()
    post.status = summarize(statuses) if statuses else post.status
    post.version += 1
    post.updated_at = datetime.now(UTC)


async def audited(
    session: AsyncSession, outbox: Outbox, principal: Principal, action: str, post: Post
) -> None:
    """The audit entry of a change someone made to a post (publish results are the
    platform's: consumers.py)."""
    await audit.record(
        session,
        outbox,
        audit.Actor.of(principal),
        action=action,
        resource_type="post",
        resource_id=post.id,
        service="scheduler",
        details={"status": post.status, "version": post.version},
    )
