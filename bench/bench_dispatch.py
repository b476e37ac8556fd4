"""Dispatcher lateness: due time → `post.due` at the broker, under a burst and a steady flow.

The table holds 1,000,000 future targets (100,000 with --quick), loaded with COPY straight
into the scheduler's tables, plus the targets the rounds make due: 10,000 at one instant
(2,000 with --quick) and a steady 200 targets/s. The real scheduler runs as its own process
(`python -m services.scheduler`: dispatcher, outbox relay, consumers; real PostgreSQL and
RabbitMQ). Lateness is measured where the event arrives: a queue of our own on the exchange
records when each `post.due` reaches it, which is after the broker accepted (and confirmed)
it; "due → claim" is the target's `claimed_at` (the dispatcher's transaction) minus its due
time, read back from the table, to tell the dispatcher's share from the relay's and broker's.

Baselines, same run and same table, the scheduler stopped: a raw-SQL `FOR UPDATE SKIP LOCKED`
claim loop over asyncpg (claim a batch, set `publishing`, commit), measured at its commit;
and the same loop publishing each claimed row itself with publisher confirms before
committing (no outbox), measured at the confirm: the floor the broker sets on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import asyncpg

from bench.context import BenchContext
from bench.harness import Figure, free_port, median, percentile, process
from services.scheduler.posts import DUE_CHANNEL
from services.scheduler.settings import SchedulerSettings

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
    """A queue of our own on the exchange: each `post.due`'s lateness at its arrival.

    Keyed by target and due time: the rounds reuse the same targets, and a straggler of an
    earlier round must not pass for this round's event."""
    seen: dict[tuple[str, datetime], float] = {}
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
            seen[(data["target_id"], due)] = (arrived - due).total_seconds()
            changed.set()
            await message.ack()

        await queue.consume(on_message)

        async def wait_for(
            ids: list[uuid.UUID], dues: list[datetime], within: float
        ) -> list[float]:
            wanted = {(str(i), d) for i, d in zip(ids, dues, strict=True)}
            deadline = time.monotonic() + within
            while not wanted <= seen.keys():
                changed.clear()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(wanted - seen.keys())} of {len(wanted)} post.due never arrived "
                        f"within {within:.0f} s"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
            return [seen.pop(key) for key in wanted]

        yield wait_for


