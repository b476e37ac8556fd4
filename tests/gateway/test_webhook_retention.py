"""Old webhook deliveries and attempts are forgotten; a pending delivery stays whatever its
age, its retries are not over (GATEWAY_WEBHOOK_DELIVERY_RETENTION_DAYS)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.gateway.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from shared.db import unit_of_work
from tests.gateway.support import running_gateway


def _delivery(subscription: WebhookSubscription, *, status: str, age: timedelta) -> WebhookDelivery:
    now = datetime.now(UTC)
    return WebhookDelivery(
        id=uuid.uuid4(),
        subscription_id=subscription.id,
        workspace_id=subscription.workspace_id,
        message_id=f"msg_{uuid.uuid4().hex}",
        event_type="post.published",
        body="{}",
        status=status,
        # Not due for a day: the delivery loop leaves the pending one alone meanwhile.
        next_attempt_at=now + timedelta(days=1) if status == "pending" else None,
        created_at=now - age,
    )


def _attempt(delivery: WebhookDelivery, *, age: timedelta) -> WebhookAttempt:
    return WebhookAttempt(
        id=uuid.uuid4(),
        delivery_id=delivery.id,
        attempt=1,
        attempted_at=datetime.now(UTC) - age,
        succeeded=False,
        status_code=500,
        duration_ms=10,
    )


async def test_finished_deliveries_past_the_setting_go_and_pending_ones_stay(make_settings):
    async with running_gateway(
        make_settings, webhook_delivery_retention_days=7, retention_interval_seconds=0.2
    ) as gw:
        ws = await gw.workspace()
        subscription = WebhookSubscription(
            id=uuid.uuid4(),
            workspace_id=uuid.UUID(ws["id"]),
            url="https://hooks.example.com/herald",
            events=["*"],
        )
        old, week = timedelta(days=8), timedelta(days=6)
        old_pending = _delivery(subscription, status="pending", age=old)
        old_succeeded = _delivery(subscription, status="succeeded", age=old)
        old_failed = _delivery(subscription, status="failed", age=old)
        recent = _delivery(subscription, status="succeeded", age=week)
        async with unit_of_work(gw.runtime.sessions) as session:
            session.add(subscription)
            await session.flush()
            session.add_all([old_pending, old_succeeded, old_failed, recent])
            await session.flush()
            old_attempt = _attempt(old_pending, age=old)
            recent_attempt = _attempt(recent, age=week)
            session.add_all([old_attempt, recent_attempt])

        async def kept() -> tuple[set[uuid.UUID], set[uuid.UUID]]:
            async with gw.runtime.sessions() as session:
                deliveries = set((await session.scalars(select(WebhookDelivery.id))).all())
                attempts = set((await session.scalars(select(WebhookAttempt.id))).all())
            return deliveries, attempts

        wanted = ({old_pending.id, recent.id}, {recent_attempt.id})
        deadline = time.monotonic() + 20
        while await kept() != wanted and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await kept() == wanted
