"""Rate limits per API key and per workspace, counted in PostgreSQL so replicas share them.

Fixed windows: one counter row per bucket and window, incremented by one upsert per request
for both buckets at once. A client may burst up to twice a limit across a window boundary;
that is the price of one round trip per request and no extra infrastructure.

Network webhooks and short links are not limited here (a dropped webhook is lost data, a
short link is a reader), and neither is the platform admin.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.asgi import ADMIN, caller_of, send_problem
from services.gateway.keys import Authenticator
from services.gateway.models import RateLimitCounter
from shared.db import unit_of_work
from shared.errors import RateLimited

log = logging.getLogger(__name__)

_COUNT = text(
    """
    INSERT INTO gateway.rate_limit_counters AS c (bucket, window_start, count)
    VALUES (:key_bucket, :window, 1), (:workspace_bucket, :window, 1)
    ON CONFLICT (bucket, window_start) DO UPDATE SET count = c.count + 1
    RETURNING bucket, count
    """
)


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


async def count_request(
    session: AsyncSession,
    *,
    key_bucket: str,
    workspace_bucket: str,
    key_limit: int,
    workspace_limit: int,
    window_seconds: int,
    now: float,
) -> Verdict:
    window_start = math.floor(now / window_seconds) * window_seconds
    rows = (
        await session.execute(
            _COUNT,
            {
                "key_bucket": key_bucket,
                "workspace_bucket": workspace_bucket,
                "window": datetime.fromtimestamp(window_start, UTC),
            },
        )
    ).all()
    counts = {row.bucket: row.count for row in rows}
    reset = max(1, math.ceil(window_start + window_seconds - now))
    # Report whichever limit is closer to running out.
    candidates = [
        (key_limit, key_limit - counts[key_bucket]),
        (workspace_limit, workspace_limit - counts[workspace_bucket]),
    ]
    limit, remaining = min(candidates, key=lambda c: c[1])
    return Verdict(allowed=remaining >= 0, limit=limit, remaining=max(remaining, 0), reset=reset)


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
        authenticator: Authenticator,
        admin_token: str,
        key_limit: int,
        workspace_limit: int,
        window_seconds: int,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.authenticator = authenticator
        self.admin_token = admin_token
        self.key_limit = key_limit
        self.workspace_limit = workspace_limit
        self.window_seconds = window_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        caller = await caller_of(
            scope, authenticator=self.authenticator, admin_token=self.admin_token
        )
        if caller is None or caller == ADMIN:
            await self.app(scope, receive, send)
            return
        assert not isinstance(caller, str)
        try:
            async with unit_of_work(self.sessions) as session:
                verdict = await count_request(
                    session,
                    key_bucket=f"key:{caller.key_id}",
                    workspace_bucket=f"workspace:{caller.workspace_id}",
                    key_limit=self.key_limit,
                    workspace_limit=caller.rate_limit or self.workspace_limit,
                    window_seconds=self.window_seconds,
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
                    f"Too many requests; the limit is {verdict.limit} per "
                    f"{self.window_seconds} s.",
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
