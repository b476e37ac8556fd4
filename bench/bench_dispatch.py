"""Dispatcher lateness: due time → `post.due` at the broker, under a burst and a steady flow.

The table holds 1,000,000 future targets (100,000 with --quick), loaded with COPY straight
into the scheduler's tables, plus the targets the rounds make due. The real dispatcher runs
(the scheduler's `DispatcherLoop` and outbox relay in its `Runtime`, real RabbitMQ); a queue
of our own on the exchange records when each `post.due` arrives, which is after the broker
confirmed it. Baseline, same run and same table: a raw-SQL `FOR UPDATE SKIP LOCKED` claim
loop over asyncpg (claim a batch, set `publishing`, commit) measured at its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import asyncpg

from bench.context import BenchContext
from bench.harness import Figure, median, percentile
from services.scheduler.dispatch import dispatcher
from services.scheduler.models import BUS
from services.scheduler.posts import DUE_CHANNEL
from services.scheduler.settings import SchedulerSettings
from shared.service import Runtime

NAME = "dispatch"
GOAL = "p99 ≤ 1 s"
BATCH = 500
# How far ahead of a round's due instant its targets are put on the calendar.
LEAD = timedelta(seconds=3)

POST_COLUMNS = [
    "id", "workspace_id", "status", "version", "text", "media", "tags", "created_by",
    "created_at", "updated_at",
]  # fmt: skip
TARGET_COLUMNS = [
    "id", "post_id", "workspace_id", "channel_id", "network", "position", "options",
    "status", "due_at", "timezone", "updated_at",
]  # fmt: skip


async def load_table(
    conn: asyncpg.Connection, *, future: int, pools: dict[str, int]
) -> dict[str, list[uuid.UUID]]:
    """COPYs `future` far-off scheduled targets and, per pool, that many parked targets
    (status `draft`, no time) that rounds put on the calendar. One post per target."""
    workspace = uuid.uuid4()
    channels = [uuid.uuid4() for _ in range(50)]
    now = datetime.now(UTC)
    parked: dict[str, list[uuid.UUID]] = {}
    chunk = 100_000

    async def copy(n: int, status: str, due: list[datetime | None]) -> list[uuid.UUID]:
        ids = []
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            post_ids = [uuid.uuid4() for _ in range(size)]
            target_ids = [uuid.uuid4() for _ in range(size)]
            await conn.copy_records_to_table(
                "posts",
                schema_name="scheduler",
                columns=POST_COLUMNS,
                records=[
                    (p, workspace, status, 1, f"post {start + i}", "[]", [], "bench", now, now)
                    for i, p in enumerate(post_ids)
                ],
            )
            await conn.copy_records_to_table(
                "targets",
                schema_name="scheduler",
                columns=TARGET_COLUMNS,
                records=[
                    (
                        t,
                        post_ids[i],
                        workspace,
                        channels[i % len(channels)],
                        "x",
                        0,
                        "{}",
                        status,
                        due[start + i],
                        "UTC",
                        now,
                    )
                    for i, t in enumerate(target_ids)
                ],
            )
            ids += target_ids
        return ids

    # Future targets spread over the coming year, in the dispatcher's index like real ones.
    spread = [now + timedelta(days=1, seconds=(i * 31_536_000) // future) for i in range(future)]
    await copy(future, "scheduled", spread)
    for name, n in pools.items():
        parked[name] = await copy(n, "draft", [None] * n)
    await conn.execute("ANALYZE scheduler.targets; ANALYZE scheduler.posts")
    return parked


async def make_due(
    conn: asyncpg.Connection, ids: list[uuid.UUID], dues: list[datetime], *, status: str
) -> None:
    """Puts parked targets on the calendar (or takes them off) in one statement, and wakes
    the dispatcher as the API would."""
    await conn.execute(
        """
        UPDATE scheduler.targets t SET status = $3, due_at = d.due_at, claimed_at = NULL
        FROM unnest($1::uuid[], $2::timestamptz[]) AS d(id, due_at) WHERE t.id = d.id
        """,
        ids,
        dues,
        status,
    )
    await conn.execute(f"NOTIFY {DUE_CHANNEL}")


@contextlib.asynccontextmanager
async def arrivals(ctx: BenchContext, exchange_name: str):  # noqa: ANN201
    """A queue of our own on the exchange: each `post.due`'s lateness at its arrival."""
    seen: dict[str, float] = {}
    changed = asyncio.Event()
    connection = await aio_pika.connect(ctx.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=2000)
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="post.due")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            arrived = datetime.now(UTC)
            data = json.loads(message.body)["data"]
            due = datetime.fromisoformat(data["due_at"])
            seen[data["target_id"]] = (arrived - due).total_seconds()
            changed.set()
            await message.ack()

        await queue.consume(on_message)

        async def wait_for(ids: list[uuid.UUID], within: float) -> list[float]:
            wanted = {str(i) for i in ids}
            deadline = time.monotonic() + within
            while not wanted <= seen.keys():
                changed.clear()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(wanted - seen.keys())} post.due never arrived")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
            return [seen.pop(i) for i in wanted]

        yield wait_for


