"""Planning a post: its channels, its variants checked against each network, its due times.

What a new post, an edit and a series edit share: the channels a post's targets name (each
once, each the workspace's), every variant measured against its network's rules, each
target's due time from the schedule, the patch merged over what is stored, and the version a
change must be based on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.channels import ChannelLookup, channels_for
from services.scheduler.finding import search_text
from services.scheduler.media import resolve_post_media
from services.scheduler.models import Channel, Post, Target
from services.scheduler.pacing import check_pace
from services.scheduler.previews import LinkPreviews
from services.scheduler.recurrence import first_occurrence
from services.scheduler.schemas import (
    MediaIn,
    PostIn,
    PostPatch,
    ScheduleIn,
    TargetCheck,
    TargetIn,
    ValidationOut,
)
from services.scheduler.slots import best_time, next_free_slot
from services.scheduler.timing import to_utc, zone
from services.scheduler.workspaces import Defaults, workspace_settings
from shared.auth import Principal
from shared.errors import Conflict, ValidationFailed
from shared.events import (
    Envelope,
    EventData,
    PostCanceled,
    PostEdited,
    PostRescheduled,
    PostScheduled,
    TargetRef,
)
from shared.networks import MediaRef, UnknownNetwork, validate_variant
from shared.networks.cards import card_link
from shared.outbox import Outbox

DUE_CHANNEL = "scheduler_due"

# Statuses in which a target is still only a plan.
EDITABLE = frozenset({"draft", "in_review", "changes_requested", "approved", "scheduled"})
CLAIMED = frozenset({"publishing", "retrying", "published", "failed", "missed"})

Versions = Set[int] | None
"""The versions a change may be based on (`If-Match`, or the body's `version`); None: any."""


@dataclass(frozen=True)
class Editing:
    """What a change to a post needs besides the post and the patch."""

    principal: Principal
    lookup: ChannelLookup | None
    outbox: Outbox
    notify_horizon: float
    defaults: Defaults
    now: datetime
    recurrence_horizon: timedelta = timedelta(days=60)


def based_on(if_match: Versions, version: int | None) -> Versions:
    """The versions a change is based on: `If-Match`'s, else the body's `version`."""
    if if_match is not None:
        return if_match
    return frozenset({version}) if version is not None else None


def check_version(post: Post, expected: Versions) -> None:
    if expected is not None and post.version not in expected:
        sent = ", ".join(str(v) for v in sorted(expected))
        raise Conflict(
            f"The post changed meanwhile (version {post.version}, you sent {sent}); "
            "reload it and try again.",
            field="version",
            extra={"current_version": post.version},
        )


def refuse_if_claimed(targets: Sequence[Target]) -> None:
    claimed = [t for t in targets if t.status in CLAIMED]
    if claimed:
        raise Conflict(
            f"{len(claimed)} target(s) were already claimed for publishing "
            f"(status {claimed[0].status}); the post can no longer be changed.",
            field="targets",
        )


def refs(targets: Sequence[Target]) -> list[TargetRef]:
    return [
        TargetRef(target_id=t.id, channel_id=t.channel_id, network=t.network, due_at=t.due_at)
        for t in targets
    ]


def calendar_news(
    post: Post, *, moved: Sequence[Target], put_on: Sequence[Target], taken_off: Sequence[UUID]
) -> list[Envelope]:
    """What the calendar hears of an edit: targets moved on it, put on it, taken off it."""
    news: list[EventData] = []
    if moved:
        news.append(PostRescheduled(post_id=post.id, targets=refs(moved)))
    if put_on:
        news.append(PostScheduled(post_id=post.id, targets=refs(put_on)))
    if taken_off:
        news.append(PostCanceled(post_id=post.id, target_ids=list(taken_off)))
    return [Envelope.of(data, workspace_id=post.workspace_id) for data in news]


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


def _unsupported(target: TargetIn, network: str, text_: str) -> TargetCheck:
    return TargetCheck(
        channel_id=target.channel_id,
        network=network,
        length=len(text_),
        limit=0,
        counting="characters",
        valid=False,
        problems=[
            {
                "code": "network_not_supported",
                "message": f"Herald cannot publish to '{network}'.",
                "field": "channel_id",
                "severity": "error",
            }
        ],
    )


def variant(body: PostIn, target: TargetIn) -> tuple[str, list[MediaIn]]:
    """The text and media a target goes out with: its own, else the post's."""
    text_ = target.text if target.text is not None else body.text
    media = target.media if target.media is not None else body.media
    return text_, media


def check_variants(*, body: PostIn, channels: Sequence[Channel]) -> list[TargetCheck]:
    """Every target's variant measured and checked against its network's rules."""
    checks: list[TargetCheck] = []
    for target, channel in zip(body.targets, channels, strict=True):
        text_, media = variant(body, target)
        try:
            result = validate_variant(
                channel.network, text=text_, media=media_refs(media), options=target.options
            )
        except UnknownNetwork:
            checks.append(_unsupported(target, channel.network, text_))
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


def _zone_for(schedule: ScheduleIn, channel: Channel, principal: Principal) -> Any:
    """The zone the schedule names, else the channel's, else the workspace's."""
    name = schedule.timezone or channel.timezone or principal.timezone or "UTC"
    return zone(name, field="schedule.timezone")


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
    planned: list[tuple[datetime | None, str | None]] = []
    # A rule's first occurrence per zone, found once however many channels share the zone.
    firsts: dict[str, datetime] = {}
    for channel in channels:
        tz = _zone_for(schedule, channel, principal)
        if schedule.rrule:
            # A recurring post: its first occurrence here; the others are added as rows by
            # `recurrence.add_occurrences` / `recurrence.extend`.
            if tz.key not in firsts:
                firsts[tz.key] = await first_occurrence(schedule, tz, now=now, fresh=fresh)
            planned.append((firsts[tz.key], tz.key))
        elif schedule.best and not (schedule.now or schedule.queue):
            best = await best_time(session, channel=channel, fallback_tz=tz, now=now)
            await check_pace(session, channel=channel, at=best[0], exclude_post_id=post_id)
            planned.append(best)
        else:
            due_at = await _due_at(
                session, schedule=schedule, channel=channel, tz=tz, now=now, post_id=post_id
            )
            if not schedule.queue:  # the queue places within the cap itself
                await check_pace(session, channel=channel, at=due_at, exclude_post_id=post_id)
            planned.append((due_at, tz.key))
    return planned


async def _due_at(
    session: AsyncSession,
    *,
    schedule: ScheduleIn,
    channel: Channel,
    tz: Any,
    now: datetime,
    post_id: UUID | None,
) -> datetime:
    if schedule.now:
        return now
    if schedule.queue:
        return await next_free_slot(
            session, channel=channel, tz=tz, now=now, exclude_post_id=post_id
        )
    assert schedule.at is not None
    due_at = to_utc(schedule.at, tz)
    if due_at <= now:
        raise ValidationFailed(
            f"{schedule.at.isoformat()} in {tz.key} is in the past (it was {due_at.isoformat()}).",
            field="schedule.at",
        )
    return due_at


async def validate_post(
    session: AsyncSession,
    *,
    principal: Principal,
    body: PostIn,
    lookup: ChannelLookup | None,
    previews: LinkPreviews | None = None,
) -> ValidationOut:
    """The dry run of `create_post`'s checks: per-target lengths and problems, nothing saved;
    with `previews`, the link card each target's network will show."""
    body = await resolve_post_media(session, workspace_id=principal.workspace_id, body=body)
    channels = await resolve_channels(session, principal=principal, body=body, lookup=lookup)
    checks = check_variants(body=body, channels=channels)
    if previews is not None:
        links = [
            card_link(check.network, text=text_, has_media=bool(media), options=target.options)
            for check, target in zip(checks, body.targets, strict=True)
            for text_, media in [variant(body, target)]
        ]
        checks = await previews.attach(checks, links=links, principal=principal)
    return ValidationOut(valid=all(check.valid for check in checks), targets=checks)


async def wake_dispatcher_if_needed(
    session: AsyncSession, *, due_times: Sequence[datetime | None], horizon: float, now: datetime
) -> None:
    """NOTIFYs the dispatchers when something falls due before they would look anyway.

    A dispatcher never sleeps longer than `horizon`, so anything due later is found by its
    next look; only sooner targets need the nudge (delivered on commit, once per transaction).
    """
    soonest = min((due for due in due_times if due is not None), default=None)
    if soonest is not None and soonest <= now + timedelta(seconds=horizon):
        await session.execute(text(f"NOTIFY {DUE_CHANNEL}"))


def media_json(items: Sequence[MediaIn] | None) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    return [item.model_dump(mode="json", exclude_none=True) for item in items]


def variant_of(target: Target) -> TargetIn:
    return TargetIn(
        channel_id=target.channel_id,
        text=target.text,
        media=[MediaIn.model_validate(m) for m in target.media]
        if target.media is not None
        else None,
        options=target.options or {},
    )


def merge(post: Post, variants: list[TargetIn], patch: PostPatch) -> PostIn:
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


async def checked(
    session: AsyncSession, *, editing: Editing, body: PostIn
) -> tuple[PostIn, list[Channel]]:
    """The post as it will be, its library media resolved and every variant checked against
    its channel's network, exactly as a new post would be; refused with every problem."""
    principal = editing.principal
    body = await resolve_post_media(session, workspace_id=principal.workspace_id, body=body)
    channels = await resolve_channels(
        session, principal=principal, body=body, lookup=editing.lookup
    )
    raise_for_problems(check_variants(body=body, channels=channels))
    return body, channels


def clean_tags(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))


def write_copy(post: Post, merged: PostIn, *, schedule_changed: bool, now: datetime) -> None:
    """The merged copy, tags, campaign (and schedule, when the patch gave one) onto the post,
    as a new version."""
    post.text = merged.text
    post.search_text = search_text(merged.text, [t.text for t in merged.targets])
    post.media = media_json(merged.media) or []
    post.tags = clean_tags(merged.tags)
    post.campaign = merged.campaign
    if schedule_changed:
        post.schedule = (
            merged.schedule.model_dump(mode="json", exclude_defaults=True)
            if merged.schedule
            else None
        )
    post.version += 1
    post.updated_at = now


async def status_after_edit(
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
