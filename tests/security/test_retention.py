"""Records of the past are deleted by age: nothing a service only remembers grows forever.

Every consumer's idempotency record (`processed_messages`), the inbox's webhook receipts and
the gateway's webhook deliveries and attempts used to be kept for ever: tables (and, for the
receipts and deliveries, whole bodies of people's messages and events) that only grow.
"""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from shared.db import asyncpg_dsn
from tests.e2e.flows import new_workspace
from tests.security.ops_support import SERVICES, platform_with_env, wait_until

RETENTION_ENV = {
    name: {
        f"{name.upper()}_RETENTION_INTERVAL_SECONDS": "0.5",
        f"{name.upper()}_PROCESSED_MESSAGES_RETENTION_DAYS": "1",
        f"{name.upper()}_LOG_LEVEL": "WARNING",
        f"{name.upper()}_DATABASE_POOL_SIZE": "3",
    }
    for name in SERVICES
}
RETENTION_ENV["inbox"]["INBOX_RECEIPT_RETENTION_DAYS"] = "1"
RETENTION_ENV["gateway"]["GATEWAY_WEBHOOK_DELIVERY_RETENTION_DAYS"] = "1"

OLD = "now() - interval '3 days'"
RECENT = "now() - interval '1 hour'"


async def test_old_records_are_deleted_and_recent_ones_stay(database_url, bus_prefix, tmp_path):
    async with platform_with_env(database_url, bus_prefix, tmp_path, RETENTION_ENV) as platform:
        async with httpx.AsyncClient(base_url=platform.config.url("gateway")) as gateway:
            key = await new_workspace(gateway)
            r = await gateway.post(
                "/v1/webhooks",
                json={"url": "https://example.com/herald", "events": ["post.published"]},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert r.status_code == 201, r.text
            webhook = uuid.UUID(r.json()["id"])

        db = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await _remember_the_past(db, webhook)
            await wait_until(lambda: _old_rows_left(db), seconds=60, what="nothing old left")

            for schema in SERVICES:
                kept = await db.fetch(
                    f"SELECT message_id FROM {schema}.processed_messages WHERE consumer = 'test'"
                )
                assert [r["message_id"] for r in kept] == ["recent"], schema
            receipts = await db.fetch("SELECT event_key FROM inbox.receipts ORDER BY event_key")
            assert [r["event_key"] for r in receipts] == ["old-pending", "recent"]
            deliveries = await db.fetch(
                "SELECT message_id FROM gateway.webhook_deliveries ORDER BY message_id"
            )
            assert [r["message_id"] for r in deliveries] == ["old-pending", "recent"]
            attempts = await db.fetch("SELECT error FROM gateway.webhook_attempts")
            assert [r["error"] for r in attempts] == ["recent"]
        finally:
            await db.close()


async def _remember_the_past(db: asyncpg.Connection, webhook: uuid.UUID) -> None:
    for schema in SERVICES:
        await db.execute(
            f"INSERT INTO {schema}.processed_messages (consumer, message_id, processed_at) "
            f"VALUES ('test', 'old', {OLD}), ('test', 'recent', {RECENT})"
        )
    await db.execute(
        "INSERT INTO inbox.receipts (network, event_key, status, body, received_at) VALUES "
        f"('x', 'old', 'processed', '{{}}', {OLD}), "
        f"('x', 'old-failed', 'failed', '{{}}', {OLD}), "
        f"('x', 'old-pending', 'pending', '{{}}', {OLD}), "
        f"('x', 'recent', 'processed', '{{}}', {RECENT})"
    )
    workspace = await db.fetchval(
        "SELECT workspace_id FROM gateway.webhook_subscriptions WHERE id = $1", webhook
    )
    deliveries = {
        "old": ("succeeded", OLD, "NULL"),
        "old-failed": ("failed", OLD, "NULL"),
        # Still retrying (its next attempt far enough ahead that the worker leaves it alone).
        "old-pending": ("pending", OLD, "now() + interval '1 day'"),
        "recent": ("succeeded", RECENT, "NULL"),
    }
    for message_id, (status, created, next_attempt) in deliveries.items():
        delivery = uuid.uuid4()
        await db.execute(
            "INSERT INTO gateway.webhook_deliveries (id, subscription_id, workspace_id, "
            "message_id, event_type, body, status, attempts, next_attempt_at, created_at) "
            f"VALUES ($1, $2, $3, $4, 'post.published', '{{}}', $5, 1, {next_attempt}, "
            f"{created})",
            delivery,
            webhook,
            workspace,
            message_id,
            status,
        )
        await db.execute(
            "INSERT INTO gateway.webhook_attempts (id, delivery_id, attempt, attempted_at, "
            f"succeeded, status_code, error, duration_ms) VALUES ($1, $2, 1, {created}, "
            "true, 200, $3, 5)",
            uuid.uuid4(),
            delivery,
            message_id,
        )


async def _old_rows_left(db: asyncpg.Connection) -> bool:
    """True once every old row that may go is gone."""
    checks = [
        *(
            f"SELECT count(*) FROM {schema}.processed_messages WHERE message_id = 'old'"
            for schema in SERVICES
        ),
        "SELECT count(*) FROM inbox.receipts WHERE event_key IN ('old', 'old-failed')",
        "SELECT count(*) FROM gateway.webhook_deliveries WHERE message_id IN ('old', 'old-failed')",
        "SELECT count(*) FROM gateway.webhook_attempts WHERE error <> 'recent'",
    ]
    for sql in checks:
        if await db.fetchval(sql):
            return False
    return True
