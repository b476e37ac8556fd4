"""A recurring post cannot make the scheduler walk its rule for minutes.

The rule was expanded from its first occurrence (`at`) on the event loop: `at` in year 1 with
FREQ=HOURLY walked seventeen million hours before the first future one, per target; a rule
that never matches (February 30th) walked every day until year 9999. Either stalled the
scheduler for everyone.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.security.sec_inbox import connect, doors, sandbox_account


async def test_recurrence_is_bounded_and_off_the_loop(platform) -> None:
    async with doors(platform, timezone="UTC") as d:
        channels = [
            await connect(d, "x", await sandbox_account(d.sandbox, "x", f"A{n}")) for n in range(3)
        ]
        targets = [{"channel_id": c["id"]} for c in channels]

        async def post(schedule: dict) -> httpx.Response:
            return await d.gateway.post(
                "/v1/posts",
                headers=d.auth,
                timeout=20,
                json={"text": "Every hour", "targets": targets, "schedule": schedule},
            )

        latencies: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            async with httpx.AsyncClient(
                base_url=platform.config.url("scheduler"), timeout=60
            ) as client:
                while not done.is_set():
                    started = time.monotonic()
                    assert (await client.get("/healthz")).status_code == 200
                    latencies.append(time.monotonic() - started)
                    await asyncio.sleep(0.02)

        prober = asyncio.create_task(probe())
        try:
            # The attack: the first occurrence in year 1.
            r = await post({"at": "0001-01-01T09:00:00", "timezone": "UTC", "rrule": "FREQ=HOURLY"})
            assert r.status_code == 422, r.text
            assert r.json()["field"] == "schedule.at"

            # A rule that never matches: refused, not walked to year 9999.
            for rule in ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=DAILY;BYSETPOS=2"):
                r = await post({"at": _local(timedelta(hours=1)), "timezone": "UTC", "rrule": rule})
                assert r.status_code == 422, r.text
                assert r.json()["field"] == "schedule.rrule"
        finally:
            done.set()
            await prober
        # Before, the walk held the loop for minutes; the bound is far from a busy machine's pauses.
        assert latencies and max(latencies) < 10.0, max(latencies)

        # A series that started within the year is planned from now on.
        r = await post(
            {
                "at": _local(-timedelta(days=300)),
                "timezone": "UTC",
                "rrule": "FREQ=HOURLY;INTERVAL=5",
            }
        )
        assert r.status_code == 201, r.text
        due = sorted(t["due_at"] for t in r.json()["targets"])
        now = datetime.now(UTC)
        first = datetime.fromisoformat(due[0].replace("Z", "+00:00"))
        assert now < first <= now + timedelta(hours=5, minutes=1), due[0]
        # Leap days are rare but real: accepted.
        r = await post(
            {
                "at": _local(timedelta(hours=1)),
                "timezone": "UTC",
                "rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
            }
        )
        assert r.status_code == 201, r.text


def _local(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(tzinfo=None, microsecond=0).isoformat()
