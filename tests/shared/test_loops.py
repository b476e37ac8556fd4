"""`shared.loops.Loop`: the one shape of every service's background work.

A loop steps again at once while its batches come back full, waits when one comes back short,
is woken early by `poke()` and by a NOTIFY on its `wake_on` channel (from the real PostgreSQL),
logs a failing step and goes on, and ends between two steps on `stop()` or when its runtime
shuts down. Every loop here waits 60 s when it is short: anything that happens within a few
seconds happened because of what the test did, not because the pause ran out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from services.metrics.models import BUS
from services.metrics.settings import MetricsSettings
from shared.db import asyncpg_dsn
from shared.loops import Loop
from shared.service import Runtime
from tests.support.waits import until

LONG = 60.0
WAKE = "test_loop_wake"


class Counting(Loop):
    """Answers each step from `results` (a full batch, a short one, or an exception to raise),
    then short batches; records each step, and whether it is waiting between steps."""

    name = "counting"

    def __init__(self, runtime: Runtime, results: list[int | Exception] | None = None) -> None:
        super().__init__(runtime, batch=3, every=LONG)
        self.results = list(results or [])
        self.steps = 0
        self.waiting = False
        self.release: asyncio.Event | None = None
        self.finished = 0

    async def step(self) -> int:
        self.waiting = False
        self.steps += 1
        if self.release is not None:
            await self.release.wait()
        self.finished += 1
        result = self.results.pop(0) if self.results else 0
        if isinstance(result, Exception):
            raise result
        return result

    async def pause(self) -> float:
        self.waiting = True
        return await super().pause()


class Notified(Counting):
    name = "notified"
    wake_on = WAKE


@pytest.fixture
async def runtime(make_settings: Callable[..., Any]) -> AsyncIterator[Runtime]:
    made = Runtime.create(make_settings(MetricsSettings), tables=BUS)
    yield made
    await made.engine.dispose()


async def running_alone(loop: Loop) -> asyncio.Task[None]:
    return asyncio.create_task(loop.run(), name=loop.name)


async def stopped(loop: Loop, task: asyncio.Task[None]) -> None:
    loop.stop()
    await asyncio.wait_for(task, 10)


async def test_a_full_batch_steps_again_at_once(runtime: Runtime) -> None:
    loop = Counting(runtime, results=[3, 3, 3, 1])
    task = await running_alone(loop)
    # Four steps within seconds although a short batch waits a minute: the first three were
    # full. The fourth was short, so the loop waits there.
    await until(lambda: loop.steps == 4 and loop.waiting, timeout=10, what="four steps")
    assert loop.results == []
    await stopped(loop, task)
    assert loop.steps == 4


async def test_a_short_batch_waits_until_poked(runtime: Runtime) -> None:
    loop = Counting(runtime, results=[2])
    task = await running_alone(loop)
    await until(lambda: loop.waiting, timeout=10, what="the loop waiting after a short batch")
    # The quiet period is the behaviour: nothing is due, so nothing steps for a while.
    await asyncio.sleep(0.5)
    assert loop.steps == 1
    loop.poke()
    await until(lambda: loop.steps == 2, timeout=10, what="the step after poke()")
    await stopped(loop, task)


async def test_a_notify_on_its_channel_wakes_it(runtime: Runtime) -> None:
    listening = asyncio.Event()
    runtime.notifier.on_listening = lambda now: listening.set() if now else listening.clear()
    loop = Notified(runtime)
    async with runtime.running(loops=[loop]):
        await asyncio.wait_for(listening.wait(), 20)
        # Connecting wakes every loop once (it may have missed something): wait for that to
        # be spent, so the step counted next is the NOTIFY's.
        event = runtime.notifier.events[WAKE]
        await until(
            lambda: loop.waiting and not event.is_set(), timeout=10, what="the loop waiting"
        )
        before = loop.steps
        conn = await asyncpg.connect(asyncpg_dsn(runtime.settings.database_url))
        try:
            await conn.execute(f"NOTIFY {WAKE}")
        finally:
            await conn.close()
        await until(lambda: loop.steps == before + 1, timeout=10, what="the step after NOTIFY")


async def test_a_failing_step_is_logged_and_the_loop_goes_on(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="shared.loops")
    loop = Counting(runtime, results=[RuntimeError("the database said no"), 3, 0])
    task = await running_alone(loop)
    await until(lambda: loop.steps == 3, timeout=10, what="the steps after a failure")
    [record] = [r for r in caplog.records if r.name == "shared.loops"]
    assert "counting failed a step" in record.getMessage()
    assert record.exc_info is not None and "the database said no" in str(record.exc_info[1])
    assert not task.done()
    await stopped(loop, task)


async def test_stop_ends_it_between_two_steps(runtime: Runtime) -> None:
    loop = Counting(runtime, results=[3, 3, 3])
    loop.release = asyncio.Event()
    task = await running_alone(loop)
    await until(lambda: loop.steps == 1, timeout=10, what="the first step")
    loop.stop()
    # The step under way was a full batch, which would step again at once: stopped, it
    # finishes and no other begins.
    loop.release.set()
    await asyncio.wait_for(task, 10)
    assert loop.steps == loop.finished == 1


async def test_runtime_shutdown_stops_its_loops(runtime: Runtime) -> None:
    loop = Counting(runtime)
    async with runtime.running(loops=[loop]):
        await until(lambda: loop.waiting, timeout=10, what="the loop started and waiting")
        # The runtime runs loops of its own too (retention): this one is found by its name.
        [task] = [t for t in runtime.loop_tasks if t.get_name() == loop.name]
    # Stopped, not cancelled: the loop left its wait and returned.
    assert task.done() and not task.cancelled()
    assert runtime.loops == [] and loop.steps == 1
