"""Summary and best-times latency over 10,000,000 samples against the same SQL run raw.

The data is copied straight into the metrics tables of the run's database (samples, hourly
and daily rollups, latest values, tracked posts, channels): 10 workspaces × 20 channels × 50
posts × 4 metrics, one sample an hour per post and metric (`--quick`: a tenth of the hours).
The queries go through the real API handlers (`python -m services.metrics` under uvicorn,
with the headers the gateway forwards); the baseline runs the SQL those handlers issue,
compiled from the same SQLAlchemy statements, straight through asyncpg.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import select

from bench.context import BenchContext
from bench.harness import Figure, free_port, median, percentile, process
from services.metrics.best_times import best_times_query
from services.metrics.ingest import SAMPLE_COLUMNS
from services.metrics.models import Channel
from services.metrics.reports import Filters, Range, _pieces, _rollup_query
from shared.auth import (
    INTERNAL_TOKEN_HEADER,
    PRINCIPAL_HEADER,
    ROLE_HEADER,
    TIMEZONE_HEADER,
    WORKSPACE_HEADER,
)

NAME = "analytics"
WORKSPACES = 10
CHANNELS = 20  # per workspace
POSTS = 50  # per channel
METRICS = (("views", "impression_count", 40), ("likes", "like_count", 3),
           ("comments", "reply_count", 1), ("shares", "retweet_count", 1))
CHUNK = 50_000
TOKEN = "bench-internal-token"


class Dataset:
    def __init__(self, *, hours: int, now: datetime) -> None:
        self.hours = hours
        self.now = now.replace(minute=0, second=0, microsecond=0)
        self.start = self.now - timedelta(days=90)
        rnd = random.Random(7)
        self.workspaces = [uuid.uuid4() for _ in range(WORKSPACES)]
        self.channels = {w: [uuid.uuid4() for _ in range(CHANNELS)] for w in self.workspaces}
        # (workspace, channel, target, post, published_at)
        self.posts = [
            (w, c, uuid.uuid4(), uuid.uuid4(),
             self.start + timedelta(hours=rnd.randrange(0, 90 * 24 - hours)))
            for w in self.workspaces for c in self.channels[w] for _ in range(POSTS)
        ]

    @property
    def samples(self) -> int:
        return len(self.posts) * len(METRICS) * self.hours

    def sample_rows(self) -> Iterator[list[tuple[Any, ...]]]:
        chunk: list[tuple[Any, ...]] = []
        hour = timedelta(hours=1)
        for w, c, t, p, published in self.posts:
            for metric, network_metric, rate in METRICS:
                at = published
                value = 0.0
                for _ in range(self.hours):
                    at += hour
                    value += rate
                    chunk.append((w, c, t, p, "x", metric, network_metric, value, float(rate), at))
                if len(chunk) >= CHUNK:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def hourly_rows(self) -> Iterator[list[tuple[Any, ...]]]:
        chunk: list[tuple[Any, ...]] = []
        hour = timedelta(hours=1)
        for w, c, t, p, published in self.posts:
            for metric, _, rate in METRICS:
                at = published
                for _ in range(self.hours):
                    at += hour
                    chunk.append((t, metric, at, w, c, p, "x", float(rate), 1, 0))
                if len(chunk) >= CHUNK:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def daily_rows(self) -> list[tuple[Any, ...]]:
        rows = []
        for w, c, t, p, published in self.posts:
            for metric, _, rate in METRICS:
                days: dict[datetime, int] = {}
                at = published
                for _ in range(self.hours):
                    at += timedelta(hours=1)
                    day = at.replace(hour=0)
                    days[day] = days.get(day, 0) + 1
                rows += [(t, metric, d, w, c, p, "x", float(rate * n), n, 0)
                         for d, n in days.items()]
        return rows

    def latest_rows(self) -> list[tuple[Any, ...]]:
        end = timedelta(hours=self.hours)
        return [(t, metric, w, c, p, "x", nm, float(rate * self.hours), published + end)
                for w, c, t, p, published in self.posts for metric, nm, rate in METRICS]


ROLLUP_COLUMNS = ("subject_id", "metric", "bucket", "workspace_id", "channel_id", "post_id",
                  "network", "total", "samples", "missing")


async def copy_chunks(dsn: str, table: str, columns: tuple[str, ...],
                      chunks: Iterator[list[tuple[Any, ...]]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for chunk in chunks:
            await conn.copy_records_to_table(table, schema_name="metrics", columns=columns,
                                             records=chunk)
    finally:
        await conn.close()


async def generate(ctx: BenchContext, data: Dataset) -> None:
    conn = await asyncpg.connect(ctx.asyncpg_dsn)
    try:
        await conn.copy_records_to_table(
            "channels", schema_name="metrics",
            columns=("channel_id", "workspace_id", "network", "external_id", "name", "timezone"),
            records=[(c, w, "x", f"acct{i}", f"Channel {i}", "Europe/Paris")
                     for w in data.workspaces for i, c in enumerate(data.channels[w])],
        )
        await conn.copy_records_to_table(
            "tracked_posts", schema_name="metrics",
            columns=("target_id", "post_id", "workspace_id", "channel_id", "network",
                     "external_id", "published_at", "tags"),
            records=[(t, p, w, c, "x", t.hex[:16], published, [])
                     for w, c, t, p, published in data.posts],
        )
        await conn.copy_records_to_table(
            "latest_values", schema_name="metrics",
            columns=("subject_id", "metric", "workspace_id", "channel_id", "post_id", "network",
                     "network_metric", "value", "collected_at"),
            records=data.latest_rows(),
        )
        await conn.copy_records_to_table("rollups_daily", schema_name="metrics",
                                         columns=ROLLUP_COLUMNS, records=data.daily_rows())
    finally:
        await conn.close()
    # The two big tables load side by side, each on its own connection.
    await asyncio.gather(
        copy_chunks(ctx.asyncpg_dsn, "samples", SAMPLE_COLUMNS, data.sample_rows()),
        copy_chunks(ctx.asyncpg_dsn, "rollups_hourly", ROLLUP_COLUMNS, data.hourly_rows()),
    )
    conn = await asyncpg.connect(ctx.asyncpg_dsn)
    try:
        await conn.execute("VACUUM ANALYZE metrics.samples, metrics.rollups_hourly, "
                           "metrics.rollups_daily, metrics.latest_values, metrics.tracked_posts")
    finally:
        await conn.close()


def compiled(statement: Any) -> tuple[str, list[Any]]:
    """The SQL and positional parameters SQLAlchemy sends through asyncpg for a statement."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    c = statement.compile(dialect=dialect(), compile_kwargs={"render_postcompile": True})
    sql = str(c)
    params = [c.params[name] for name in c.positiontup]
    # SQLAlchemy's asyncpg dialect renders `$n::TYPE`; keep that as is.
    return sql, params


