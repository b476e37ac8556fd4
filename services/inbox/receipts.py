"""Webhook receipts: stored durably on arrival, turned into messages by a worker afterwards.

The receiver only verifies, deduplicates and stores, so the network gets its 200 within
milliseconds; everything slow (routing, threading, sentiment, events) happens in the worker,
which claims receipts with SKIP LOCKED so any number of replicas share them.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.conversations import ingest_item
from services.inbox.models import RECEIPTS_CHANNEL, Channel, Receipt
from services.inbox.networks import decode, identify, normalise
from services.inbox.networks.youtube import youtube_uploads
from services.inbox.polling import note_post
from services.inbox.scorers import Analyser
from shared.outbox import Outbox

log = logging.getLogger(__name__)


async def requeue_unrouted(session: AsyncSession, *, network: str, account_id: str) -> None:
    """A channel became known: receipts that arrived before it are worth another look."""
    result = await session.execute(
        update(Receipt)
        .where(
            Receipt.network == network,
            Receipt.account_id == account_id,
            Receipt.status == "unrouted",
        )
        .values(status="pending")
    )
    if getattr(result, "rowcount", 0):
        await session.execute(text(f"NOTIFY {RECEIPTS_CHANNEL}"))


def retry_delay(attempts: int, *, first: float, most: float) -> timedelta:
    """How long a receipt that failed `attempts` times waits: doubling, capped."""
    return timedelta(seconds=min(most, first * 2 ** max(0, attempts - 1)))


async def process_receipts(
    session: AsyncSession,
    *,
    outbox: Outbox,
    batch: int,
    max_attempts: int,
    now: datetime,
    retry_first: float = 5.0,
    retry_most: float = 900.0,
    analyser: Analyser,
    fresh_for: timedelta = timedelta(hours=24),
) -> int:
    """Claims up to `batch` pending receipts that are due and makes messages of them; returns
    how many were claimed.

    A receipt that fails is not lost and not retried at once: it stays pending with its error
    and `next_attempt_at` pushed out (doubling each time), until `max_attempts` failures make
    it `failed`.
    """
    rows = (
        await session.execute(
            select(Receipt.id, Receipt.network, Receipt.account_id, Receipt.body, Receipt.attempts)
            .where(
                Receipt.status == "pending",
                or_(Receipt.next_attempt_at.is_(None), Receipt.next_attempt_at <= now),
            )
            .order_by(Receipt.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    process = functools.partial(
        _process_one,
        session,
        outbox=outbox,
        fresh_for=fresh_for,
        channels={},
        analyser=analyser,
    )
    outcomes: dict[str, list[int]] = defaultdict(list)
    try:
        # The whole batch under one savepoint first: the usual case, at the cost of one
        # savepoint instead of one per receipt.
        async with session.begin_nested():
            for row in rows:
                outcomes[await process(row)].append(row.id)
    except Exception:  # noqa: BLE001  (the receipt at fault is found one by one below)
        retry = functools.partial(retry_delay, first=retry_first, most=retry_most)
        outcomes = await _one_by_one(
            session, rows, process, now=now, max_attempts=max_attempts, retry=retry
        )
    for outcome, ids in outcomes.items():
        await session.execute(
            update(Receipt)
            .where(Receipt.id.in_(ids))
            .values(status=outcome, processed_at=now, error=None, next_attempt_at=None)
        )
    return len(rows)


async def _one_by_one(
    session: AsyncSession,
    rows: Sequence[Any],
    process: Callable[[Any], Awaitable[str]],
    *,
    now: datetime,
    max_attempts: int,
    retry: Callable[[int], timedelta],
) -> dict[str, list[int]]:
    """Each receipt under a savepoint of its own: one that cannot be processed must not undo
    the others. It keeps its error and waits for its next attempt (given up after
    `max_attempts`)."""
    outcomes: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        try:
            async with session.begin_nested():
                outcome = await process(row)
        except Exception as exc:  # noqa: BLE001  (recorded, retried later, then given up)
            log.exception("receipt %s could not be processed", row.id)
            attempts = row.attempts + 1
            await session.execute(
                update(Receipt)
                .where(Receipt.id == row.id)
                .values(
                    attempts=attempts,
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                    status="failed" if attempts >= max_attempts else "pending",
                    next_attempt_at=now + retry(attempts),
                )
            )
            continue
        outcomes[outcome].append(row.id)
    return outcomes


async def _process_one(
    session: AsyncSession,
    row: Any,
    *,
    outbox: Outbox,
    fresh_for: timedelta,
    channels: dict[tuple[str, str], list[Channel]],
    analyser: Analyser,
) -> str:
    receipt_id, network, account_id = row.id, row.network, row.account_id
    payload = decode(network, row.body)
    body = row.body
    if not identify(network, payload, body).understood:
        return "unknown"
    found: list[Channel] = []
    if account_id is not None:
        # A burst is mostly for the same few accounts: each is looked up once per batch.
        key = (network, account_id)
        if key not in channels:
            # Every workspace that has the account connected gets the event.
            channels[key] = list(
                (
                    await session.scalars(
                        select(Channel)
                        .where(
                            Channel.network == network,
                            Channel.external_id == account_id,
                            Channel.status != "disconnected",
                        )
                        .order_by(Channel.channel_id)
                    )
                ).all()
            )
        found = channels[key]
    if not found:
        # Parked, not dropped: `channel.connected` may simply not have reached us yet.
        return "unrouted"
    for channel in found:
        await _route(
            session,
            outbox=outbox,
            channel=channel,
            receipt_id=receipt_id,
            network=network,
            payload=payload,
            fresh_for=fresh_for,
            analyser=analyser,
        )
    return "processed"


async def _route(
    session: AsyncSession,
    *,
    outbox: Outbox,
    channel: Channel,
    receipt_id: int,
    network: str,
    payload: Any,
    fresh_for: timedelta,
    analyser: Analyser,
) -> None:
    if network == "youtube":
        # A new upload: its comments are polled from now on, often while it is young.
        for video_id, published_at in youtube_uploads(payload):
            await note_post(
                session,
                channel_id=channel.channel_id,
                network=network,
                external_id=video_id,
                published_at=published_at,
                fresh_for=fresh_for,
            )
    items = list(normalise(network, payload))
    readings = await analyser.read([(item.text, item.language) for item in items])
    for item, reading in zip(items, readings, strict=True):
        await ingest_item(
            session, outbox=outbox, channel=channel, item=item, reading=reading,
            receipt_id=receipt_id,
        )
