"""The scheduler's background loops."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from services.scheduler.dispatch import DispatchMetrics, claim_due, next_due
from services.scheduler.media import MediaLinks
from services.scheduler.planning import DUE_CHANNEL
from services.scheduler.settings import SchedulerSettings
from shared.db import unit_of_work
from shared.loops import Loop
from shared.service import Runtime

# Rows due now but still locked by another replica's claim are about to leave `scheduled`:
# look again shortly instead of spinning on them.
_FLOOR_SECONDS = 0.02


class Dispatcher(Loop):
    """Says `post.due` the moment a target is due. A NOTIFY on `scheduler_due` (something due
    sooner was just scheduled) cuts its wait short."""

    name = "dispatcher"
    wake_on = DUE_CHANNEL

    def __init__(
        self,
        runtime: Runtime,
        *,
        batch: int,
        max_sleep: float,
        default_missed_after: int,
        recurrence_horizon: timedelta = timedelta(days=60),
        media_links: MediaLinks | None = None,
    ) -> None:
        super().__init__(runtime, batch=batch, every=max_sleep)
        self.default_missed_after = default_missed_after
        self.recurrence_horizon = recurrence_horizon
        self.media_links = media_links
        self.metrics = DispatchMetrics.register(runtime)

    async def step(self) -> int:
        async with unit_of_work(self.runtime.sessions) as session:
            return await claim_due(
                session,
                outbox=self.runtime.outbox,
                batch=self.batch,
                default_missed_after=self.default_missed_after,
                metrics=self.metrics,
                recurrence_horizon=self.recurrence_horizon,
                media_links=self.media_links,
            )

    async def drain(self) -> int:
        """Claims batches until nothing is due; returns how many targets were handled."""
        total = 0
        while True:
            handled = await self.step()
            total += handled
            if handled < self.batch:
                return total

    async def pause(self) -> float:
        # Due times are compared with the database's clock, as the claim does (CLAIM_SQL):
        # every replica then agrees on what is due, whatever its own clock says.
        async with self.runtime.sessions() as session:
            due = await next_due(session)
            now = await session.scalar(select(func.now()))
        if due is None or now is None:
            return self.every
        return min(max((due - now).total_seconds(), _FLOOR_SECONDS), self.every)


def loops(runtime: Runtime, settings: SchedulerSettings) -> list[Loop]:
    return [
        Dispatcher(
            runtime,
            batch=settings.dispatch_batch,
            max_sleep=settings.dispatch_max_sleep,
            default_missed_after=settings.default_missed_after_seconds,
            recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
            media_links=MediaLinks.from_settings(settings),
        )
    ]
