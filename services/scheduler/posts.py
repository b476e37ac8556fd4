"""Posts and their targets: creating, checking, reading, and following them to publication."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.campaigns import campaign_for_post
from services.scheduler.channels import ChannelLookup, channels_for
from services.scheduler.finding import search_text
from services.scheduler.media import resolve_post_media
from services.scheduler.models import Channel, Post, Target, Transition
from services.scheduler.recurrence import add_occurrences, expand, first_occurrence
from services.scheduler.recurrence import is_recurring as schedule_is_recurring
from services.scheduler.schemas import (
    EvergreenIn,
    MediaIn,
    PostIn,
    PostOut,
    ScheduleIn,
    TargetChangeOut,
    TargetCheck,
    TargetIn,
    TargetOut,
    ValidationOut,
)
from services.scheduler.slots import best_time, next_free_slot
from services.scheduler.timing import local_time, to_utc, zone
from services.scheduler.workspaces import Defaults, workspace_settings
from shared.auth import Principal
from shared.errors import NotFound, ValidationFailed
from shared.events import (
    Envelope,
    PostCampaignSet,
    PostFailed,
    PostPartiallyFailed,
    PostScheduled,
    TargetOutcome,
    TargetRef,
)
from shared.networks import MediaRef, UnknownNetwork, validate_variant
from shared.outbox import Outbox

DUE_CHANNEL = "scheduler_due"

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


@dataclass(frozen=True)
class PlannedTarget:
    target_in: TargetIn
    channel: Channel
    due_at: datetime | None
    timezone: str | None


def media_refs(items: Sequence[MediaIn]) -> list[MediaRef]:
    return [
        MediaRef(
            kind=item.kind,
            url=item.url,
            alt=item.alt,
            size_bytes=item.size_bytes,
            mime=item.mime,
            duration_s=item.duration_s,
            library=item.media_id is not None,
            width=item.width,
            height=item.height,
            rotated=bool(item.rotated),
        )
        for item in items
    ]


def check_variants(*, body: PostIn, channels: Sequence[Channel]) -> list[TargetCheck]:
    """Every target's variant measured and checked against its network's rules."""
    checks: list[TargetCheck] = []
    for target, channel in zip(body.targets, channels, strict=True):
        text_ = target.text if target.text is not None else body.text
        media = target.media if target.media is not None else body.media
        try:
            result = validate_variant(
                channel.network, text=text_, media=media_refs(media), options=target.options
            )
        except UnknownNetwork:
            checks.append(
                TargetCheck(
                    channel_id=target.channel_id,
                    network=channel.network,
                    length=len(text_),
                    limit=0,
                    counting="characters",
                    valid=False,
                    problems=[
                        {
                            "code": "network_not_supported",
                            "message": f"Herald cannot publish to '{channel.network}'.",
                            "field": "channel_id",
                            "severity": "error",
                        }
                    ],
                )
            )
            continue
        checks.append(
            TargetCheck(
                channel_id=target.channel_id,
                network=channel.network,
                length=result.length,
                limit=result.limit,
                counting=result.counting,
                valid=result.valid,
                problems=[problem.to_dict() for problem in result.problems],
            )
        )
    return checks


async def resolve_channels(
    session: AsyncSession,
    *,
    principal: Principal,
    body: PostIn,
    lookup: ChannelLookup | None,
) -> list[Channel]:
    ids = [target.channel_id for target in body.targets]
    seen: set[UUID] = set()
    for index, channel_id in enumerate(ids):
        if channel_id in seen:
            raise ValidationFailed(
                "Each channel may be targeted once per post.",
                field=f"targets[{index}].channel_id",
            )
        seen.add(channel_id)
    known = await channels_for(session, principal=principal, channel_ids=ids, lookup=lookup)
    errors = [
        {
            "field": f"targets[{index}].channel_id",
            "message": f"No channel {channel_id} in this workspace.",
            "code": "unknown_channel",
        }
        for index, channel_id in enumerate(ids)
        if channel_id not in known
    ]
    if errors:
        raise ValidationFailed(errors[0]["message"], field=errors[0]["field"], errors=errors)
    return [known[channel_id] for channel_id in ids]


def raise_for_problems(checks: Sequence[TargetCheck]) -> None:
    errors = [
        {
            "field": f"targets[{index}].{problem['field']}",
            "message": problem["message"],
            "code": problem["code"],
        }
        for index, check in enumerate(checks)
        for problem in check.problems
        if problem["severity"] == "error"
    ]
    if errors:
        raise ValidationFailed(
            f"{errors[0]['field']}: {errors[0]['message']}",
            field=errors[0]["field"],
            errors=errors,
        )


async def plan_times(
    session: AsyncSession,
    *,
    schedule: ScheduleIn | None,
    channels: Sequence[Channel],
    principal: Principal,
    now: datetime,
    post_id: UUID | None = None,
    fresh: bool = True,
) -> list[tuple[datetime | None, str | None]]:
    """Each target's UTC due time and the zone it was planned in (None for a draft).

    The zone is the one the schedule names, else the channel's, else the workspace's.
    `{"queue": true}` takes each channel's next free posting slot, `{"best": true}` its best
    hour of the coming week; `post_id` (an edit) keeps the post from competing with itself.
    `fresh` is False when the schedule is the stored one, not given in this request (a
    series that started long ago may still be edited).
    """
    if schedule is None:
        return [(None, None) for _ in channels]
    explicit = zone(schedule.timezone, field="schedule.timezone") if schedule.timezone else None
    planned: list[tuple[datetime | None, str | None]] = []
    # A rule's first occurrence per zone, found once however many channels share the zone.
    firsts: dict[str, datetime] = {}
    for channel in channels:
        if explicit is not None:
            tz = explicit
        elif channel.timezone:
            tz = zone(channel.timezone, field="schedule.timezone")
        else:
            tz = zone(principal.timezone or "UTC", field="schedule.timezone")
        if schedule.rrule:
            # A recurring post: its first occurrence here; the others are added as rows by
            # `recurrence.add_occurrences` / `recurrence.extend`.
            if tz.key not in firsts:
                firsts[tz.key] = await first_occurrence(schedule, tz, now=now, fresh=fresh)
            planned.append((firsts[tz.key], tz.key))
        elif schedule.now:
            planned.append((now, tz.key))
        elif schedule.queue:
            due_at = await next_free_slot(
                session, channel=channel, tz=tz, now=now, exclude_post_id=post_id
            )
            planned.append((due_at, tz.key))
        elif schedule.best:
            planned.append(await best_time(session, channel=channel, fallback_tz=tz, now=now))
        else:
            assert schedule.at is not None
            due_at = to_utc(schedule.at, tz)
            if due_at <= now:
                raise ValidationFailed(
                    f"{schedule.at.isoformat()} in {tz.key} is in the past "
                    f"(it was {due_at.isoformat()}).",
                    field="schedule.at",
                )
            planned.append((due_at, tz.key))
    return planned


async def validate_post(
    session: AsyncSession,
    *,
    principal: Principal,
    body: PostIn,
    lookup: ChannelLookup | None,
) -> ValidationOut:
    """The dry run of `create_post`'s checks: per-target lengths and problems, nothing saved."""
    body = await resolve_post_media(session, workspace_id=principal.workspace_id, body=body)
    channels = await resolve_channels(session, principal=principal, body=body, lookup=lookup)
    checks = check_variants(body=body, channels=channels)
    return ValidationOut(valid=all(check.valid for check in checks), targets=checks)


