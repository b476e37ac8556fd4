"""The loop that forgets what has expired: idempotency records, old rate-limit windows."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from services.gateway.idempotency import purge_expired
from services.gateway.ratelimit import purge_old_windows
from services.gateway.settings import GatewaySettings
from shared.db import unit_of_work
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
