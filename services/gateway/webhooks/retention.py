"""Forgetting old webhook deliveries and attempts, and old audit entries, by age.

A pending delivery stays whatever its age: its retries are not over.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table

from services.gateway.models import AuditEntry, WebhookAttempt, WebhookDelivery
from services.gateway.settings import GatewaySettings
from shared.retention import Retention, pruner
from shared.service import Runtime


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


class GatewayRetention(Retention):
    name = "webhook-retention"

    def __init__(self, runtime: Runtime, settings: GatewaySettings) -> None:
        sessions, batch = runtime.sessions, settings.retention_batch
        keep_deliveries = timedelta(days=settings.webhook_delivery_retention_days)
        super().__init__(
            runtime,
            [
                (
                    "webhook deliveries",
                    pruner(
                        sessions,
                        _table(WebhookDelivery),
                        "created_at",
                        batch=batch,
                        keep_when="status = 'pending'",
                    ),
                    keep_deliveries,
                ),
                (
                    "webhook attempts",
                    pruner(sessions, _table(WebhookAttempt), "attempted_at", batch=batch),
                    keep_deliveries,
                ),
                (
                    "audit entries",
                    pruner(sessions, _table(AuditEntry), "occurred_at", batch=batch),
                    timedelta(days=settings.audit_retention_days),
                ),
            ],
            every=settings.retention_interval_seconds,
        )
