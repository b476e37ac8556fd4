"""Webhook receipts are kept for a while (a redelivered event is recognised by them, a failed
one can be looked into), then deleted by age; one still pending stays until it is handled."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.inbox.models import Receipt
from services.inbox.settings import InboxSettings
from shared.retention import delete_older_than, retention_loop
from shared.service import Runtime, Worker


def receipt_retention(runtime: Runtime, settings: InboxSettings) -> Worker:
    async def receipts(before: datetime) -> int:
        return await delete_older_than(
            runtime.sessions,
            Receipt.__table__,
            "received_at",
            before=before,
            batch=settings.retention_batch,
            keep_when="status = 'pending'",
        )

    keep_for = timedelta(days=settings.receipt_retention_days)
    return retention_loop(
        [("webhook receipts", receipts, keep_for)], every=settings.retention_interval_seconds
    )
