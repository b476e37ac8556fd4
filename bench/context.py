"""The run's own database (migrated) and bus prefix, removed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.migrations import ROOT, SERVICES, upgrade


@dataclass
class BenchContext:
    quick: bool
    profile: bool
    pg_url: str
    amqp_url: str
    database: str
    bus_prefix: str
    results_dir: Path

    @property
    def database_url(self) -> str:
        return (
            self.pg_url.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + self.database
        )

    @property
    def asyncpg_dsn(self) -> str:
        return f"{self.pg_url}/{self.database}"

    def rounds(self, full: int = 5, quick: int = 3) -> int:
        return quick if self.quick else full


@contextlib.asynccontextmanager
async def bench_context(*, quick: bool, profile: bool) -> AsyncIterator[BenchContext]:
    run_id = uuid.uuid4().hex[:8]
    pg_url = os.environ.get("HERALD_PG_URL", "postgresql://postgres@localhost:5432")
    ctx = BenchContext(
        quick=quick,
        profile=profile,
        pg_url=pg_url,
        amqp_url=os.environ.get("HERALD_AMQP_URL", "amqp://guest:guest@localhost:5672/"),
        database=f"herald_bench_{run_id}",
        bus_prefix=f"bench{run_id}.",
        results_dir=ROOT / "bench" / "results",
    )
    ctx.results_dir.mkdir(parents=True, exist_ok=True)
    admin = await asyncpg.connect(pg_url + "/postgres")
    await admin.execute(f'CREATE DATABASE "{ctx.database}"')
    await admin.close()
    try:
        for service in SERVICES:
            if (ROOT / "services" / service / "migrations" / "env.py").exists():
                await asyncio.to_thread(upgrade, service, ctx.database_url)
        yield ctx
    finally:
        admin = await asyncpg.connect(pg_url + "/postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{ctx.database}" WITH (FORCE)')
        await admin.close()
        from tests.conftest import delete_bus_objects

        with contextlib.suppress(Exception):
            await delete_bus_objects(ctx.bus_prefix)
