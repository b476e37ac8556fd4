"""Removing a run's queues and exchanges from the broker (test runs, benchmark runs).

The names are listed with `rabbitmqctl` (the broker is local wherever these runs happen)
and removed over AMQP, so nothing else on the broker is touched: only names that start with
the run's prefix.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import aio_pika

KINDS = ("queues", "exchanges")


async def list_bus_objects(prefix: str, kinds: tuple[str, ...] = KINDS) -> dict[str, list[str]]:
    """Queue and exchange names that start with `prefix`; empty when rabbitmqctl is absent."""
    names: dict[str, list[str]] = {kind: [] for kind in KINDS}
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return names
    for kind in kinds:
        try:
            out = await asyncio.to_thread(
                subprocess.run,
                [ctl, "-q", f"list_{kind}", "name"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            return names
        names[kind] = [n for n in out.stdout.split() if n.startswith(prefix)]
    return names


async def delete_bus_objects(amqp_url: str, prefix: str, kinds: tuple[str, ...] = KINDS) -> None:
    if not prefix:
        raise ValueError("an empty prefix would match every queue on the broker")
    names = await list_bus_objects(prefix, kinds)
    if not names["queues"] and not names["exchanges"]:
        return
    connection = await aio_pika.connect(amqp_url, timeout=15)
    async with connection:
        channel = await connection.channel()
        for queue in names["queues"]:
            await channel.queue_delete(queue)
        for exchange in names["exchanges"]:
            await channel.exchange_delete(exchange)
