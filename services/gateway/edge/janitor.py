"""The janitor: forgets expired idempotency records and rate-limit windows past use."""

from __future__ import annotations

from datetime import timedelta

from services.gateway.edge.idempotency import purge_expired
from services.gateway.edge.ratelimit import purge_old_windows
from services.gateway.settings import GatewaySettings
from shared.db import unit_of_work
from shared.loops import Loop
from shared.service import Runtime


class Janitor(Loop):
    name = "janitor"

    def __init__(self, runtime: Runtime, settings: GatewaySettings) -> None:
        super().__init__(runtime, batch=1, every=settings.janitor_interval_seconds)
        # A window is still read while the next one runs: two windows back is past use.
        self.keep_windows_for = timedelta(seconds=2 * settings.rate_limit_window_seconds)

    async def step(self) -> int:
        now = self.clock()
        # Every replica may run it: deleting what is already gone costs nothing. Each pass
        # deletes all that is expired, so the loop always waits out its pause after one.
        async with unit_of_work(self.runtime.sessions) as session:
            await purge_expired(session, now=now)
            await purge_old_windows(session, before=now - self.keep_windows_for)
        return 0