async def claim_lateness(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> list[float]:
    """Due → the dispatcher's claim, as the table recorded it."""
    rows = await conn.fetch(
        "SELECT extract(epoch FROM claimed_at - due_at)::float8 AS late "
        "FROM scheduler.targets WHERE id = ANY($1::uuid[])",
        ids,
    )
    return [row["late"] for row in rows if row["late"] is not None]


RAW_CLAIM = """
    UPDATE scheduler.targets t SET status = 'publishing', claimed_at = now()
    FROM (
        SELECT id FROM scheduler.targets
        WHERE status = 'scheduled' AND due_at <= now()
        ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED
    ) c
    WHERE t.id = c.id
    RETURNING t.id, t.post_id, t.due_at
"""


async def publish_confirmed(
    exchange: aio_pika.abc.AbstractExchange, rows: list[asyncpg.Record]
) -> None:
    await asyncio.gather(
        *(
            exchange.publish(
                aio_pika.Message(
                    json.dumps(
                        {
                            "target_id": str(row["id"]),
                            "post_id": str(row["post_id"]),
                            "due_at": row["due_at"].isoformat(),
                        }
                    ).encode(),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="bench.raw_due",
            )
            for row in rows
        )
    )


async def raw_claim_loop(
    conn: asyncpg.Connection,
    *,
    n: int,
    within: float,
    exchange: aio_pika.abc.AbstractExchange | None = None,
) -> list[float]:
    """The baselines: claim due rows in batches with SKIP LOCKED, mark them, commit; with
    `exchange`, publish each claimed row (confirmed) before the commit and time the confirm."""
    lateness: list[float] = []
    deadline = time.monotonic() + within
    while len(lateness) < n and time.monotonic() < deadline:
        async with conn.transaction():
            rows = await conn.fetch(RAW_CLAIM, BATCH)
            if exchange is not None and rows:
                await publish_confirmed(exchange, rows)
                done = datetime.now(UTC)
        if exchange is None:
            done = datetime.now(UTC)
        lateness += [(done - row["due_at"]).total_seconds() for row in rows]
        if len(rows) < BATCH:
            nxt = await conn.fetchval(
                "SELECT min(due_at) FROM scheduler.targets WHERE status = 'scheduled'"
            )
            wait = 0.05 if nxt is None else (nxt - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(min(max(wait, 0.001), 0.05))
    return lateness


@contextlib.asynccontextmanager
async def raw_publisher(ctx: BenchContext, exchange_name: str):  # noqa: ANN201
    """A confirming publisher channel and a queue its messages are routed to (as post.due
    is routed to the publisher's queue), for the second baseline."""
    connection = await aio_pika.connect(ctx.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="bench.raw_due")
        yield exchange


def stats(values: list[float]) -> tuple[float, float, float]:
    return percentile(values, 0.5), percentile(values, 0.99), max(values)


def log(message: str) -> None:
    print(f"  dispatch: {message}", file=sys.stderr, flush=True)


async def run(ctx: BenchContext) -> list[Figure]:
    future = 100_000 if ctx.quick else 1_000_000
    burst = 2_000 if ctx.quick else 10_000
    steady_seconds = 10 if ctx.quick else 20
    rate = 200
    steady_n = rate * steady_seconds
    n_rounds = ctx.rounds(full=3, quick=2)
    # Generous: a figure far off the goal is still a figure worth printing.
    burst_within = 120 + burst / 20

    ctx.stop_platform()
    conn = await asyncpg.connect(ctx.asyncpg_dsn)
    try:
        t0 = time.perf_counter()
        pools = await load_table(conn, future=future, pools={"burst": burst, "steady": steady_n})
        load_seconds = time.perf_counter() - t0
        log(f"{future:,} future targets COPY-loaded in {load_seconds:.1f} s; burst {burst:,}")

        port = free_port()
        settings = SchedulerSettings(
            environment="development",
            database_url=ctx.database_url,
            amqp_url=ctx.amqp_url,
            bus_prefix=ctx.bus_prefix,
            internal_token="bench-internal-token",
        )
        env = {
            "SCHEDULER_ENVIRONMENT": "development",
            "SCHEDULER_DATABASE_URL": ctx.database_url,
            "SCHEDULER_AMQP_URL": ctx.amqp_url,
            "SCHEDULER_BUS_PREFIX": ctx.bus_prefix,
            "SCHEDULER_INTERNAL_TOKEN": "bench-internal-token",
            "SCHEDULER_HOST": "127.0.0.1",
            "SCHEDULER_PORT": str(port),
            "SCHEDULER_LOG_LEVEL": "WARNING",
            "SCHEDULER_DISPATCH_BATCH": str(BATCH),
        }
        logs = ctx.results_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)

        burst_rounds: list[tuple[float, float, float]] = []
        claim_rounds: list[tuple[float, float, float]] = []
        steady_real: list[float] = []
        async with (
            arrivals(ctx, settings.exchange_name) as wait_for,
            process(
                [sys.executable, "-m", "services.scheduler"],
                env=env,
                ready_url=f"http://127.0.0.1:{port}/readyz",
                log=logs / "bench-dispatch-scheduler.log",
            ),
        ):
            await asyncio.sleep(1.0)  # the relay and the dispatcher are up
            for i in range(n_rounds):
                due = datetime.now(UTC) + LEAD
                dues = [due] * burst
                await make_due(conn, pools["burst"], dues, status="scheduled")
                burst_rounds.append(stats(await wait_for(pools["burst"], dues, burst_within)))
                claim_rounds.append(stats(await claim_lateness(conn, pools["burst"])))
                log(
                    f"burst round {i + 1}: due → broker p50/p99/max "
                    + "/".join(f"{v * 1000:,.0f}" for v in burst_rounds[-1])
                    + " ms; due → claim p99 "
                    + f"{claim_rounds[-1][1] * 1000:,.0f} ms"
                )
                await make_due(conn, pools["burst"], [None] * burst, status="draft")  # type: ignore[list-item]

            start = datetime.now(UTC) + LEAD
            dues = [start + timedelta(seconds=i / rate) for i in range(steady_n)]
            await make_due(conn, pools["steady"], dues, status="scheduled")
            steady_real = await wait_for(pools["steady"], dues, steady_seconds + burst_within)
            steady_claim = await claim_lateness(conn, pools["steady"])
            await make_due(conn, pools["steady"], [None] * steady_n, status="draft")  # type: ignore[list-item]

        # The baselines over the same table, the scheduler stopped.
        base_rounds: list[tuple[float, float, float]] = []
        direct_rounds: list[tuple[float, float, float]] = []
        async with raw_publisher(ctx, settings.exchange_name) as exchange:
            for _ in range(n_rounds):
                for target, publish_to in ((base_rounds, None), (direct_rounds, exchange)):
                    due = datetime.now(UTC) + LEAD
                    await make_due(conn, pools["burst"], [due] * burst, status="scheduled")
                    await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds(), 0))
                    target.append(
                        stats(
                            await raw_claim_loop(
                                conn, n=burst, within=burst_within, exchange=publish_to
                            )
                        )
                    )
                    await make_due(conn, pools["burst"], [None] * burst, status="draft")  # type: ignore[list-item]
        start = datetime.now(UTC) + LEAD
        dues = [start + timedelta(seconds=i / rate) for i in range(steady_n)]
        await make_due(conn, pools["steady"], dues, status="scheduled")
        steady_base = await raw_claim_loop(conn, n=steady_n, within=steady_seconds + 60)
    finally:
        await conn.close()

    notes = (
        f"{burst:,} targets due at one instant over {future:,} future targets "
        f"(COPY-loaded in {load_seconds:.1f} s); the scheduler process (dispatcher batch "
        f"{BATCH}, outbox relay), lateness at arrival on our own queue; baseline: raw SKIP "
        "LOCKED claim loop, at its commit"
    )
    raw_name = "raw SQL SKIP LOCKED claim loop (to commit)"
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
                baseline_name=raw_name,
                baseline=median(base),
                goal=GOAL,
                higher_is_better=False,
                rounds=real,
                baseline_rounds=base,
                notes=notes,
            )
        )
    real = [r[1] * 1000 for r in burst_rounds]
    direct = [r[1] * 1000 for r in direct_rounds]
    figures.append(
        Figure(
            benchmark=NAME,
            metric="burst lateness p99, due → broker vs direct",
            unit="ms",
            value=median(real),
            baseline_name="raw claim loop publishing each row with confirms (to confirm)",
            baseline=median(direct),
            goal=GOAL,
            higher_is_better=False,
            rounds=real,
            baseline_rounds=direct,
            notes="the same burst; the baseline publishes straight to the broker, no outbox",
        )
    )
    claims = [r[1] * 1000 for r in claim_rounds]
    base = [r[1] * 1000 for r in base_rounds]
    figures.append(
        Figure(
            benchmark=NAME,
            metric="burst lateness p99, due → claim",
            unit="ms",
            value=median(claims),
            baseline_name=raw_name,
            baseline=median(base),
            goal="(the dispatcher's share)",
            higher_is_better=False,
            rounds=claims,
            baseline_rounds=base,
            notes="claimed_at (start of the claiming transaction) minus due_at",
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
                baseline_name=raw_name,
                baseline=percentile(steady_base, q) * 1000,
                goal=GOAL,
                higher_is_better=False,
                notes=steady_notes,
            )
        )
    figures.append(
        Figure(
            benchmark=NAME,
            metric=f"steady {rate}/s lateness p99, due → claim",
            unit="ms",
            value=percentile(steady_claim, 0.99) * 1000,
            baseline_name=raw_name,
            baseline=percentile(steady_base, 0.99) * 1000,
            goal="(the dispatcher's share)",
            higher_is_better=False,
            notes=steady_notes,
        )
    )
    return figures
