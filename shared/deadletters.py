"""Dead-letter queues: how many messages each holds, and putting them back on their queue.

    python -m shared.deadletters count <queue> [<queue> ...]
    python -m shared.deadletters replay <queue> [--limit N]

`<queue>` is a consumer's queue as the broker names it, `<bus prefix><service>.<purpose>`
(`inbox.channels`, `publisher.posts`); what it dead-lettered waits in `<queue>.dead`. The
broker is `--amqp-url`, else `HERALD_AMQP_URL`, else the local development broker.

`replay` moves the messages that are in the dead-letter queue when it starts (at most
`--limit`), oldest first, straight to `<queue>` only (through the default exchange, so no other
service's queue receives them again). Each message is published with a broker confirm before
its dead copy is acknowledged: a replay stopped half-way loses nothing, and at worst leaves a
message in both queues, which the idempotent consumer handles once. The broker's dead-letter
headers (`x-death`, …) are dropped, so a replayed message starts with a fresh delivery limit.
Fix what made the messages fail first, or they come back to the dead-letter queue.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead"


async def count(amqp_url: str, queues: Sequence[str]) -> dict[str, int]:
    """Messages waiting in each queue's dead-letter queue."""
    connection = await aio_pika.connect(amqp_url, timeout=15)
    async with connection:
        found: dict[str, int] = {}
        for queue in queues:
            channel = await connection.channel()
            dead = await channel.declare_queue(dead_letter_queue(queue), passive=True)
            found[queue] = dead.declaration_result.message_count or 0
            await channel.close()
        return found


async def replay(amqp_url: str, queue: str, *, limit: int | None = None) -> int:
    """Moves dead-lettered messages back to `queue`; returns how many it moved."""
    connection = await aio_pika.connect(amqp_url, timeout=15)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        # Both must exist already (the service declares them when it starts consuming): a
        # passive declare fails rather than creating a queue nobody consumes.
        await channel.declare_queue(queue, passive=True)
        dead = await channel.declare_queue(dead_letter_queue(queue), passive=True)
        waiting = dead.declaration_result.message_count or 0
        # Only what was there at the start: a message that fails again and comes back to the
        # dead-letter queue is not picked up a second time by the same run.
        wanted = waiting if limit is None else min(waiting, limit)
        moved = 0
        while moved < wanted:
            message = await dead.get(no_ack=False, fail=False)
            if message is None:
                break
            await _republish(channel, queue, message)
            await message.ack()
            moved += 1
        return moved


async def _republish(
    channel: AbstractChannel, queue: str, message: AbstractIncomingMessage
) -> None:
    headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
    await channel.default_exchange.publish(
        aio_pika.Message(
            body=message.body,
            content_type=message.content_type,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            headers=headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=queue,
        mandatory=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.deadletters", description=__doc__)
    parser.add_argument("--amqp-url", default=os.environ.get("HERALD_AMQP_URL", DEFAULT_AMQP_URL))
    commands = parser.add_subparsers(dest="command", required=True)
    counting = commands.add_parser("count", help="messages in each queue's dead-letter queue")
    counting.add_argument("queues", nargs="+")
    replaying = commands.add_parser("replay", help="move dead-lettered messages back")
    replaying.add_argument("queue")
    replaying.add_argument("--limit", type=int, default=None, help="move at most this many")
    args = parser.parse_args(argv)
    if args.command == "count":
        for queue, waiting in asyncio.run(count(args.amqp_url, args.queues)).items():
            print(f"{dead_letter_queue(queue)}\t{waiting}")
        return 0
    if args.limit is not None and args.limit < 0:
        parser.error("--limit must be 0 or more")
    moved = asyncio.run(replay(args.amqp_url, args.queue, limit=args.limit))
    print(f"moved {moved} message(s) from {dead_letter_queue(args.queue)} to {args.queue}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
