"""The channels a workspace may target: a read model of the publisher's `channel.*` events."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from uuid import UUID

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.models import Channel

# Where the bench and tests have always found it.
from services.scheduler.readmodels import record_channel as record_channel
from shared.auth import (
    INTERNAL_TOKEN_HEADER,
    PRINCIPAL_HEADER,
    ROLE_HEADER,
    TIMEZONE_HEADER,
    WORKSPACE_HEADER,
    Principal,
)
from shared.errors import NotFound

log = logging.getLogger(__name__)


def caller_headers(principal: Principal, *, internal_token: str) -> dict[str, str]:
    """The caller's identity as the publisher reads it, so it answers for that workspace and
    role only."""
    return {
        INTERNAL_TOKEN_HEADER: internal_token,
        WORKSPACE_HEADER: str(principal.workspace_id),
        ROLE_HEADER: principal.role,
        PRINCIPAL_HEADER: principal.principal_id,
        TIMEZONE_HEADER: principal.timezone,
    }


@dataclass(frozen=True)
class ChannelLookup:
    """Asks the publisher about a channel the read model has not heard of yet.

    The caller's identity is forwarded, so the publisher answers only for channels of the
    caller's workspace: a 200 is proof of ownership, anything else means "not yours".
    """

    publisher_url: str
    internal_token: str
    timeout: float = 5.0

    async def fetch(self, *, channel_id: UUID, principal: Principal) -> dict[str, str] | None:
        headers = caller_headers(principal, internal_token=self.internal_token)
        url = f"{self.publisher_url.rstrip('/')}/v1/channels/{channel_id}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            # The publisher being away must not block planning for known channels; an
            # unknown one is then refused like any other unknown channel.
            log.warning("channel lookup for %s failed: %s", channel_id, exc)
            return None
        if response.status_code != 200:
            return None
        body = response.json()
        if not isinstance(body, dict) or str(body.get("id")) != str(channel_id):
            return None
        return body


async def channels_for(
    session: AsyncSession,
    *,
    principal: Principal,
    channel_ids: list[UUID],
    lookup: ChannelLookup | None,
) -> dict[UUID, Channel]:
    """The caller's channels among `channel_ids`; others (unknown, foreign) are left out.

    A channel missing from the read model is looked up once over HTTP and remembered, so a
    post created a moment after `POST /v1/channels` does not race the `channel.connected`
    event.
    """
    rows = (await session.scalars(select(Channel).where(Channel.id.in_(channel_ids)))).all()
    found = {row.id: row for row in rows}
    missing = [c for c in channel_ids if c not in found] if lookup is not None else []
    # Asked all at once: a post may name up to 50 channels, one after the other took seconds.
    bodies = await asyncio.gather(
        *(lookup.fetch(channel_id=c, principal=principal) for c in missing if lookup)
    )
    for channel_id, body in zip(missing, bodies, strict=True):
        if body is None or not body.get("network"):
            continue
        await session.execute(
            pg_insert(Channel)
            .values(
                id=channel_id,
                workspace_id=principal.workspace_id,
                network=str(body["network"]),
                external_id=str(body.get("external_id") or ""),
                name=str(body.get("name") or ""),
                timezone=str(body.get("timezone") or ""),
                status=str(body.get("status") or "active"),
                disconnected=False,
            )
            # The event may have landed meanwhile; it is the better source, keep it.
            .on_conflict_do_nothing(index_elements=[Channel.id])
        )
        channel = await session.get(Channel, channel_id, populate_existing=True)
        if channel is not None:
            found[channel_id] = channel
    return {
        channel_id: channel
        for channel_id, channel in found.items()
        if channel.workspace_id == principal.workspace_id and not channel.disconnected
    }


async def channel_of(
    session: AsyncSession, *, principal: Principal, channel_id: UUID, lookup: ChannelLookup
) -> Channel:
    found = await channels_for(
        session, principal=principal, channel_ids=[channel_id], lookup=lookup
    )
    if channel_id not in found:
        raise NotFound(f"No channel {channel_id} in this workspace.", field="channel_id")
    return found[channel_id]
