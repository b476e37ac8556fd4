"""The one way a test waits: `await until(condition, timeout=..., what="...")`.

A test never sleeps for a fixed time hoping that something happened meanwhile: it waits for
the thing itself, and fails with a message that says what it waited for and what it last saw.
A sleep that IS the behaviour under test (time passing for a rate window, a quiet period that
must stay quiet) stays a sleep, with a comment saying so.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

Condition = Callable[[], "T | Awaitable[T]"]


async def until(
    condition: Callable[[], Any],
    *,
    timeout: float = 10.0,
    what: str = "the condition",
    every: float = 0.05,
    retry_on: tuple[type[BaseException], ...] = (),
) -> Any:
    """Calls `condition` (sync or async) until it returns something truthy, and returns that.

    An exception of a type in `retry_on` (e.g. AssertionError, for a check written as
    asserts) means "not yet": its text is the last value seen. Raises AssertionError after
    `timeout` seconds naming `what` was awaited and the last value.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except retry_on as exc:
            if loop.time() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {what}; last: {exc!r}"
                ) from exc
            last = exc
        else:
            if value:
                return value
            last = value
            if loop.time() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {what}; last: {last!r}"
                )
        await asyncio.sleep(every)
