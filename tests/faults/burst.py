"""A burst of posts through the public API, and waiting for every one to settle."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.faults.checker import ConfirmedPost

TERMINAL = {"published", "failed", "missed", "canceled"}


async def create_burst(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    channel_id: str,
    n: int,
    *,
    start_in: float = 2.0,
    spread: float = 4.0,
) -> list[ConfirmedPost]:
    base = datetime.now(UTC) + timedelta(seconds=start_in)
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> ConfirmedPost | None:
        due = base + timedelta(seconds=spread * i / max(1, n))
        text = f"burst {i} {uuid.uuid4().hex[:10]}"
        async with sem:
            r = await gateway.post(
                "/v1/posts",
                headers=auth,
                json={
                    "text": text,
                    "targets": [{"channel_id": channel_id}],
                    "schedule": {"at": due.replace(tzinfo=None).isoformat(), "timezone": "UTC"},
                },
            )
        if r.status_code != 201:
            return None  # not confirmed: the checker owes it nothing
        return ConfirmedPost(post_id=r.json()["id"], text=text, due_at=due)

    results = await asyncio.gather(*(one(i) for i in range(n)))
    return [p for p in results if p is not None]


async def settle(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    posts: list[ConfirmedPost],
    *,
    seconds: float = 180,
) -> tuple[dict[str, dict[str, Any]], float]:
    """Polls until every target is terminal; returns the final targets and when that was."""
    started = time.monotonic()
    final: dict[str, dict[str, Any]] = {}
    pending = {p.post_id for p in posts}
    while pending and time.monotonic() - started < seconds:
        for post_id in list(pending):
            try:
                r = await gateway.get(f"/v1/posts/{post_id}", headers=auth)
            except httpx.HTTPError:
                break
            if r.status_code != 200:
                continue
            target = r.json()["targets"][0]
            final[post_id] = target
            if target["status"] in TERMINAL:
                pending.discard(post_id)
        if pending:
            await asyncio.sleep(0.5)
    return final, time.monotonic() - started