def summary_sql(workspace: uuid.UUID, rng: Range) -> list[tuple[str, list[Any]]]:
    return [compiled(_rollup_query(model, workspace_id=workspace, rng=piece, filters=Filters()))
            for model, piece in _pieces(rng)]


def best_times_sql(channel: uuid.UUID) -> list[tuple[str, list[Any]]]:
    return [
        compiled(select(Channel.workspace_id).where(Channel.channel_id == channel)),
        compiled(select(Channel).where(Channel.channel_id == channel)),
        compiled(best_times_query(channel)),
    ]


async def timed_raw(conn: asyncpg.Connection, statements: list[tuple[str, list[Any]]]) -> float:
    started = time.perf_counter()
    for sql, params in statements:
        await conn.fetch(sql, *params)
    return (time.perf_counter() - started) * 1000


async def timed_api(client: httpx.AsyncClient, path: str, params: dict[str, str],
                    workspace: uuid.UUID) -> float:
    headers = {INTERNAL_TOKEN_HEADER: TOKEN, WORKSPACE_HEADER: str(workspace),
               ROLE_HEADER: "analyst", PRINCIPAL_HEADER: "bench", TIMEZONE_HEADER: "UTC"}
    started = time.perf_counter()
    r = await client.get(path, params=params, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"{path} answered {r.status_code}: {r.text[:300]}")
    return elapsed


async def run(ctx: BenchContext) -> list[Figure]:
    hours = 25 if ctx.quick else 250
    data = Dataset(hours=hours, now=datetime.now(UTC))
    t0 = time.monotonic()
    await generate(ctx, data)
    generated_in = time.monotonic() - t0
    requests = 150 if ctx.quick else 300
    rnd = random.Random(11)
    # Ranges of 30 days ending at an arbitrary hour: whole days from the daily rollup, the
    # ragged ends from the hourly one, as the handler splits them.
    queries = []
    for _ in range(requests):
        w = rnd.choice(data.workspaces)
        end = data.now - timedelta(hours=rnd.randrange(0, 60 * 24))
        start = end - timedelta(days=30)
        c = rnd.choice(data.channels[w])
        queries.append((w, c, Range(start, end)))

    port = free_port()
    env = {
        "METRICS_DATABASE_URL": ctx.database_url,
        "METRICS_AMQP_URL": ctx.amqp_url,
        "METRICS_BUS_PREFIX": ctx.bus_prefix,
        "METRICS_PORT": str(port),
        "METRICS_INTERNAL_TOKEN": TOKEN,
        "METRICS_LOG_LEVEL": "WARNING",
        "METRICS_RUN_WORKERS": "false",
    }
    api: dict[str, list[list[float]]] = {"summary": [], "best": []}
    raw: dict[str, list[list[float]]] = {"summary": [], "best": []}
    conn = await asyncpg.connect(ctx.asyncpg_dsn)
    try:
        async with (
            process([sys.executable, "-m", "services.metrics"], env=env,
                    ready_url=f"http://127.0.0.1:{port}/healthz",
                    log=ctx.results_dir / "analytics-metrics.log"),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
        ):
            for _ in range(ctx.rounds()):
                rs, rb, a_s, a_b = [], [], [], []
                for w, c, rng in queries:
                    a_s.append(await timed_api(
                        client, "/v1/analytics/summary",
                        {"from": rng.start.isoformat(), "to": rng.end.isoformat()}, w))
                    rs.append(await timed_raw(conn, summary_sql(w, rng)))
                    a_b.append(await timed_api(client, "/v1/analytics/best-times",
                                               {"channel_id": str(c)}, w))
                    rb.append(await timed_raw(conn, best_times_sql(c)))
                api["summary"].append(a_s)
                api["best"].append(a_b)
                raw["summary"].append(rs)
                raw["best"].append(rb)
    finally:
        await conn.close()

    figures = []
    note = (f"{data.samples:,} samples ({len(data.posts)} posts × {len(METRICS)} metrics × "
            f"{hours} hourly), generated in {generated_in:.0f}s; {requests} requests a round, "
            "one at a time")
    for key, label in (("summary", "summary, 30 days, one workspace"),
                       ("best", "best-times grid, one channel")):
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            values = [percentile(r, q) for r in api[key]]
            base = [percentile(r, q) for r in raw[key]]
            figures.append(Figure(
                NAME, f"{label} {name}", "ms", median(values),
                "the same SQL through asyncpg", median(base),
                "p99 ≤ 50 ms" if name == "p99" else "informational",
                higher_is_better=False, rounds=values, baseline_rounds=base, notes=note,
            ))
    return figures