async def wake_dispatcher_if_needed(
    session: AsyncSession, *, due_times: Sequence[datetime | None], horizon: float
) -> None:
    """NOTIFYs the dispatchers when something falls due before they would look anyway.

    A dispatcher never sleeps longer than `horizon`, so anything due later is found by its
    next look; only sooner targets need the nudge (delivered on commit, once per transaction).
    """
    soonest = min((due for due in due_times if due is not None), default=None)
    if soonest is not None and soonest <= datetime.now(UTC) + timedelta(seconds=horizon):
        await session.execute(text(f"NOTIFY {DUE_CHANNEL}"))


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


def media_json(items: Sequence[MediaIn] | None) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    return [item.model_dump(mode="json", exclude_none=True) for item in items]


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
) -> tuple[Post, list[Target]]:
    """Saves a post with one target per channel; scheduled when `body.schedule` is given.

    A recurring post gets one target row per channel and occurrence due within
    `recurrence_horizon` (at least the first); the dispatcher adds the later ones.

    In a workspace that requires approval, a post planned by someone who may not approve
    waits `in_review` with its times kept; approval puts it on the calendar. Everything is
    checked before anything is written, so a refused post leaves no trace.
    """
    body = await resolve_post_media(session, workspace_id=principal.workspace_id, body=body)
    channels = await resolve_channels(session, principal=principal, body=body, lookup=lookup)
    raise_for_problems(check_variants(body=body, channels=channels))
    now = datetime.now(UTC)
    times = await plan_times(
        session, schedule=body.schedule, channels=channels, principal=principal, now=now
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

    post = Post(
        id=uuid.uuid4(),
        workspace_id=principal.workspace_id,
        status=status,
        version=1,
        text=body.text,
        media=media_json(body.media) or [],
        tags=list(dict.fromkeys(tag.strip() for tag in body.tags if tag.strip())),
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
    session.add(post)
    targets = [
        Target(
            id=uuid.uuid4(),
            post_id=post.id,
            workspace_id=principal.workspace_id,
            channel_id=channel.id,
            network=channel.network,
            position=index,
            text=target_in.text,
            media=media_json(target_in.media),
            options=target_in.options,
            status=status,
            due_at=due_at,
            timezone=tz_name,
            updated_at=now,
        )
        for index, (target_in, channel, (due_at, tz_name)) in enumerate(
            zip(body.targets, channels, times, strict=True)
        )
    ]
    # The post row first: the targets reference it.
    await session.flush()
    session.add_all(targets)
    if body.schedule is not None and body.schedule.rrule:
        for first in list(targets):
            assert first.due_at is not None and first.timezone is not None
            later = await expand(
                body.schedule,
                ZoneInfo(first.timezone),
                after=first.due_at,
                until=now + recurrence_horizon,
            )
            targets += add_occurrences(session, template=first, instants=later, status=status)
    record_transition(session, post_id=post.id, to_status=status, by=principal.principal_id)
    await session.flush()
    if campaign is not None:
        await outbox.add(session, campaign_set_event(post))
    if status == "scheduled":
        await outbox.add(
            session,
            Envelope.of(
                PostScheduled(
                    post_id=post.id,
                    targets=[
                        TargetRef(
                            target_id=t.id,
                            channel_id=t.channel_id,
                            network=t.network,
                            due_at=t.due_at,
                        )
                        for t in targets
                    ],
                ),
                workspace_id=principal.workspace_id,
            ),
        )
        await wake_dispatcher_if_needed(
            session, due_times=[t.due_at for t in targets], horizon=notify_horizon
        )
    return post, targets


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


def campaign_set_event(post: Post) -> Envelope:
    return Envelope.of(
        PostCampaignSet(post_id=post.id, campaign_id=post.campaign_id, set_at=datetime.now(UTC)),
        workspace_id=post.workspace_id,
    )


def post_out(post: Post, targets: Sequence[Target]) -> PostOut:
    return PostOut(
        id=post.id,
        status=post.status,
        version=post.version,
        text=post.text,
        media=[MediaIn.model_validate(item) for item in post.media or []],
        tags=list(post.tags or []),
        campaign=post.campaign,
        campaign_id=post.campaign_id,
        schedule=post.schedule,
        evergreen=EvergreenIn(min_gap_days=post.evergreen_gap_days)
        if post.evergreen_gap_days
        else None,
        created_by=post.created_by,
        approval_stage=post.approval_stage or 0,
        series_id=post.series_id,
        occurrence_at=post.occurrence_at,
        created_at=post.created_at,
        updated_at=post.updated_at,
        targets=[
            TargetOut(
                id=t.id,
                channel_id=t.channel_id,
                network=t.network,
                status=t.status,
                due_at=t.due_at,
                local_due_at=local_time(t.due_at, t.timezone) if t.due_at and t.timezone else None,
                timezone=t.timezone,
                published_at=t.published_at,
                external_id=t.external_id,
                url=t.url,
                error=t.error,
                attempts=t.attempts,
                next_attempt_at=t.next_attempt_at,
                text=t.text,
                media=[MediaIn.model_validate(m) for m in t.media] if t.media is not None else None,
                options=t.options or {},
                change=change_out(t),
                edited_at=t.edited_at,
                deleted_at=t.deleted_at,
                remote_error=t.remote_error,
            )
            for t in targets
        ],
    )


def change_out(target: Target) -> TargetChangeOut | None:
    if target.change_request_id is None or target.change_requested_at is None:
        return None
    return TargetChangeOut(
        action="delete" if target.change_action == "delete" else "edit",
        request_id=target.change_request_id,
        fields=target.change_fields or {},
        by=target.change_by,
        requested_at=target.change_requested_at,
        answered_at=target.change_answered_at,
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


SETTLED = frozenset({"published", "failed", "missed", "canceled"})


async def announce_outcome(session: AsyncSession, *, target: Target, outbox: Outbox) -> None:
    """Once every target of the post has an outcome, says `post.failed` when none went out
    and `post.partially_failed` when some failed and some went out (an all-published post
    needs no word beyond each target's `post.published`).

    A recurring post is judged occurrence by occurrence: the targets due at the same instant.
    The post row is locked (`refresh_post_status`), so of two targets settling at once the
    later one sees both outcomes, and only the report that changed a target gets here.
    """
    post = await session.get(Post, target.post_id)
    if post is None:
        return
    query = select(Target).where(Target.post_id == target.post_id)
    if schedule_is_recurring(post.schedule):
        query = query.where(Target.due_at == target.due_at)
    group = list((await session.scalars(query)).all())
    if any(t.status not in SETTLED for t in group):
        return
    failed = [t for t in group if t.status in {"failed", "missed"}]
    published = [t for t in group if t.status == "published"]
    if not failed:
        return
    outcomes = [
        TargetOutcome(
            target_id=t.id,
            channel_id=t.channel_id,
            network=t.network,
            status=t.status,
            error=t.error,
            url=t.url,
        )
        for t in [*published, *failed]
    ]
    data = (
        PostPartiallyFailed(post_id=post.id, due_at=target.due_at, targets=outcomes)
        if published
        else PostFailed(post_id=post.id, due_at=target.due_at, targets=outcomes)
    )
    await outbox.add(session, Envelope.of(data, workspace_id=post.workspace_id))


async def mark_published(
    session: AsyncSession,
    *,
    target_id: UUID,
    external_id: str,
    url: str | None,
    published_at: datetime,
    outbox: Outbox | None = None,
) -> bool:
    """Records a target as live. False when the target is unknown here (nothing to do)."""
    target = await session.get(Target, target_id, with_for_update=True)
    if target is None:
        return False
    previous = target.status
    target.status = "published"
    target.external_id = external_id
    target.url = url
    target.published_at = published_at
    target.error = None
    target.next_attempt_at = None
    record_transition(
        session,
        post_id=target.post_id,
        target_id=target.id,
        from_status=previous,
        to_status="published",
        by="publisher",
    )
    await refresh_post_status(session, post_id=target.post_id)
    if outbox is not None and previous != "published":
        await announce_outcome(session, target=target, outbox=outbox)
    return True


async def mark_retrying(
    session: AsyncSession,
    *,
    target_id: UUID,
    attempts: int,
    error: str,
    next_attempt_at: datetime,
) -> bool:
    """A target the publisher is still trying: `retrying`, with its attempts, last error and
    next attempt. Reports that arrive late (after the outcome, or older than the one already
    shown) change nothing. False when the target is unknown here."""
    target = await session.get(Target, target_id, with_for_update=True)
    if target is None:
        return False
    if target.status not in ("publishing", "retrying"):
        return True
    if target.status == "retrying" and attempts <= target.attempts:
        return True
    previous = target.status
    target.status = "retrying"
    target.attempts = attempts
    target.error = error
    target.next_attempt_at = next_attempt_at
    if previous != "retrying":
        # One transition for the whole run of retries, not one per attempt.
        record_transition(
            session,
            post_id=target.post_id,
            target_id=target.id,
            from_status=previous,
            to_status="retrying",
            by="publisher",
            comment=error,
        )
    await refresh_post_status(session, post_id=target.post_id)
    return True


async def mark_failed(
    session: AsyncSession, *, target_id: UUID, error: str, outbox: Outbox | None = None
) -> bool:
    target = await session.get(Target, target_id, with_for_update=True)
    if target is None:
        return False
    # A late failure report must not undo a success the publisher reported already.
    if target.status == "published":
        return True
    previous = target.status
    target.status = "failed"
    target.error = error
    target.next_attempt_at = None
    record_transition(
        session,
        post_id=target.post_id,
        target_id=target.id,
        from_status=previous,
        to_status="failed",
        by="publisher",
        comment=error,
    )
    await refresh_post_status(session, post_id=target.post_id)
    if outbox is not None and previous != "failed":
        await announce_outcome(session, target=target, outbox=outbox)
    return True