async def raw_claim_loop(conn: asyncpg.Connection, *, n: int, within: float) -> list[float]:
    """The baseline: claim due rows in batches with SKIP LOCKED, mark them, commit."""
    lateness: list[float] = []
    deadline = time.monotonic() + within
    while len(lateness) < n and time.monotonic() < deadline:
        async with conn.transaction():
            rows = await conn.fetch(
                """
                UPDATE scheduler.targets t SET status = 'publishing', claimed_at = now()
                FROM (
                    SELECT id FROM scheduler.targets
                    WHERE status = 'scheduled' AND due_at <= now()
                    ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED
                ) c
                WHERE t.id = c.id
                RETURNING t.due_at
                """,
                BATCH,
            )
        committed = datetime.now(UTC)
        lateness += [(committed - row["due_at"]).total_seconds() for row in rows]
        if len(rows) < BATCH:
            nxt = await conn.fetchval(
                "SELECT min(due_at) FROM scheduler.targets WHERE status = 'scheduled'"
            )
            wait = 0.05 if nxt is None else (nxt - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(min(max(wait, 0.001), 0.05))
    return lateness


def stats(values: list[float]) -> tuple[float, float, float]:
    return percentile(values, 0.5), percentile(values, 0.99), max(values)


async def run(ctx: BenchContext) -> list[Figure]:
    future = 100_000 if ctx.quick else 1_000_000
    burst = 2_000 if ctx.quick else 10_000
    steady_seconds = 10 if ctx.quick else 20
    rate = 200
    steady_n = rate * steady_seconds
    n_rounds = ctx.rounds(full=3, quick=2)

    conn = await asyncpg.connect(ctx.asyncpg_dsn)
    try:
        t0 = time.perf_counter()
        pools = await load_table(conn, future=future, pools={"burst": burst, "steady": steady_n})
        load_seconds = time.perf_counter() - t0

        settings = SchedulerSettings(
            environment="development",
            database_url=ctx.database_url,
            amqp_url=ctx.amqp_url,
            bus_prefix=ctx.bus_prefix,
            internal_token="bench-internal-token",
            log_level="WARNING",
            dispatch_batch=BATCH,
        )
        runtime = Runtime.create(settings, tables=BUS, notify_channels=[DUE_CHANNEL])
        loop = dispatcher(
            runtime,
            batch=settings.dispatch_batch,
            max_sleep=settings.dispatch_max_sleep,
            default_missed_after=settings.default_missed_after_seconds,
        )

        burst_rounds: list[tuple[float, float, float]] = []
        steady_real: list[float] = []
        async with (
            arrivals(ctx, settings.exchange_name) as wait_for,
            runtime.running(workers=[("dispatcher", loop.run)]),
        ):
            await asyncio.sleep(1.0)  # the relay and the dispatcher are up
            for _ in range(n_rounds):
                due = datetime.now(UTC) + LEAD
                await make_due(conn, pools["burst"], [due] * burst, status="scheduled")
                burst_rounds.append(stats(await wait_for(pools["burst"], within=120)))
                await make_due(conn, pools["burst"], [None] * burst, status="draft")  # type: ignore[list-item]

            start = datetime.now(UTC) + LEAD
            dues = [start + timedelta(seconds=i / rate) for i in range(steady_n)]
            await make_due(conn, pools["steady"], dues, status="scheduled")
            steady_real = await wait_for(pools["steady"], within=steady_seconds + 60)
            await make_due(conn, pools["steady"], [None] * steady_n, status="draft")  # type: ignore[list-item]

        # The baseline over the same table, the real dispatcher stopped.
        base_rounds: list[tuple[float, float, float]] = []
        for _ in range(n_rounds):
            due = datetime.now(UTC) + LEAD
            await make_due(conn, pools["burst"], [due] * burst, status="scheduled")
            await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds(), 0))
            base_rounds.append(stats(await raw_claim_loop(conn, n=burst, within=120)))
            await make_due(conn, pools["burst"], [None] * burst, status="draft")  # type: ignore[list-item]
        start = datetime.now(UTC) + LEAD
        dues = [start + timedelta(seconds=i / rate) for i in range(steady_n)]
        await make_due(conn, pools["steady"], dues, status="scheduled")
        steady_base = await raw_claim_loop(conn, n=steady_n, within=steady_seconds + 60)
    finally:
        await conn.close()

    notes = (
        f"{burst:,} targets due at one instant over {future:,} future targets "
        f"(COPY-loaded in {load_seconds:.1f} s); real DispatcherLoop + outbox relay, lateness "
        "at arrival on our own queue; baseline: raw SKIP LOCKED claim loop, at its commit"
    )
    figures = []
    for index, label in enumerate(("p50", "p99", "max")):
        real = [r[index] * 1000 for r in burst_rounds]
        base = [r[index] * 1000 for r in base_rounds]
        figures.append(
            Figure(
                benchmark=NAME,
                metric=f"burst lateness {label}, due → broker",
                unit="ms",
                value=median(real),
                baseline_name="raw SQL SKIP LOCKED claim loop (to commit)",
                baseline=median(base),
                goal=GOAL,
                higher_is_better=False,
                rounds=real,
                baseline_rounds=base,
                notes=notes,
            )
        )
    steady_notes = (
        f"{rate} targets/s (one every {1000 // rate} ms) for {steady_seconds} s over the same "
        "table; one round"
    )
    for q, label in ((0.5, "p50"), (0.99, "p99")):
        figures.append(
            Figure(
                benchmark=NAME,
                metric=f"steady {rate}/s lateness {label}, due → broker",
                unit="ms",
                value=percentile(steady_real, q) * 1000,
                baseline_name="raw SQL SKIP LOCKED claim loop (to commit)",
                baseline=percentile(steady_base, q) * 1000,
                goal=GOAL,
                higher_is_better=False,
                notes=steady_notes,
            )
        )
    return figures
