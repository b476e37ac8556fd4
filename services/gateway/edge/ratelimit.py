"""Rate limits per API key and per workspace, counted in PostgreSQL so replicas share them.

Fixed windows, one counter row per bucket (a key, a workspace) and window. A replica does not
write that row on every request: it reserves a chunk of the budget at once (one upsert adds
the chunk to the shared counter) and spends it locally, going back to PostgreSQL when the chunk
is used up. The counter therefore never lets all replicas together exceed a limit. The chunk
is a twentieth of the limit (1 for small limits, so a limit of 3 is exact; at most 100), so a
replica may hold up to a chunk that others cannot use: near the end of a budget a client may be
refused up to (replicas − 1) × chunk requests early, never let through late. A client may burst
up to twice a limit across a window boundary, the price of fixed windows.

`RateLimit-Remaining` is the limit minus what all replicas reserved, plus what this replica
still holds: exact for chunks of 1, otherwise on the safe side.

Network webhooks and short links are not limited here (a dropped webhook is lost data, a
short link is a reader), and neither is the platform admin.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.edge.asgi import ADMIN, Answered, Callers, send_problem
from services.gateway.models import RateLimitCounter
from shared.db import unit_of_work
from shared.errors import RateLimited

log = logging.getLogger(__name__)

MAX_CHUNK = 100
# Buckets remembered per replica before those of past windows are dropped.
_PRUNE_AT = 50_000

_RESERVE = text(
    """
    INSERT INTO gateway.rate_limit_counters AS c (bucket, window_start, count)
    SELECT * FROM unnest(CAST(:buckets AS text[]), CAST(:windows AS timestamptz[]),
                         CAST(:chunks AS integer[]))
    ON CONFLICT (bucket, window_start) DO UPDATE SET count = c.count + EXCLUDED.count
    RETURNING bucket, count
    """
)


def chunk_for(limit: int) -> int:
    return max(1, min(MAX_CHUNK, limit // 20))


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window ends

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset).encode()),
        ]


@dataclass
class Budget:
    """What this replica holds of one bucket's budget in one window."""

    window_start: float
    limit: int
    held: int = 0
    # The shared counter as this replica last saw it (everything reserved by every replica).
    reserved: int = 0
    # The shared counter reached the limit: nothing more to reserve until the window ends.
    exhausted: bool = False

    def remaining(self) -> int:
        return max(0, self.limit - self.reserved + self.held)


async def reserve(
    session: AsyncSession, *, wants: dict[str, int], window_start: float
) -> dict[str, int]:
    """Adds each bucket's chunk to its shared counter; returns the counters after."""
    window = datetime.fromtimestamp(window_start, UTC)
    buckets = sorted(wants)  # one lock order for every replica
    rows = (
        await session.execute(
            _RESERVE,
            {
                "buckets": buckets,
                "windows": [window] * len(buckets),
                "chunks": [wants[b] for b in buckets],
            },
        )
    ).all()
    return {row.bucket: row.count for row in rows}


class RateLimiter:
    """The budgets this replica holds, topped up from PostgreSQL a chunk at a time."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], window_seconds: int) -> None:
        self.sessions = sessions
        self.window_seconds = window_seconds
        self.budgets: dict[str, Budget] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _budget(self, bucket: str, limit: int, window_start: float) -> Budget:
        budget = self.budgets.get(bucket)
        if budget is None or budget.window_start != window_start or budget.limit != limit:
            # A new window, or the operator changed the limit: start from the shared counter.
            if len(self.budgets) >= _PRUNE_AT:
                self.budgets = {
                    b: kept for b, kept in self.budgets.items() if kept.window_start >= window_start
                }
            budget = Budget(window_start=window_start, limit=limit)
            self.budgets[bucket] = budget
        return budget

    async def take(self, limits: dict[str, int], *, now: float) -> Verdict:
        """One request against every bucket in `limits` (bucket → limit)."""
        window_start = math.floor(now / self.window_seconds) * self.window_seconds
        budgets = {b: self._budget(b, limit, window_start) for b, limit in limits.items()}
        if any(not budget.held and not budget.exhausted for budget in budgets.values()):
            # One reservation at a time per first bucket (the key): concurrent requests of a
            # busy key wait for it instead of each reserving a chunk.
            lock = self._locks.setdefault(next(iter(limits)), asyncio.Lock())
            async with lock:
                wants = {
                    b: chunk_for(budget.limit)
                    for b, budget in budgets.items()
                    if not budget.held and not budget.exhausted
                }
                if wants:
                    async with unit_of_work(self.sessions) as session:
                        counts = await reserve(session, wants=wants, window_start=window_start)
                    for bucket, chunk in wants.items():
                        budget = budgets[bucket]
                        count = counts[bucket]
                        granted = max(0, min(chunk, budget.limit - (count - chunk)))
                        budget.held += granted
                        budget.reserved = max(budget.reserved, count)
                        if count >= budget.limit:
                            budget.exhausted = True
            if len(self._locks) > _PRUNE_AT:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        allowed = all(budget.held > 0 for budget in budgets.values())
        if allowed:
            for budget in budgets.values():
                budget.held -= 1
        reset = max(1, math.ceil(window_start + self.window_seconds - now))
        # Report whichever limit is closer to running out.
        tightest = min(budgets.values(), key=lambda b: (b.remaining(), b.limit))
        return Verdict(
            allowed=allowed, limit=tightest.limit, remaining=tightest.remaining(), reset=reset
        )


async def purge_old_windows(session: AsyncSession, *, before: datetime) -> int:
    result: Any = await session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.window_start < before)
    )
    return int(result.rowcount or 0)


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        sessions: async_sessionmaker[AsyncSession],
        callers: Callers,
        key_limit: int,
        workspace_limit: int,
        window_seconds: int,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.callers = callers
        self.key_limit = key_limit
        self.workspace_limit = workspace_limit
        self.window_seconds = window_seconds
        self.limiter = RateLimiter(sessions=sessions, window_seconds=window_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        caller = await self.callers.of(scope, send)
        if isinstance(caller, Answered):
            return
        if caller is None or caller == ADMIN:
            await self.app(scope, receive, send)
            return
        assert not isinstance(caller, str)
        try:
            verdict = await self.limiter.take(
                {
                    f"key:{caller.key_id}": self.key_limit,
                    f"workspace:{caller.workspace_id}": caller.rate_limit or self.workspace_limit,
                },
                now=time.time(),
            )
        except Exception as exc:  # noqa: BLE001
            # Counting is a safeguard, not the service: while the database hiccups, requests
            # go through unlimited rather than all failing.
            log.warning("rate limit not counted: %r", exc)
            await self.app(scope, receive, send)
            return
        if not verdict.allowed:
            await send_problem(
                send,
                scope,
                RateLimited(
                    f"Too many requests; the limit is {verdict.limit} per {self.window_seconds} s.",
                    headers={"Retry-After": str(verdict.reset)},
                ),
                verdict.headers(),
            )
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *verdict.headers()]
            await send(message)

        await self.app(scope, receive, with_headers)
