"""Stopping background tasks for certain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any]], *, patience: float = 2.0, attempts: int = 3
) -> None:
    """Cancels the tasks and waits for them to end, cancelling again those that do not.

    A cancellation can be swallowed by a library that is half-way through opening a
    connection (it returns the connection instead of raising); the task then goes on to its
    next wait. Waiting for such a task without a bound hung shutdowns that came right after a
    start; cancelling it again reaches it at that next wait.
    """
    pending = {task for task in tasks if not task.done()}
    for _ in range(attempts):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=patience)
    for task in pending:
        log.warning("task %s did not stop after %d cancellations", task.get_name(), attempts)
