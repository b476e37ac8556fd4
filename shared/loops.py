"""Background loops: the one shape of every service's recurring work, and the one clock.

A loop claims a batch of work in a unit of work (`step`), and steps again at once while the
batches come back full. When a batch comes back short there is nothing more to do for now, so
it waits: for a NOTIFY on its channel (someone just wrote work for it), for `poke()` (work found
in this process), or for `pause()` seconds, whichever comes first. A crash in `step` is logged
and the loop goes on after a second; `stop()` ends it between two steps, so a batch is never
cut off half-way by a clean shutdown.

    class Dispatcher(Loop):
        name = "dispatcher"

        async def step(self) -> int:
            async with unit_of_work(self.runtime.sessions) as session:
                return await claim_due(session, batch=self.batch, now=self.clock.now())

A service lists its loops in its `workers.py`; `Runtime.running(loops=...)` starts and stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from shared.service import Runtime

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
"""What "now" is: `runtime.clock()`. Tests that need another time pass their own."""


def system_clock() -> datetime:
    return datetime.now(UTC)


class Loop(ABC):
    """One background job of a service. Subclasses set `name` and write `step`."""

    name: ClassVar[str]
    # The NOTIFY channel whose notifications cut a wait short (the runtime listens to it).
    wake_on: ClassVar[str | None] = None

    def __init__(self, runtime: Runtime, *, batch: int = 100, every: float = 5.0) -> None:
        self.runtime = runtime
        self.batch = batch
        self.every = every
        self._poked = asyncio.Event()
        self._stopping = asyncio.Event()

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @abstractmethod
    async def step(self) -> int:
        """Claims and handles one batch; returns how many items it took."""

    async def pause(self) -> float:
        """Seconds to wait after a short batch. A loop that knows when its next work is due
        (the dispatcher) answers that instead."""
        return self.every

    def poke(self) -> None:
        """There is work now: step without waiting out the pause."""
        self._poked.set()

    def stop(self) -> None:
        self._stopping.set()
        self._poked.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                handled = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("loop %s failed a step; going on", self.name)
                handled = 0
                await self._wait(1.0)
                continue
            if handled < self.batch:
                await self._wait(await self.pause())

    async def _wait(self, seconds: float) -> None:
        waits = [asyncio.ensure_future(self._poked.wait())]
        if self.wake_on is not None:
            waits.append(asyncio.ensure_future(self.runtime.notifier.events[self.wake_on].wait()))
        try:
            await asyncio.wait(waits, timeout=max(seconds, 0.0), return_when="FIRST_COMPLETED")
        finally:
            for waiting in waits:
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
        self._poked.clear()
        if self.wake_on is not None:
            self.runtime.notifier.events[self.wake_on].clear()
