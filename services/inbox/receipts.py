"""Webhook receipts: stored durably on arrival, turned into messages by a worker afterwards.

The receiver only verifies, deduplicates and stores, so the network gets its 200 within
milliseconds; everything slow (routing, threading, sentiment, events) happens in the worker,
which claims receipts with SKIP LOCKED so any number of replicas share them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbox.conversations import ingest_item
from services.inbox.models import RECEIPTS_CHANNEL, Channel, Receipt
from services.inbox.normalise import Identity, decode, identify, normalise, youtube_uploads
from services.inbox.polling import note_post
from shared.outbox import Outbox

log = logging.getLogger(__name__)


async def store_receipt(
    session: AsyncSession, *, network: str, identity: Identity, body: bytes, notify: bool = True
) -> bool:
    """Keeps the raw webhook once per network event; False when it is a redelivery."""
    status = "pending" if identity.understood else "unknown"
    inserted = await session.scalar(
        pg_insert(Receipt)
        .values(
            network=network,
            event_key=identity.event_key,
            account_id=identity.account_id,
            status=status,
            body=body,
        )
        .on_conflict_do_nothing(index_elements=[Receipt.network, Receipt.event_key])
        .returning(Receipt.id)
    )
    if notify and inserted is not None and status == "pending":
        # Delivered on commit only, so the worker never looks before the row is visible.
        await session.execute(text(f"NOTIFY {RECEIPTS_CHANNEL}"))
    return inserted is not None


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


async def process_receipts(
    session: AsyncSession,
    *,
    outbox: Outbox,
    batch: int,
    max_attempts: int,
    fresh_for: timedelta = timedelta(hours=24),
) -> int:
    """Claims up to `batch` pending receipts and makes messages of them; returns how many."""
    rows = (
        await session.execute(
            select(Receipt.id, Receipt.network, Receipt.account_id, Receipt.body,
                   Receipt.attempts)
            .where(Receipt.status == "pending")
            .order_by(Receipt.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        try:
            # A savepoint per receipt: one that cannot be processed must not undo the others.
            async with session.begin_nested():
                outcome = await _process_one(
                    session, outbox=outbox, receipt_id=row.id, network=row.network,
                    account_id=row.account_id, body=row.body, fresh_for=fresh_for,
                )
        except Exception as exc:  # noqa: BLE001  (recorded on the receipt, retried, then given up)
            log.exception("receipt %s could not be processed", row.id)
            attempts = row.attempts + 1
            await session.execute(
                update(Receipt)
                .where(Receipt.id == row.id)
                .values(
                    attempts=attempts,
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                    status="failed" if attempts >= max_attempts else "pending",
                )
            )
            continue
        await session.execute(
            update(Receipt)
            .where(Receipt.id == row.id)
            .values(status=outcome, processed_at=datetime.now(UTC), error=None)
        )
    return len(rows)


async def _process_one(
    session: AsyncSession,
    *,
    outbox: Outbox,
    receipt_id: int,
    network: str,
    account_id: str | None,
    body: bytes,
    fresh_for: timedelta,
) -> str:
    payload = decode(network, body)
    if not identify(network, payload, body).understood:
        return "unknown"
    channel = None
    if account_id is not None:
        channel = await session.scalar(
            select(Channel).where(
                Channel.network == network,
                Channel.external_id == account_id,
                Channel.status != "disconnected",
            )
        )
    if channel is None:
        # Parked, not dropped: `channel.connected` may simply not have reached us yet.
        return "unrouted"
    if network == "youtube":
        # A new upload: its comments are polled from now on, often while it is young.
        for video_id, published_at in youtube_uploads(payload):
            await note_post(session, channel_id=channel.channel_id, network=network,
                            external_id=video_id, published_at=published_at,
                            fresh_for=fresh_for)
    for item in normalise(network, payload):
        await ingest_item(session, outbox=outbox, channel=channel, item=item,
                          receipt_id=receipt_id)
    return "processed"
