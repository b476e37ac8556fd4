"""A channel's posting slots (the weekly times its queue fills) and its pacing."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body
from pydantic import Field

from services.scheduler.api.deps import LookupDep, ReaderDep, WriterDep
from services.scheduler.channels import channel_of
from services.scheduler.pacing import pacing_of
from services.scheduler.queue import queue_items, queued_targets, reorder
from services.scheduler.schemas import (
    MAX_QUEUE,
    MAX_SLOTS,
    PacingIn,
    PacingOut,
    QueueItem,
    QueueOrder,
    SlotIn,
    SlotOut,
)
from services.scheduler.slots import channel_slots, parse_slot_time, replace_slots
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/channels", tags=["slots"])
queue_router = APIRouter(prefix="/v1/channels", tags=["queue"])


@router.get("/{channel_id}/slots", response_model=list[SlotOut])
async def read_slots(
    channel_id: UUID, principal: ReaderDep, session: SessionDep, lookup: LookupDep
) -> list[SlotOut]:
    await channel_of(session, principal=principal, channel_id=channel_id, lookup=lookup)
    slots = await channel_slots(session, channel_id=channel_id)
    return [SlotOut(weekday=s.weekday, time=s.time, cap=s.cap) for s in slots]


@router.put("/{channel_id}/slots", response_model=list[SlotOut])
async def write_slots(
    channel_id: UUID,
    body: Annotated[list[SlotIn], Body(max_length=MAX_SLOTS)],
    principal: WriterDep,
    session: SessionDep,
    lookup: LookupDep,
) -> list[SlotOut]:
    channel = await channel_of(session, principal=principal, channel_id=channel_id, lookup=lookup)
    triples = [
        (slot.weekday, parse_slot_time(slot.time, field=f"[{index}].time"), slot.cap)
        for index, slot in enumerate(body)
    ]
    slots = await replace_slots(session, channel=channel, slots=triples)
    return [SlotOut(weekday=s.weekday, time=s.time, cap=s.cap) for s in slots]


@router.get("/{channel_id}/pacing", response_model=PacingOut)
async def read_pacing(
    channel_id: UUID, principal: ReaderDep, session: SessionDep, lookup: LookupDep
) -> PacingOut:
    """How many posts the scheduler places on the channel in any 24 hours."""
    channel = await channel_of(session, principal=principal, channel_id=channel_id, lookup=lookup)
    return PacingOut.model_validate(pacing_of(channel))


@router.put("/{channel_id}/pacing", response_model=PacingOut)
async def write_pacing(
    channel_id: UUID, body: PacingIn, principal: WriterDep, session: SessionDep, lookup: LookupDep
) -> PacingOut:
    """Sets the channel's own cap (null: back to its network's limit). Posts already planned
    stay; new times keep to the cap."""
    channel = await channel_of(session, principal=principal, channel_id=channel_id, lookup=lookup)
    channel.daily_cap = body.daily_cap
    return PacingOut.model_validate(pacing_of(channel))


@queue_router.get("/{channel_id}/queue", response_model=list[QueueItem])
async def read_queue(
    channel_id: UUID, principal: ReaderDep, session: SessionDep, lookup: LookupDep
) -> list[QueueItem]:
    """The posts waiting in the channel's slots, soonest first."""
    channel = await channel_of(session, principal=principal, channel_id=channel_id, lookup=lookup)
    return queue_items(await queued_targets(session, channel=channel))


@queue_router.put("/{channel_id}/queue", response_model=list[QueueItem])
async def reorder_queue(
    channel_id: UUID,
    body: QueueOrder | Annotated[list[UUID], Field(max_length=MAX_QUEUE)],
    principal: WriterDep,
    session: SessionDep,
    lookup: LookupDep,
    runtime: RuntimeDep,
) -> list[QueueItem]:
    """Reassigns the queue's slot times to its posts in the order given (a list of post ids,
    or `{"post_ids": [...]}`)."""
    channel = await channel_of(session, principal=principal, channel_id=channel_id, lookup=lookup)
    post_ids = body.post_ids if isinstance(body, QueueOrder) else body
    return await reorder(session, channel=channel, post_ids=post_ids, outbox=runtime.outbox)


@queue_router.post("/{channel_id}/queue/shuffle", response_model=list[QueueItem])
async def shuffle_queue(
    channel_id: UUID,
    principal: WriterDep,
    session: SessionDep,
    lookup: LookupDep,
    runtime: RuntimeDep,
) -> list[QueueItem]:
    """Hands the queue's slot times out again in a random order."""
    channel = await channel_of(session, principal=principal, channel_id=channel_id, lookup=lookup)
    return await reorder(session, channel=channel, post_ids=None, outbox=runtime.outbox)
