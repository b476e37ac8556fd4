"""The inbox's background loops: receipts made into messages, crisis detection, polls of the
networks that send no webhooks, contests ended and drawn, response-time breaches, old receipts
forgotten.

Every loop reads "now" from `runtime.clock()`: a test replaying a day of traffic moves it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import cast

from sqlalchemy import Table

from services.inbox import contests, crisis, sla
from services.inbox.counters import InboxCounters
from services.inbox.models import CONTESTS_CHANNEL, RECEIPTS_CHANNEL, Receipt
from services.inbox.polling import request_due_fetches
from services.inbox.receipts import process_receipts
from services.inbox.scorers import Analyser
from services.inbox.settings import InboxSettings
from shared.db import unit_of_work
from shared.loops import Loop
from shared.retention import delete_older_than
from shared.service import Runtime

log = logging.getLogger(__name__)


class CrisisLoop(Loop):
    """Looks at every workspace's recent messages for a crisis. New messages poke it; a storm
    would poke it continuously, so evaluations are at least `crisis_min_interval_seconds`
    apart."""

    name = "crisis"

    def __init__(self, runtime: Runtime, settings: InboxSettings, counters: InboxCounters) -> None:
        super().__init__(runtime, batch=1, every=settings.crisis_tick_seconds)
        self.min_interval = settings.crisis_min_interval_seconds
        self.counters = counters
        self._last_started: float | None = None

    async def step(self) -> int:
        clock = asyncio.get_running_loop().time
        if self._last_started is not None:
            await asyncio.sleep(max(self.min_interval - (clock() - self._last_started), 0.0))
        self._last_started = clock()
        async with unit_of_work(self.runtime.sessions) as session:
            result = await crisis.evaluate(session, outbox=self.runtime.outbox, now=self.clock())
        self.counters.crisis_evaluations.labels("skipped" if result is None else "done").inc()
        return 0


class ReceiptLoop(Loop):
    """Makes messages of stored webhook receipts; the receivers' NOTIFY wakes it."""

    name = "receipts"
    wake_on = RECEIPTS_CHANNEL

    def __init__(
        self, runtime: Runtime, settings: InboxSettings, analyser: Analyser, crisis: CrisisLoop
    ) -> None:
        super().__init__(runtime, batch=settings.receipt_batch, every=settings.receipt_idle_poll)
        self.settings = settings
        self.analyser = analyser
        self.crisis = crisis

    async def step(self) -> int:
        settings = self.settings
        async with unit_of_work(self.runtime.sessions) as session:
            claimed = await process_receipts(
                session,
                outbox=self.runtime.outbox,
                batch=settings.receipt_batch,
                max_attempts=settings.receipt_max_attempts,
                now=self.clock(),
                retry_first=settings.receipt_retry_seconds,
                retry_most=settings.receipt_retry_max_seconds,
                fresh_for=timedelta(hours=settings.poll_fresh_post_hours),
                analyser=self.analyser,
            )
        if claimed:
            # New messages may have tipped a scope into (or out of) a crisis.
            self.crisis.poke()
        return claimed


class PollLoop(Loop):
    """Asks the publisher to fetch the comments of posts on networks that send no webhooks."""

    name = "polls"

    def __init__(self, runtime: Runtime, settings: InboxSettings) -> None:
        super().__init__(runtime, batch=settings.poll_batch, every=settings.poll_tick_seconds)
        self.settings = settings

    async def step(self) -> int:
        settings = self.settings
        async with unit_of_work(self.runtime.sessions) as session:
            return await request_due_fetches(
                session,
                outbox=self.runtime.outbox,
                now=self.clock(),
                fresh_interval=timedelta(seconds=settings.poll_fresh_interval_seconds),
                stale_interval=timedelta(seconds=settings.poll_stale_interval_seconds),
                post_window=timedelta(days=settings.poll_post_window_days),
                batch=settings.poll_batch,
            )


class ContestLoop(Loop):
    """Ends and draws contests when their time comes. It sleeps until the next end or draw
    time; a new contest's NOTIFY wakes it sooner."""

    name = "contests"
    wake_on = CONTESTS_CHANNEL

    def __init__(self, runtime: Runtime, settings: InboxSettings) -> None:
        # batch=1: after any contest handled, look again at once.
        super().__init__(runtime, batch=1, every=settings.contest_tick_seconds)
        self.retry = timedelta(seconds=settings.contest_retry_seconds)

    async def step(self) -> int:
        async with unit_of_work(self.runtime.sessions) as session:
            return await contests.run_due(
                session, outbox=self.runtime.outbox, now=self.clock(), retry=self.retry
            )

    async def pause(self) -> float:
        async with unit_of_work(self.runtime.sessions) as session:
            due = await contests.next_due(session)
        # A due contest another replica holds locked is looked at again shortly.
        if due is None:
            return self.every
        return min(self.every, max((due - self.clock()).total_seconds(), 0.1))


class SlaLoop(Loop):
    """Marks the conversations that went past their response-time target unanswered."""

    name = "sla"

    def __init__(self, runtime: Runtime, settings: InboxSettings) -> None:
        super().__init__(runtime, batch=settings.sla_batch, every=settings.sla_tick_seconds)

    async def step(self) -> int:
        async with unit_of_work(self.runtime.sessions) as session:
            return await sla.mark_breaches(
                session, outbox=self.runtime.outbox, now=self.clock(), batch=self.batch
            )


class ReceiptRetentionLoop(Loop):
    """Webhook receipts are kept for a while (a redelivered event is recognised by them, a
    failed one can be looked into), then deleted by age; one still pending stays until it is
    handled."""

    name = "receipt-retention"

    def __init__(self, runtime: Runtime, settings: InboxSettings) -> None:
        super().__init__(runtime, every=settings.retention_interval_seconds)
        self.settings = settings
        self.keep_for = timedelta(days=settings.receipt_retention_days)

    async def step(self) -> int:
        deleted = await delete_older_than(
            self.runtime.sessions,
            cast(Table, Receipt.__table__),
            "received_at",
            before=self.clock() - self.keep_for,
            batch=self.settings.retention_batch,
            keep_when="status = 'pending'",
        )
        if deleted:
            log.info("retention: %d webhook receipts older than %s deleted", deleted, self.keep_for)
        # Deleting already runs batch after batch until none is left: wait for the next round.
        return 0


def loops(
    runtime: Runtime, settings: InboxSettings, *, analyser: Analyser, counters: InboxCounters
) -> list[Loop]:
    crisis_loop = CrisisLoop(runtime, settings, counters)
    return [
        ReceiptLoop(runtime, settings, analyser, crisis_loop),
        PollLoop(runtime, settings),
        crisis_loop,
        ReceiptRetentionLoop(runtime, settings),
        ContestLoop(runtime, settings),
        SlaLoop(runtime, settings),
    ]
