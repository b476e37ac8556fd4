"""Metric sample ingest through the whole metrics consumer against raw COPY of the same rows.

The metrics service runs as its own process (`python -m services.metrics`). The bench plays
the publisher: it publishes `metrics.fetched` events (one per channel, 100 posts × 6 numbers,
the size of one `metrics.collect` answer) on the run's bus prefix and measures from the first
publish until every message's transaction (samples, latest values, hourly and daily rollups,
collections answered, idempotency record) has committed. The baseline copies the same rows
with asyncpg `COPY`, in batches of the same size, into a plain table with the same columns.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.context import BenchContext
from bench.harness import Figure, free_port, median, service_process
from services.metrics.ingest import SAMPLE_COLUMNS
from services.metrics.tracking import track_published_post
from shared.bus import Bus, OutgoingMessage
from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.events import Envelope, MetricsFetched, PostPublished
from shared.events import Sample as FetchedSample

NAME = "samples"
NETWORK = "x"
POSTS_PER_MESSAGE = 100
# X's own names; all map onto the common vocabulary.
METRICS = (
    ("impression_count", "views"),
    ("like_count", "likes"),
    ("reply_count", "comments"),
    ("retweet_count", "shares"),
    ("quote_count", "quotes"),
    ("bookmark_count", "saves"),
)
CONSUMER = "metrics.samples"


class Fleet:
    """Channels with tracked posts, and the `metrics.fetched` answers for them."""

    def __init__(self, *, channels: int, published_at: datetime) -> None:
        self.workspace = uuid.uuid4()
        self.published_at = published_at
        self.channels = [uuid.uuid4() for _ in range(channels)]
        self.posts = {
            c: [
                PostPublished(
                    post_id=uuid.uuid4(),
                    target_id=uuid.uuid4(),
                    channel_id=c,
                    network=NETWORK,
                    external_id=f"{i}{uuid.uuid4().hex[:12]}",
                    published_at=published_at,
                )
                for i in range(POSTS_PER_MESSAGE)
            ]
            for c in self.channels
        }

    async def track(self, database_url: str) -> None:
        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)
        async with unit_of_work(sessions) as session:
            for posts in self.posts.values():
                for p in posts:
                    await track_published_post(
                        session, workspace_id=self.workspace, published=p, now=self.published_at
                    )
        await engine.dispose()

    def messages(
        self, *, step: int, per_channel: int
    ) -> tuple[list[OutgoingMessage], list[list[tuple[object, ...]]]]:
        """`per_channel` answers per channel, each an hour after the previous one."""
        bodies: list[OutgoingMessage] = []
        rows: list[list[tuple[object, ...]]] = []
        for k in range(per_channel):
            hour = step * per_channel + k + 1
            at = self.published_at + timedelta(hours=hour, minutes=k % 60)
            for channel, posts in self.posts.items():
                samples = []
                batch = []
                for j, p in enumerate(posts):
                    for m, (network_metric, common) in enumerate(METRICS):
                        value = float(hour * (10 + j + m))
                        samples.append(
                            FetchedSample(
                                external_id=p.external_id,
                                metric=network_metric,
                                network_metric=network_metric,
                                value=value,
                                collected_at=at,
                            )
                        )
                        batch.append(
                            (
                                self.workspace,
                                channel,
                                p.target_id,
                                p.post_id,
                                NETWORK,
                                common,
                                network_metric,
                                value,
                                float(10 + j + m),
                                at,
                            )
                        )
                envelope = Envelope.of(
                    MetricsFetched(channel_id=channel, network=NETWORK, samples=samples),
                    workspace_id=self.workspace,
                )
                bodies.append(
                    OutgoingMessage(
                        routing_key=envelope.type,
                        body=envelope.model_dump_json().encode(),
                        message_id=str(envelope.id),
                    )
                )
                rows.append(batch)
        return bodies, rows


async def processed(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM metrics.processed_messages WHERE consumer = $1", CONSUMER
    )
    return value


async def wait_processed(conn: asyncpg.Connection, target: int, patience: float = 300) -> None:
    deadline = time.monotonic() + patience
    while await processed(conn) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {await processed(conn)} of {target} messages stored")
        await asyncio.sleep(0.01)


async def raw_copy_rate(conn: asyncpg.Connection, rows: list[list[tuple[object, ...]]]) -> float:
    await conn.execute("TRUNCATE bench_raw_samples")
    started = time.perf_counter()
    for batch in rows:
        await conn.copy_records_to_table("bench_raw_samples", columns=SAMPLE_COLUMNS, records=batch)
    elapsed = time.perf_counter() - started
    return sum(len(b) for b in rows) / elapsed


async def run(ctx: BenchContext) -> list[Figure]:
    channels = 6 if ctx.quick else 20
    per_channel = 4 if ctx.quick else 6
    fleet = Fleet(channels=channels, published_at=datetime.now(UTC).replace(microsecond=0))
    await fleet.track(ctx.database_url)

    conn = await asyncpg.connect(ctx.asyncpg_dsn)
    await conn.execute(
        "CREATE TABLE bench_raw_samples (workspace_id uuid, channel_id uuid, subject_id uuid, "
        "post_id uuid, network varchar(20), metric varchar(60), network_metric varchar(120), "
        "value double precision, delta double precision, collected_at timestamptz)"
    )
    port = free_port()
    env = ctx.service_env("metrics", port, internal_token="bench-internal-token")
    bus = Bus(url=ctx.amqp_url, exchange=f"{ctx.bus_prefix}herald")
    ingest: list[float] = []
    raw: list[float] = []
    try:
        async with service_process(
            "metrics", port, env=env, log=ctx.results_dir / "samples-metrics.log"
        ):
            # Warm-up: until the queue is bound a publish is dropped, so repeat one answer
            # until it has been stored.
            warm, _ = fleet.messages(step=0, per_channel=1)
            deadline = time.monotonic() + 60
            while await processed(conn) == 0:
                if time.monotonic() > deadline:
                    raise TimeoutError("the metrics consumer never stored a sample")
                await bus.publish(warm[:1])
                await asyncio.sleep(0.3)
            await bus.publish(warm[1:])
            await wait_processed(conn, len(warm))
            step = 1
            for _ in range(ctx.rounds()):
                bodies, rows = fleet.messages(step=step, per_channel=per_channel)
                step += 1
                n = sum(len(b) for b in rows)
                before = await processed(conn)
                started = time.perf_counter()
                await bus.publish(bodies)
                await wait_processed(conn, before + len(bodies))
                ingest.append(n / (time.perf_counter() - started))
                raw.append(await raw_copy_rate(conn, rows))
    finally:
        await bus.close()
        await conn.execute("DROP TABLE IF EXISTS bench_raw_samples")
        await conn.close()
    per_round = channels * per_channel * POSTS_PER_MESSAGE * len(METRICS)
    return [
        Figure(
            NAME,
            "metrics.fetched → stored (samples, latest, rollups)",
            "samples/s",
            median(ingest),
            "asyncpg COPY of the same rows into a plain table",
            median(raw),
            "≥ 0.5",
            rounds=ingest,
            baseline_rounds=raw,
            notes=(
                f"{per_round} samples per round in {channels * per_channel} messages of "
                f"{POSTS_PER_MESSAGE * len(METRICS)}; COPY in batches of the same size"
            ),
        )
    ]
