"""One occurrence of a recurring post, by its instant: skip it, or edit it alone.

An occurrence is named by the UTC instant it is due (as the calendar lists it). It need not
have a row yet: beyond the materialised horizon it exists only in the rule.

- Skipping adds the instant to the schedule's `exdates` (RFC 5545 EXDATE), so the rule never
  yields it again, and removes the row when there is one (`post.canceled` for it).
- Editing detaches it: the occurrence is skipped in the series and a post of its own is made
  for it (its copy and variants from the series, the edit over them, on the channels whose
  occurrence falls at that instant), with `series_id` and `occurrence_at` naming where it came
  from. Its time may move. Edits of the series afterwards leave it alone, and the series'
  later occurrences keep coming from the rule.

The post row is locked for both, so the dispatcher cannot claim the occurrence meanwhile; an
occurrence already claimed (publishing, published, failed) is a 409.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.channels import ChannelLookup
from services.scheduler.models import Post, Target
from services.scheduler.planning import EDITABLE, Versions, check_version, edited_event, variant_of
from services.scheduler.posts import create_post, load_post, record_transition
from services.scheduler.recurrence import extend, is_recurring, occurrences
from services.scheduler.schemas import OccurrencePatch, PostIn, ScheduleIn
from services.scheduler.workspaces import Defaults
from shared.auth import Principal
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import Envelope, PostCanceled, PostScheduled, TargetRef
from shared.outbox import Outbox

MAX_EXDATES = 1000


def _instant(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValidationFailed(
            "An occurrence is named by its UTC instant, e.g. 2030-07-01T09:00:00Z.", field="at"
        )
    return at.astimezone(UTC)


def _channels_at(post: Post, targets: list[Target], at: datetime) -> list[Target]:
    """For each channel whose occurrence falls at `at`: its row there, or the channel's
    latest row (the variant the rule's occurrences copy)."""
    assert post.schedule is not None
    latest: dict[UUID, Target] = {}
    never = datetime.min.replace(tzinfo=UTC)
    for target in targets:
        best = latest.get(target.channel_id)
        if best is None or (target.due_at or never) > (best.due_at or never):
            latest[target.channel_id] = target
    found: list[Target] = []
    for channel_id, last in latest.items():
        row = next((t for t in targets if t.channel_id == channel_id and t.due_at == at), None)
        if row is not None:
            found.append(row)
            continue
        if last.timezone is None or last.due_at is None or at <= last.due_at:
            continue
        after = at - timedelta(seconds=1)
        nxt = occurrences(post.schedule, ZoneInfo(last.timezone), after=after, limit=1)
        if nxt and nxt[0] == at:
            found.append(last)
    if not found:
        raise NotFound(
            f"The post has no occurrence at {at.isoformat()} (the calendar lists them).",
            field="at",
        )
    claimed = [t for t in found if t.due_at == at and t.status not in EDITABLE]
    if claimed:
        raise Conflict(
            f"The occurrence at {at.isoformat()} is already {claimed[0].status}.", field="at"
        )
    return found


async def _skip(
    session: AsyncSession,
    *,
    post: Post,
    found: list[Target],
    at: datetime,
    by: str,
    recurrence_horizon: timedelta,
) -> list[Envelope]:
    """Adds the EXDATE and drops the occurrence's rows, keeping each channel's window full."""
    assert post.schedule is not None
    exdates = list(post.schedule.get("exdates") or [])
    if len(exdates) >= MAX_EXDATES:
        raise ValidationFailed(
            f"A recurring post may skip at most {MAX_EXDATES} occurrences; "
            "end the series (until) and start a new one.",
            field="schedule.exdates",
        )
    post.schedule = {**post.schedule, "exdates": [*exdates, at.isoformat()]}
    rows = [t for t in found if t.due_at == at]
    events: list[Envelope] = []
    if rows:
        await session.execute(delete(Target).where(Target.id.in_([t.id for t in rows])))
        scheduled = [t.id for t in rows if t.status == "scheduled"]
        if scheduled:
            events.append(
                Envelope.of(
                    PostCanceled(post_id=post.id, target_ids=scheduled),
                    workspace_id=post.workspace_id,
                )
            )
    now = datetime.now(UTC)
    added: list[Target] = []
    for row in rows:
        # The skipped row may have been the channel's only one ahead: top the window up.
        added += await extend(
            session,
            template=row,
            schedule=post.schedule,
            now=now,
            horizon=recurrence_horizon,
            status=row.status,
        )
    fresh = [t for t in added if t.status == "scheduled"]
    if fresh:
        refs = [
            TargetRef(target_id=t.id, channel_id=t.channel_id, network=t.network, due_at=t.due_at)
            for t in fresh
        ]
        events.append(
            Envelope.of(
                PostScheduled(post_id=post.id, targets=refs), workspace_id=post.workspace_id
            )
        )
    post.version += 1
    post.updated_at = now
    record_transition(
        session,
        post_id=post.id,
        from_status=post.status,
        to_status=post.status,
        by=by,
        comment=f"occurrence at {at.isoformat()} skipped",
    )
    return events


async def _occurrence(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    at: datetime,
    expected_version: Versions,
) -> tuple[Post, datetime, list[Target]]:
    """The series (locked, at the expected version), the occurrence's UTC instant and the
    channels' rows that go out then."""
    at = _instant(at)
    post, targets = await load_post(
        session, workspace_id=principal.workspace_id, post_id=post_id, for_update=True
    )
    check_version(post, expected_version)
    if not is_recurring(post.schedule) or post.status == "canceled":
        raise Conflict("Only a recurring post that is not canceled has occurrences.", field="at")
    return post, at, _channels_at(post, targets, at)


async def skip_occurrence(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    at: datetime,
    expected_version: Versions,
    outbox: Outbox,
    recurrence_horizon: timedelta,
) -> tuple[Post, list[Target]]:
    post, at, found = await _occurrence(
        session, principal=principal, post_id=post_id, at=at, expected_version=expected_version
    )
    events = await _skip(
        session,
        post=post,
        found=found,
        at=at,
        by=principal.principal_id,
        recurrence_horizon=recurrence_horizon,
    )
    events.append(
        edited_event(post, changed=["schedule"], by=principal.principal_id, occurrence_at=at)
    )
    await outbox.add(session, *events)
    await session.flush()
    return await load_post(session, workspace_id=post.workspace_id, post_id=post.id)


def _detached_body(post: Post, found: list[Target], at: datetime, patch: OccurrencePatch) -> PostIn:
    """The one-off post for the occurrence: the series' copy, the edit over it."""
    assert post.schedule is not None
    variants = [variant_of(t) for t in sorted(found, key=lambda t: t.position)]
    given = patch.model_fields_set
    schedule: dict[str, Any] = {"at": patch.at if patch.at is not None else at}
    zone_name = patch.timezone or post.schedule.get("timezone")
    if zone_name:
        schedule["timezone"] = zone_name
    return PostIn(
        text=patch.text if patch.text is not None else post.text,
        media=patch.media if patch.media is not None else post.media or [],
        targets=patch.targets if patch.targets is not None else variants,
        schedule=ScheduleIn.model_validate(schedule),
        tags=patch.tags if patch.tags is not None else list(post.tags or []),
        campaign=patch.campaign if "campaign" in given else post.campaign,
    )


async def edit_occurrence(
    session: AsyncSession,
    *,
    principal: Principal,
    post_id: UUID,
    at: datetime,
    patch: OccurrencePatch,
    expected_version: Versions,
    lookup: ChannelLookup | None,
    outbox: Outbox,
    notify_horizon: float,
    defaults: Defaults,
    recurrence_horizon: timedelta,
) -> tuple[Post, list[Target]]:
    """Detaches the occurrence at `at` into a post of its own, edited; returns that post."""
    post, at, found = await _occurrence(
        session, principal=principal, post_id=post_id, at=at, expected_version=expected_version
    )
    body = _detached_body(post, found, at, patch)
    allowed = {t.channel_id for t in found}
    for index, target_in in enumerate(body.targets):
        if target_in.channel_id not in allowed:
            raise ValidationFailed(
                "An occurrence can only be edited on the channels it goes out on.",
                field=f"targets[{index}].channel_id",
            )
    events = await _skip(
        session,
        post=post,
        found=found,
        at=at,
        by=principal.principal_id,
        recurrence_horizon=recurrence_horizon,
    )
    detached = await create_post(
        session,
        principal=principal,
        body=body,
        lookup=lookup,
        outbox=outbox,
        notify_horizon=notify_horizon,
        defaults=defaults,
        recurrence_horizon=recurrence_horizon,
        series_id=post.id,
        occurrence_at=at,
    )
    changed = ["schedule", *(patch.model_fields_set - {"version"})]
    events.append(edited_event(post, changed=changed, by=principal.principal_id, occurrence_at=at))
    await outbox.add(session, *events)
    return detached
