"""Polling the networks that do not push: Mastodon, Bluesky and YouTube comments.

The inbox never calls a network itself (the publisher owns the tokens and the rate-limit
budget): it asks with `inbox.fetch` on a cadence per channel, tighter while the channel has a
young post, and turns the publisher's `inbox.fetched` into conversations.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.conversations import ingest_item
from services.inbox.models import Channel, PolledPost, PollState
from services.inbox.normalise import Item
from services.inbox.scorers import Analyser
from shared.events import ChannelSubscriptionChanged, Envelope, InboxFetch, InboxFetched
from shared.outbox import Outbox

# No user-level webhooks exist for these (NETWORKS.md); YouTube pushes uploads, not comments.
POLLED_NETWORKS = frozenset({"mastodon", "bluesky", "youtube"})


async def ensure_polled(session: AsyncSession, *, channel_id: uuid.UUID, network: str) -> None:
    """A polled channel gets its poll state once, due at once."""
    if network not in POLLED_NETWORKS:
        return
    await session.execute(
        pg_insert(PollState)
        .values(channel_id=channel_id, network=network, next_poll_at=func.now())
        .on_conflict_do_nothing()
    )


async def note_post(
    session: AsyncSession,
    *,
    channel_id: uuid.UUID,
    network: str,
    external_id: str,
    published_at: datetime,
    fresh_for: timedelta,
) -> None:
    """A polled channel has a (new) post: watch its comments, and poll it soon and often."""
    if network not in POLLED_NETWORKS:
        return
    await ensure_polled(session, channel_id=channel_id, network=network)
    await session.execute(
        pg_insert(PolledPost)
        .values(channel_id=channel_id, external_id=external_id, published_at=published_at)
        .on_conflict_do_nothing()
    )
    fresh_until = published_at + fresh_for
    state = await session.scalar(
        select(PollState).where(PollState.channel_id == channel_id).with_for_update()
    )
    assert state is not None
    if state.fresh_until is None or state.fresh_until < fresh_until:
        state.fresh_until = fresh_until
    now = datetime.now(UTC)
    if fresh_until > now:
        # Do not wait out a slow cadence chosen before the post existed.
        state.next_poll_at = min(state.next_poll_at, now)


async def follow_subscription(
    session: AsyncSession, *, change: ChannelSubscriptionChanged
) -> None:
    """While a pushing network's webhook subscription is down, its channel is polled where the
    network can be read (X mentions); once the subscription is back, polling stops. What both
    paths heard is one message: messages are kept once per network id."""
    if change.network in POLLED_NETWORKS:
        return
    if change.state in ("failed", "pending") and change.polled:
        await session.execute(
            pg_insert(PollState)
            .values(channel_id=change.channel_id, network=change.network,
                    next_poll_at=func.now())
            .on_conflict_do_nothing()
        )
    elif change.state in ("active", "app"):
        await session.execute(delete(PollState).where(PollState.channel_id == change.channel_id))


def interval_for(
    state: PollState, *, now: datetime, fresh: timedelta, stale: timedelta
) -> timedelta:
    return fresh if state.fresh_until is not None and now < state.fresh_until else stale


async def request_due_fetches(
    session: AsyncSession,
    *,
    outbox: Outbox,
    now: datetime,
    fresh_interval: timedelta,
    stale_interval: timedelta,
    post_window: timedelta,
    batch: int,
) -> int:
    """Emits `inbox.fetch` for every polled channel that is due; returns how many."""
    rows = (
        await session.execute(
            select(PollState, Channel.workspace_id)
            .join(Channel, Channel.channel_id == PollState.channel_id)
            .where(PollState.next_poll_at <= now, Channel.status == "active")
            .order_by(PollState.next_poll_at)
            .limit(batch)
            .with_for_update(of=PollState, skip_locked=True)
        )
    ).all()
    for state, workspace_id in rows:
        posts = (
            await session.scalars(
                select(PolledPost.external_id)
                .where(
                    PolledPost.channel_id == state.channel_id,
                    PolledPost.published_at >= now - post_window,
                )
                .order_by(PolledPost.published_at.desc())
                .limit(50)
            )
        ).all()
        await outbox.add(
            session,
            Envelope.of(
                InboxFetch(channel_id=state.channel_id, network=state.network,
                           post_external_ids=list(posts), cursor=state.cursor),
                workspace_id=workspace_id,
            ),
        )
        state.last_requested_at = now
        state.next_poll_at = now + interval_for(
            state, now=now, fresh=fresh_interval, stale=stale_interval
        )
    return len(rows)


async def record_fetched(
    session: AsyncSession, *, outbox: Outbox, fetched: InboxFetched, analyser: Analyser
) -> int:
    """Makes messages of what a poll found (idempotent by network id); returns how many new."""
    channel = await session.get(Channel, fetched.channel_id)
    if channel is None:
        # Fetches are only requested for known channels, so this is a race with
        # `channel.connected` or a stray event: raising retries it, and the queue's delivery
        # limit dead-letters it (kept for replay) if the channel never shows up.
        raise LookupError(f"channel {fetched.channel_id} is not known to the inbox yet")
    items: list[Item] = []
    for fetched_item in fetched.items:
        item = Item(
            external_id=fetched_item.external_id,
            kind=fetched_item.kind,
            text=fetched_item.text,
            author_id=fetched_item.author_id,
            author_name=fetched_item.author_name,
            author_handle=fetched_item.raw.get("handle") or fetched_item.raw.get("acct"),
            sent_at=fetched_item.created_at,
            parent_external_id=fetched_item.parent_external_id,
            post_external_id=fetched_item.post_external_id,
            partner_id=fetched_item.author_id if fetched_item.kind == "dm" else None,
            raw=fetched_item.raw,
        )
        if item.author_id == channel.external_id:
            continue  # our own posts and replies show up in notifications too
        items.append(item)
    # One batch for the whole poll: an operator's model is asked once.
    readings = await analyser.read([(item.text, item.language) for item in items])
    new = 0
    for item, reading in zip(items, readings, strict=True):
        if await ingest_item(session, outbox=outbox, channel=channel, item=item,
                             reading=reading, receipt_id=None):
            new += 1
    state = await session.get(PollState, channel.channel_id, with_for_update=True)
    if state is not None:
        state.last_fetched_at = datetime.now(UTC)
        if fetched.cursor is not None:
            state.cursor = fetched.cursor
    return new
