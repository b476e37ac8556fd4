"""Every service forgets its idempotency record by age: the runtime's own Retention loop."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import insert, select

from services.gateway.models import BUS
from services.gateway.settings import GatewaySettings
from shared.db import unit_of_work
from shared.loops import system_clock
from shared.service import Runtime


async def test_processed_messages_older_than_the_setting_are_deleted(make_settings):
    settings = make_settings(
        GatewaySettings, processed_messages_retention_days=2, retention_interval_seconds=0.2
    )
    runtime = Runtime.create(settings, tables=BUS)
    table = BUS.processed_messages
    now = system_clock()
    async with unit_of_work(runtime.sessions) as session:
        await session.execute(
            insert(table),
            [
                {"consumer": "c", "message_id": "old", "processed_at": now - timedelta(days=3)},
                {"consumer": "c", "message_id": "recent", "processed_at": now - timedelta(days=1)},
            ],
        )

    async def kept() -> list[str]:
        async with runtime.sessions() as session:
            return sorted((await session.scalars(select(table.c.message_id))).all())

    async with runtime.running():
        deadline = time.monotonic() + 20
        while await kept() != ["recent"] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    assert await kept() == ["recent"]
