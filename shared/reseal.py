"""Moves every sealed secret of a service to its active key.

    python -m shared.reseal publisher gateway [--batch 100]

Run it after making a new key active (shared/sealing.py). It works in batches, each its own
transaction: stopped half-way, every row still opens (old rows with the old key, which stays
configured) and running it again carries on with what is left. When it reports 0 rows left,
the old key can be removed from `encryption_keys`.

A service takes part by offering `services.<name>.reseal` with `TARGET`, a `Reseal`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import make_engine, make_sessionmaker, unit_of_work
from shared.sealing import Keyring, SealingSettings


@dataclass(frozen=True)
class Reseal:
    """What to re-seal in one service: rows of `model` whose `key_id` is not the active key
    (or NULL: written before sealing), and how to re-seal one row with the keyring."""

    settings: Callable[[], SealingSettings]
    model: Any
    reseal_row: Callable[[Any, Keyring], None]


async def reseal_batch(
    session: AsyncSession, *, target: Reseal, keyring: Keyring, batch: int
) -> int:
    """Re-seals up to `batch` rows not on the active key; returns how many."""
    model = target.model
    rows = (
        await session.scalars(
            select(model)
            .where(or_(model.key_id.is_(None), model.key_id != keyring.active_key_id))
            .order_by(model.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        target.reseal_row(row, keyring)
    await session.flush()
    return len(rows)


async def reseal_all(
    sessions: async_sessionmaker[AsyncSession],
    *,
    target: Reseal,
    keyring: Keyring,
    batch: int = 100,
    max_batches: int | None = None,
) -> int:
    """Re-seals batch after batch (each committed on its own) until none is left, or
    `max_batches` have run. Returns how many rows were re-sealed."""
    done = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        async with unit_of_work(sessions) as session:
            moved = await reseal_batch(session, target=target, keyring=keyring, batch=batch)
        done += moved
        batches += 1
        if moved < batch:
            break
    return done


async def remaining(
    sessions: async_sessionmaker[AsyncSession], *, target: Reseal, keyring: Keyring
) -> int:
    model = target.model
    async with sessions() as session:
        rows = await session.scalars(
            select(model.id).where(
                or_(model.key_id.is_(None), model.key_id != keyring.active_key_id)
            )
        )
        return len(rows.all())


async def run(service: str, *, batch: int) -> None:
    target: Reseal = importlib.import_module(f"services.{service}.reseal").TARGET
    settings = target.settings()
    keyring = settings.keyring()
    engine = make_engine(settings.database_url, pool_size=1, application_name="reseal")
    try:
        sessions = make_sessionmaker(engine)
        moved = await reseal_all(sessions, target=target, keyring=keyring, batch=batch)
        left = await remaining(sessions, target=target, keyring=keyring)
    finally:
        await engine.dispose()
    print(f"{service}: {moved} re-sealed with key {keyring.active_key_id!r}, {left} left")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.reseal")
    parser.add_argument("services", nargs="+", choices=["publisher", "gateway"])
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args(argv)
    for service in args.services:
        asyncio.run(run(service, batch=args.batch))


if __name__ == "__main__":
    main()
