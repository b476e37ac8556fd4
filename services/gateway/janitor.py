"""The loops that forget: expired idempotency records and rate-limit windows (the janitor),
old webhook deliveries and attempts, old audit entries (retention)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from services.gateway.idempotency import purge_expired
from services.gateway.models import AuditEntry, WebhookAttempt, WebhookDelivery
from services.gateway.ratelimit import purge_old_windows
from services.gateway.settings import GatewaySettings
from shared.db import unit_of_work
from shared.retention import delete_older_than, retention_loop
from shared.service import Runtime, Worker

log = logging.getLogger(__name__)


def janitor(runtime: Runtime, settings: GatewaySettings) -> Worker:
    async def run() -> None:
        while True:
            now = datetime.now(UTC)
            # Every replica may run it: deleting what is already gone costs nothing.
            async with unit_of_work(runtime.sessions) as session:
                await purge_expired(session, now=now)
                await purge_old_windows(
                    session, before=now - timedelta(seconds=2 * settings.rate_limit_window_seconds)
                )
            await asyncio.sleep(settings.janitor_interval_seconds)

    return run


def retention(runtime: Runtime, settings: GatewaySettings) -> Worker:
    """Deletes finished webhook deliveries (with their attempts), attempts and audit entries
    by age.

    A pending delivery stays whatever its age: its retries are not over.
    """
    batch = settings.retention_batch

    async def deliveries(before: datetime) -> int:
        return await delete_older_than(
            runtime.sessions,
            WebhookDelivery.__table__,
            "created_at",
            before=before,
            batch=batch,
            keep_when="status = 'pending'",
        )

    async def attempts(before: datetime) -> int:
        return await delete_older_than(
            runtime.sessions, WebhookAttempt.__table__, "attempted_at", before=before, batch=batch
        )

    async def audit_entries(before: datetime) -> int:
        return await delete_older_than(
            runtime.sessions, AuditEntry.__table__, "occurred_at", before=before, batch=batch
        )

    keep_for = timedelta(days=settings.webhook_delivery_retention_days)
    return retention_loop(
        [
            ("webhook deliveries", deliveries, keep_for),
            ("webhook attempts", attempts, keep_for),
            ("audit entries", audit_entries, timedelta(days=settings.audit_retention_days)),
        ],
        every=settings.retention_interval_seconds,
    )
