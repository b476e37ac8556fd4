"""Alembic, one tree per service, each in its own schema with its own version table.

    python -m shared.migrations upgrade [service ...]      # all services when none is named
    python -m shared.migrations revision <service> -m "what changed"
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

SERVICES = ("gateway", "scheduler", "publisher", "inbox", "metrics")
ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url)
    cfg.attributes["service"] = service
    return cfg


def settings_url(service: str) -> str:
    module = importlib.import_module(f"services.{service}.settings")
    settings_cls = next(
        v for k, v in vars(module).items() if k.endswith("Settings") and k != "ServiceSettings"
    )
    return str(settings_cls().database_url)


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def run_env(metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`."""
    schema = metadata.schema
    assert schema, "a service's metadata names its schema"
    url = context.config.get_main_option("sqlalchemy.url")
    assert url

    def do_run(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: (
                type_ != "schema" or name == schema
            ),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool, hide_parameters=True)
        async with engine.begin() as conn:
            await conn.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.migrations")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upgrade")
    up.add_argument("services", nargs="*", default=list(SERVICES))
    rev = sub.add_parser("revision")
    rev.add_argument("service")
    rev.add_argument("-m", "--message", required=True)
    args: Any = parser.parse_args(argv)
    if args.cmd == "upgrade":
        for service in args.services:
            upgrade(service, settings_url(service))
            print(f"{service}: migrated")
    else:
        cfg = alembic_config(args.service, settings_url(args.service))
        command.revision(cfg, message=args.message, autogenerate=True)


if __name__ == "__main__":
    main()
