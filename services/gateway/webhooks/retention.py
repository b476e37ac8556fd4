"""Forgetting old webhook deliveries and attempts, and old audit entries, by age.

A pending delivery stays whatever its age: its retries are not over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.gateway.models import AuditEntry, WebhookAttempt, WebhookDelivery
from services.gateway.settings import GatewaySettings
from shared.retention import Retention, delete_older_than
from shared.service import Runtime


class GatewayRetention(Retention):
    name = "webhook-retention"

    def __init__(self, runtime: Runtime, settings: GatewaySettings) -> None:
        self.batch_size = settings.retention_batch
        keep_for = timedelta(days=settings.webhook_delivery_retention_days)
        super().__init__(
            runtime,
            [
                ("webhook deliveries", self.deliveries, keep_for),
                ("webhook attempts", self.attempts, keep_for),
                (
                    "audit entries",
                    self.audit_entries,
                    timedelta(days=settings.audit_retention_days),
                ),
            ],
            every=settings.retention_interval_seconds,
        )

    async def deliveries(self, before: datetime) -> int:
        return await delete_older_than(
            self.runtime.sessions,
            WebhookDelivery.__table__,
            "created_at",
            before=before,
            batch=self.batch_size,
            keep_when="status = 'pending'",
        )

    async def attempts(self, before: datetime) -> int:
        return await delete_older_than(
            self.runtime.sessions,
            WebhookAttempt.__table__,
            "attempted_at",
            before=before,
            batch=self.batch_size,
        )

    async def audit_entries(self, before: datetime) -> int:
        return await delete_older_than(
            self.runtime.sessions,
            AuditEntry.__table__,
            "occurred_at",
            before=before,
            batch=self.batch_size,
        )
