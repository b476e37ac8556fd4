"""`GET /v1/calendar` over a quarter when recurring posts reach past their rows.

Not part of `make bench`: a standalone check of what expanding rules costs the calendar.
200 recurring posts (daily, weekdays, weekly; 1 to 3 channels each) and 2,000 one-off posts
in one workspace, each series with only the rows of its first 14 days; then the calendar for
the next quarter, first page (200) and every page, timed. Its own database, dropped after:

    .venv/bin/python -m bench.calendar_occurrences
"""

import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from services.scheduler.calendar import calendar
from services.scheduler.channels import record_channel
from services.scheduler.models import BUS
from services.scheduler.posts import create_post
from services.scheduler.schemas import PostIn
from services.scheduler.workspaces import Defaults
from shared.auth import Principal
from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.events import ChannelConnected
from shared.migrations import upgrade
from shared.outbox import Outbox

DB = "herald_bench_calendar"
URL = f"postgresql+asyncpg://postgres@localhost/{DB}"
RULES = ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=WEEKLY;BYDAY=MO"]


async def seed(sessions, workspace, outbox) -> None:
    rnd = random.Random(3)
    principal = Principal(workspace_id=workspace, role="owner", principal_id="bench")
    channels = []
    async with unit_of_work(sessions) as session:
        for zone in ("Europe/London", "Asia/Jerusalem", "Atlantic/Reykjavik"):
            channel = uuid.uuid4()
            facts = ChannelConnected(channel_id=channel, network="mastodon", external_id=zone,
                                     name=zone, timezone=zone, status="active")  # fmt: skip
            await record_channel(session, workspace_id=workspace, facts=facts)
            channels.append(channel)
    start = datetime.now(UTC) + timedelta(days=1)
    defaults = Defaults(approval_required=False, missed_after_seconds=3600)
    async with unit_of_work(sessions) as session:
        for i in range(2200):
            targets = [{"channel_id": str(c)} for c in rnd.sample(channels, rnd.randint(1, 3))]
            at = start + timedelta(days=rnd.randrange(90), hours=rnd.randrange(24))
            schedule = {"at": at.replace(tzinfo=None, microsecond=0).isoformat()}
            if i < 200:
                schedule["rrule"] = rnd.choice(RULES)
                schedule["at"] = (start + timedelta(hours=i % 24)).replace(
                    tzinfo=None, microsecond=0).isoformat()  # fmt: skip
            body = PostIn.model_validate(
                {"text": f"post {i}", "targets": targets, "schedule": schedule}
            )
            await create_post(session, principal=principal, body=body, lookup=None,
                              outbox=outbox, notify_horizon=0, defaults=defaults,
                              recurrence_horizon=timedelta(days=14))  # fmt: skip


async def main() -> None:
    admin = await asyncpg.connect("postgresql://postgres@localhost/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DB}"')
    await admin.close()
    await asyncio.to_thread(upgrade, "scheduler", URL)
    engine = make_engine(URL)
    sessions = make_sessionmaker(engine)
    workspace = uuid.uuid4()
    outbox = Outbox(BUS)
    t0 = time.perf_counter()
    await seed(sessions, workspace, outbox)
    print(f"seeded 200 series and 2,000 one-off posts in {time.perf_counter() - t0:.1f} s")
    start = datetime.now(UTC)
    end = start + timedelta(days=92)
    first, whole, items = [], [], 0
    for _ in range(5):
        t = time.perf_counter()
        async with sessions() as session:
            page = await calendar(session, workspace_id=workspace, start=start, end=end, limit=200)
        first.append((time.perf_counter() - t) * 1000)
        t, cursor, items = time.perf_counter(), None, 0
        async with sessions() as session:
            while True:
                page = await calendar(session, workspace_id=workspace, start=start, end=end,
                                      limit=1000, cursor=cursor)  # fmt: skip
                items += len(page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
        whole.append((time.perf_counter() - t) * 1000)
    unmaterialised = sum(1 for i in page.items if not i.materialised)
    print(f"a quarter: {items} items; first page of 200: median {statistics.median(first):.0f} ms;"
          f" all pages of 1000: median {statistics.median(whole):.0f} ms"
          f" (last page {unmaterialised} of {len(page.items)} not materialised)")  # fmt: skip
    await engine.dispose()
    admin = await asyncpg.connect("postgresql://postgres@localhost/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.close()


asyncio.run(main())
