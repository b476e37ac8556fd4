"""Polling a channel's notifications for the inbox (`inbox.fetch` → `inbox.fetched`)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters import Adapters
from services.publisher.adapters.base import ChannelRef, NetworkError
from services.publisher.budgets import take_or_wait
from services.publisher.models import InboxCursor
from services.publisher.sending import ChannelGone, Credentials, NeedsReauth
from services.publisher.settings import PublisherSettings
from shared.events import Envelope, FetchedItem, InboxFetch, InboxFetched
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)


async def fetch_inbox(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID | None,
    request: InboxFetch,
    adapters: Adapters,
    credentials: Credentials,
    outbox: Outbox,
    causation_id: uuid.UUID,
    runtime: Runtime,
    settings: PublisherSettings,
) -> None:
    """Reads from the stored cursor; the new cursor and the event commit together, so a crash
    before the commit reads the same items again and one after it never does."""
    adapter = adapters.get(request.network)
    if adapter is None or not adapter.polls_notifications:
        log.info("%s has no notifications to poll", request.network)
        return
    stored = await session.scalar(
        select(InboxCursor).where(InboxCursor.channel_id == request.channel_id).with_for_update()
    )
    cursor = stored.cursor if stored else None
    try:
        channel, creds = await credentials.current(channel_id=request.channel_id, adapter=adapter)
        ref = ChannelRef(external_id=channel.external_id, username=channel.username)
        await take_or_wait(
            runtime, settings, network=request.network, channel_id=request.channel_id, action="read"
        )
        try:
            items, new_cursor = await adapter.notifications(creds, channel=ref, cursor=cursor)
        except NetworkError as exc:
            if exc.error_class != "auth_expired":
                raise
            creds = await credentials.refresh(
                channel_id=request.channel_id, adapter=adapter, stale=creds
            )
            items, new_cursor = await adapter.notifications(creds, channel=ref, cursor=cursor)
    except (ChannelGone, NeedsReauth) as exc:
        log.info("no polling for channel %s: %s", request.channel_id, exc)
        return
    now = datetime.now(UTC)
    await session.execute(
        pg_insert(InboxCursor)
        .values(channel_id=request.channel_id, cursor=new_cursor, updated_at=now)
        .on_conflict_do_update(
            index_elements=[InboxCursor.channel_id], set_={"cursor": new_cursor, "updated_at": now}
        )
    )
    await outbox.add(
        session,
        Envelope.of(
            InboxFetched(
                channel_id=request.channel_id,
                network=request.network,
                cursor=new_cursor,
                items=[
                    FetchedItem(
                        external_id=i.external_id,
                        kind=i.kind,
                        text=i.text,
                        author_id=i.author_id,
                        author_name=i.author_name,
                        created_at=i.created_at,
                        parent_external_id=i.parent_external_id,
                        post_external_id=i.post_external_id,
                        raw=i.raw,
                    )
                    for i in items
                ],
            ),
            workspace_id=workspace_id,
            causation_id=causation_id,
        ),
    )
