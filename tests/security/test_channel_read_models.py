"""Read models of channels accept every legitimate sequence of `channel.*` events.

The inbox kept one row per network account (`uq_channels_network`), so an account connected
again (after a disconnect, or in a second workspace) made its `channel.connected` handler fail
on every delivery until it was dead-lettered: the inbox never learnt of the channel and the
account's comments were parked forever. Events may also arrive out of order (redelivery,
several relay replicas): a late `channel.connected` must not bring back a channel that was
disconnected, nor an older fact overwrite a newer one, in any service.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from shared.bus import Bus, OutgoingMessage
from shared.events import (
    BestSlot,
    BestTimesUpdated,
    ChannelConnected,
    ChannelDisconnected,
    ChannelNeedsReauth,
    ChannelUpdated,
    Envelope,
    EventData,
)
from tests.conftest import AMQP_URL
from tests.e2e.flows import new_workspace, wait_for
from tests.security.sec_inbox import connect, doors, sandbox_account

READ_MODELS = {
    # service: (table, id column, status expression)
    "inbox": ("inbox.channels", "channel_id", "status"),
    "scheduler": (
        "scheduler.channels",
        "id",
        "CASE WHEN disconnected THEN 'disconnected' ELSE status END",
    ),
    "metrics": ("metrics.channels", "channel_id", "status"),
}


async def statuses(dsn: str, channel_id: uuid.UUID) -> dict[str, str | None]:
    conn = await asyncpg.connect(dsn)
    try:
        out = {}
        for service, (table, column, status) in READ_MODELS.items():
            out[service] = await conn.fetchval(
                f"SELECT {status} FROM {table} WHERE {column} = $1", channel_id
            )
        return out
    finally:
        await conn.close()


async def test_reconnects_and_a_shared_account_reach_the_inbox(platform) -> None:
    async with doors(platform) as d:
        other_key = await new_workspace(d.gateway, timezone="Europe/Paris")
        account = await sandbox_account(d.sandbox, "x", "Shared brand")
        first = await connect(d, "x", account)
        # Disconnected and connected again: a new channel for the same account.
        r = await d.gateway.delete(f"/v1/channels/{first['id']}", headers=d.auth)
        assert r.status_code == 204, r.text
        again = await connect(d, "x", account)
        # The same account in a second workspace.
        elsewhere = await connect(d, "x", account, key=other_key)
        assert len({first["id"], again["id"], elsewhere["id"]}) == 3

        dsn = platform.config.database_url.replace("postgresql+asyncpg", "postgresql")

        async def known() -> bool:
            conn = await asyncpg.connect(dsn)
            try:
                rows = await conn.fetch(
                    "SELECT channel_id::text, status FROM inbox.channels WHERE external_id = $1",
                    account["external_id"],
                )
            finally:
                await conn.close()
            return {(r[0], r[1]) for r in rows} == {
                (first["id"], "disconnected"),
                (again["id"], "active"),
                (elsewhere["id"], "active"),
            }

        await wait_for(known, seconds=60, what="every channel of the account in the inbox")

        # A DM to the account reaches both workspaces that hold it now.
        r = await d.sandbox.post(
            "/_sandbox/x/messages",
            json={"account": account["external_id"], "text": "Hello both", "author": "fan"},
        )
        assert r.status_code == 201, r.text
        for key, channel in ((d.key, again), (other_key, elsewhere)):

            async def arrived(key: str = key, channel: dict = channel) -> list:
                r = await d.gateway.get(
                    "/v1/conversations", headers={"Authorization": f"Bearer {key}"}
                )
                assert r.status_code == 200, r.text
                return [c for c in r.json()["items"] if c["channel_id"] == channel["id"]]

            await wait_for(arrived, seconds=60, what="the DM in each workspace")


async def test_every_order_of_channel_events_settles_on_the_latest_fact(platform) -> None:
    config = platform.config
    dsn = config.database_url.replace("postgresql+asyncpg", "postgresql")
    bus = Bus(url=AMQP_URL, exchange=f"{config.bus_prefix}herald")
    workspace = uuid.uuid4()
    start = datetime.now(UTC) - timedelta(minutes=5)

    def facts(channel_id: uuid.UUID, status: str = "active") -> dict:
        return dict(
            channel_id=channel_id,
            network="x",
            external_id=f"acct-{channel_id.hex[:8]}",
            name="Acme",
            timezone="UTC",
            status=status,
        )

    async def send(data: EventData, minute: int) -> Envelope:
        envelope = Envelope.of(data, workspace_id=workspace).model_copy(
            update={"occurred_at": start + timedelta(minutes=minute)}
        )
        await bus.publish(
            [
                OutgoingMessage(
                    routing_key=envelope.type,
                    body=envelope.model_dump_json().encode(),
                    message_id=str(envelope.id),
                )
            ]
        )
        return envelope

    # Each sequence is (event, when it happened), delivered in the order listed.
    late_connect, reauth_first, stale_update, repeated = (uuid.uuid4() for _ in range(4))
    sequences = {
        # Disconnected before its connected arrives: stays disconnected.
        late_connect: (
            [
                (ChannelDisconnected(channel_id=late_connect), 3),
                (ChannelNeedsReauth(**facts(late_connect, "needs_reauth")), 2),
                (ChannelConnected(**facts(late_connect)), 1),
            ],
            "disconnected",
        ),
        # needs_reauth before the connected it follows.
        reauth_first: (
            [
                (ChannelNeedsReauth(**facts(reauth_first, "needs_reauth")), 2),
                (ChannelConnected(**facts(reauth_first)), 1),
            ],
            "needs_reauth",
        ),
        # An older update after a newer one.
        stale_update: (
            [
                (ChannelConnected(**facts(stale_update)), 1),
                (ChannelUpdated(**facts(stale_update, "paused")), 3),
                (ChannelUpdated(**facts(stale_update, "needs_reauth")), 2),
            ],
            "paused",
        ),
        # Redelivered copies and a reconnect with the same id after re-authorisation.
        repeated: (
            [
                (ChannelConnected(**facts(repeated)), 1),
                (ChannelNeedsReauth(**facts(repeated, "needs_reauth")), 2),
                (ChannelConnected(**facts(repeated)), 1),
                (ChannelUpdated(**facts(repeated)), 3),
            ],
            "active",
        ),
    }
    try:
        # A service answers /readyz a moment before its queues are bound: an event published
        # then would reach nobody. One channel seen by every read model first.
        ready = uuid.uuid4()
        await send(ChannelConnected(**facts(ready)), 0)

        async def listening() -> bool:
            seen = await statuses(dsn, ready)
            if set(seen.values()) != {"active"}:
                await send(ChannelConnected(**facts(ready)), 0)
                return False
            return True

        await wait_for(listening, seconds=60, interval=1, what="every service consuming")
        for events, _ in sequences.values():
            for data, minute in events:
                await send(data, minute)
        for channel_id, (_, expected) in sequences.items():
            seen: dict[str, str | None] = {}

            async def settled(
                channel_id: uuid.UUID = channel_id,
                expected: str = expected,
                seen: dict[str, str | None] = seen,
            ) -> bool:
                seen.update(await statuses(dsn, channel_id))
                return set(seen.values()) == {expected}

            try:
                await wait_for(settled, seconds=60, what=f"{expected} for {channel_id}")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; each service holds {seen}") from None

        # Best times computed at 10:00, then the ones of 09:00 delivered late: 10:00's stay.
        def best(hour: int) -> BestTimesUpdated:
            return BestTimesUpdated(
                channel_id=repeated,
                timezone="UTC",
                slots=[BestSlot(weekday=0, hour=hour, score=0.5)],
            )

        async def best_times(message: Envelope) -> str | None:
            conn = await asyncpg.connect(dsn)
            try:
                consumed = await conn.fetchval(
                    "SELECT count(*) FROM scheduler.processed_messages WHERE message_id = $1",
                    str(message.id),
                )
                slots = await conn.fetchval(
                    "SELECT slots::text FROM scheduler.best_times WHERE channel_id = $1", repeated
                )
            finally:
                await conn.close()
            return slots if consumed else None

        newer = await send(best(10), 10)
        await wait_for(lambda: best_times(newer), seconds=60, what="the 10:00 best times")
        late = await send(best(9), 9)
        slots = await wait_for(lambda: best_times(late), seconds=60, what="the late event")
        assert '"hour": 10' in slots, slots
    finally:
        await bus.close()
