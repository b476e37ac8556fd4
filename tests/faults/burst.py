"""A burst of posts through the public API, and waiting for every one to settle.

Each post is due a few seconds after it is created, so while the burst is being created the
posts made before are being dispatched and published: a fault injected mid-burst hits every
stage at once (the API, the dispatcher, the bus, the publisher).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.faults.checker import ConfirmedPost

TERMINAL = {"published", "failed", "missed", "canceled"}


@dataclass
class Progress:
    """How far a burst is: lets a fault wait until the burst is really under way."""

    total: int
    sent: int = 0
    confirmed: int = 0
    # Why a request was not confirmed: its status code, or the exception's class. Such a post
    # may or may not exist (a timeout may hide a commit); the checker owes it nothing.
    refused: Counter[str] = field(default_factory=Counter)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def note(self) -> None:
        self._changed.set()

    async def reached(self, fraction: float) -> None:
        while self.sent < fraction * self.total:
            self._changed.clear()
            await self._changed.wait()


async def create_burst(
    gateway_url: str,
    auth: dict[str, str],
    channel_id: str,
    progress: Progress,
    *,
    lead: float = 8.0,
    concurrency: int = 8,
) -> list[ConfirmedPost]:
    """Creates `progress.total` posts, each due `lead` seconds after it is sent."""
    confirmed: list[ConfirmedPost] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(progress.total):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            due = datetime.now(UTC) + timedelta(seconds=lead)
            text = f"burst {i} {uuid.uuid4().hex[:10]}"
            try:
                r = await client.post(
                    "/v1/posts",
                    headers=auth,
                    json={
                        "text": text,
                        "targets": [{"channel_id": channel_id}],
                        "schedule": {
                            "at": due.replace(tzinfo=None).isoformat(),
                            "timezone": "UTC",
                        },
                    },
                )
            except httpx.HTTPError as exc:
                progress.refused[type(exc).__name__] += 1
                # A refused connection (the gateway is down) would otherwise spin through the
                # rest of the burst in a moment.
                await asyncio.sleep(0.2)
            else:
                if r.status_code == 201:
                    confirmed.append(ConfirmedPost(post_id=r.json()["id"], text=text, due_at=due))
                    progress.confirmed += 1
                else:
                    progress.refused[str(r.status_code)] += 1
                    await asyncio.sleep(0.2)
            progress.sent += 1
            progress.note()

    async with httpx.AsyncClient(base_url=gateway_url, timeout=15) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return confirmed


async def settle(
    gateway_url: str,
    auth: dict[str, str],
    posts: list[ConfirmedPost],
    *,
    seconds: float,
    concurrency: int = 8,
) -> dict[str, dict[str, Any]]:
    """Polls until every target is terminal (or `seconds` pass); returns the last seen targets."""
    deadline = time.monotonic() + seconds
    final: dict[str, dict[str, Any]] = {}
    pending = [p.post_id for p in posts]
    async with httpx.AsyncClient(base_url=gateway_url, timeout=15) as client:

        async def look(post_id: str) -> None:
            try:
                r = await client.get(f"/v1/posts/{post_id}", headers=auth)
            except httpx.HTTPError:
                return
            if r.status_code == 200:
                final[post_id] = r.json()["targets"][0]

        sem = asyncio.Semaphore(concurrency)

        async def bounded(post_id: str) -> None:
            async with sem:
                await look(post_id)

        while pending and time.monotonic() < deadline:
            await asyncio.gather(*(bounded(p) for p in pending))
            pending = [p for p in pending if final.get(p, {}).get("status") not in TERMINAL]
            if pending:
                await asyncio.sleep(1)
    return final
