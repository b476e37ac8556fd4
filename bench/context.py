"""The run's own database (migrated) and bus prefix, removed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from shared.busadmin import delete_bus_objects
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
    _platform: Any = field(default=None, repr=False)

    @property
    def database_url(self) -> str:
        return (
            self.pg_url.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + self.database
        )

    @property
    def asyncpg_dsn(self) -> str:
        return f"{self.pg_url}/{self.database}"

    def service_env(self, service: str, port: int, **settings: str) -> dict[str, str]:
        """The environment of a service run by a benchmark itself: this run's database and
        bus, `port`, warnings only, and `settings` (lower-case names, as the settings class
        spells them)."""
        prefix = f"{service.upper()}_"
        env = {
            "database_url": self.database_url,
            "amqp_url": self.amqp_url,
            "bus_prefix": self.bus_prefix,
            "port": str(port),
            "log_level": "WARNING",
            **settings,
        }
        return {prefix + name.upper(): value for name, value in env.items()}

    def rounds(self, full: int = 3, quick: int = 3) -> int:
        """Rounds per figure: three gives a median with its spread while keeping the whole
        run under ten minutes on a two-core machine."""
        return quick if self.quick else full

    def stop_platform(self) -> None:
        """For a benchmark that runs a service of its own: the platform's copy would share its
        tables and queues (two dispatchers, a publisher acting on the benchmark's events)."""
        if self._platform is not None:
            self._platform.stop()
            self._platform = None

    async def platform(self) -> Any:
        """The whole platform as separate processes on free ports, started once per run."""
        if self._platform is None:
            from bench.harness import free_port
            from deploy.runner import PORTS, Platform, PlatformConfig

            platform = Platform(
                PlatformConfig(
                    database=self.database,
                    pg_url=self.pg_url,
                    amqp_url=self.amqp_url,
                    bus_prefix=self.bus_prefix,
                    internal_token="bench-internal-token",
                    admin_token="bench-admin-token",
                    ports={name: free_port() for name in PORTS},
                    environment="development",
                    log_dir=self.results_dir / "logs",
                    extra_env={
                        name: {f"{name.upper()}_LOG_LEVEL": "WARNING"}
                        for name in ("gateway", "scheduler", "publisher", "inbox", "metrics")
                    },
                )
            )
            await platform.start()
            self._platform = platform
            from bench.harness import PROFILES

            PROFILES.attach_platform(platform)
        return self._platform


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
        if ctx._platform is not None:
            ctx._platform.stop()
        admin = await asyncpg.connect(pg_url + "/postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{ctx.database}" WITH (FORCE)')
        await admin.close()
        with contextlib.suppress(Exception):
            await delete_bus_objects(ctx.amqp_url, ctx.bus_prefix)
