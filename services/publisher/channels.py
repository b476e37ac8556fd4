"""Channels: connected network accounts, their credentials and their status."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters import Adapters
from services.publisher.adapters.base import Adapter, NetworkError
from services.publisher.crypto import Keyring
from services.publisher.jobs import resume_waiting
from services.publisher.models import Channel
from shared.errors import BadGateway, NotFound, Unavailable, ValidationFailed
from shared.events import (
    ChannelConnected,
    ChannelDisconnected,
    ChannelNeedsReauth,
    ChannelUpdated,
    Envelope,
)
from shared.networks import NETWORKS
from shared.outbox import Outbox


def check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    # OSError: a name longer than a file name may be is looked up as a file all the same.
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationFailed(f"{timezone!r} is not an IANA time zone.", field="timezone") from exc
    return timezone


def adapter_for(adapters: Adapters, network: str) -> Adapter:
    if network not in NETWORKS:
        raise ValidationFailed(
            f"Unknown network {network!r}; expected one of {', '.join(NETWORKS)}.",
            field="network",
        )
    adapter = adapters.get(network)
    if adapter is None:
        raise ValidationFailed(
            f"Publishing to {network} is not available yet on this Herald.", field="network"
        )
    return adapter


def seal(
    channel: Channel, credentials: dict[str, Any], *, keyring: Keyring, adapter: Adapter
) -> None:
    channel.key_id, channel.credentials = keyring.seal(credentials, context=str(channel.id))
    channel.token_expires_at = adapter.expires_at(credentials)


def unseal(channel: Channel, *, keyring: Keyring) -> dict[str, Any]:
    return keyring.open(channel.credentials, key_id=channel.key_id, context=str(channel.id))


def facts(channel: Channel) -> dict[str, Any]:
    return {
        "channel_id": channel.id,
        "network": channel.network,
        "external_id": channel.external_id,
        "name": channel.name,
        "timezone": channel.timezone,
        "status": channel.status,
    }


async def connect_channel(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    network: str,
    credentials: dict[str, Any],
    name: str | None,
    timezone: str,
    adapters: Adapters,
    keyring: Keyring,
    outbox: Outbox,
) -> tuple[Channel, bool]:
    """Checks the credentials with the network, then stores the channel (or refreshes the
    credentials of one already connected: reconnecting is how `needs_reauth` is cleared).
    Returns the channel and whether it is new."""
    adapter = adapter_for(adapters, network)
    check_timezone(timezone)
    await adapter.check_credentials(credentials)
    try:
        account = await adapter.verify(credentials)
    except NetworkError as exc:
        if exc.error_class in ("transient", "rate_limited", "unknown_outcome"):
            raise Unavailable(
                f"{network} could not be reached to check the credentials; try again.",
                headers={"Retry-After": str(int(exc.retry_after or 5))},
            ) from exc
        raise ValidationFailed(
            f"{network} refused these credentials: {exc.message}", field="credentials"
        ) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise BadGateway(f"{network} answered in an unexpected shape.") from exc
    existing = await session.scalar(
        select(Channel).where(
            Channel.workspace_id == workspace_id,
            Channel.network == network,
            Channel.external_id == account.external_id,
        )
    )
    credentials = account.credentials or credentials
    now = datetime.now(UTC)
    if existing is not None:
        seal(existing, credentials, keyring=keyring, adapter=adapter)
        existing.status, existing.status_reason = "active", None
        existing.name = name or existing.name
        existing.username = account.username
        existing.timezone = timezone
        existing.updated_at = now
        await session.flush()
        await resume_waiting(session, channel_id=existing.id)
        await outbox.add(
            session, Envelope.of(ChannelUpdated(**facts(existing)), workspace_id=workspace_id)
        )
        return existing, False
    channel = Channel(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        network=network,
        external_id=account.external_id,
        name=name or account.name,
        username=account.username,
        timezone=timezone,
        status="active",
        created_at=now,
        updated_at=now,
    )
    seal(channel, credentials, keyring=keyring, adapter=adapter)
    session.add(channel)
    await session.flush()
    await outbox.add(
        session, Envelope.of(ChannelConnected(**facts(channel)), workspace_id=workspace_id)
    )
    return channel, True


async def get_channel(
    session: AsyncSession, *, workspace_id: uuid.UUID, channel_id: uuid.UUID
) -> Channel:
    channel = await session.scalar(
        select(Channel).where(Channel.id == channel_id, Channel.workspace_id == workspace_id)
    )
    if channel is None:
        raise NotFound(f"No channel {channel_id} in this workspace.", field="channel_id")
    return channel


async def list_channels(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    limit: int | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[Channel]:
    query = select(Channel).where(Channel.workspace_id == workspace_id)
    if after is not None:
        query = query.where(tuple_(Channel.created_at, Channel.id) > tuple_(*after))
    rows = await session.scalars(query.order_by(Channel.created_at, Channel.id).limit(limit))
    return list(rows)


async def update_channel(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    channel_id: uuid.UUID,
    changes: dict[str, Any],
    outbox: Outbox,
) -> Channel:
    channel = await get_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    if "timezone" in changes:
        channel.timezone = check_timezone(changes["timezone"])
    if "name" in changes:
        channel.name = changes["name"]
    channel.updated_at = datetime.now(UTC)
    await session.flush()
    await outbox.add(
        session, Envelope.of(ChannelUpdated(**facts(channel)), workspace_id=workspace_id)
    )
    return channel


async def disconnect_channel(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    channel_id: uuid.UUID,
    outbox: Outbox,
    unsubscribe: Callable[[Channel], Awaitable[str | None]] | None = None,
    reason: str = "removed from the workspace",
) -> None:
    """Removes a channel, after asking its network to stop pushing its events."""
    channel = await get_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    if unsubscribe is not None:
        await unsubscribe(channel)
    await session.delete(channel)
    await session.flush()
    await outbox.add(
        session,
        Envelope.of(ChannelDisconnected(channel_id=channel.id, reason=reason),
                    workspace_id=workspace_id),
    )


async def mark_needs_reauth(
    session: AsyncSession, *, channel: Channel, reason: str, outbox: Outbox
) -> None:
    if channel.status == "needs_reauth":
        return
    channel.status, channel.status_reason = "needs_reauth", reason
    channel.updated_at = datetime.now(UTC)
    await session.flush()
    await outbox.add(
        session,
        Envelope.of(
            ChannelNeedsReauth(**facts(channel), reason=reason),
            workspace_id=channel.workspace_id,
        ),
    )
