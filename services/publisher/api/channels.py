"""Channels: connected network accounts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from services.publisher import channels, oauth, subscriptions
from services.publisher.answers import audited, connected, out
from services.publisher.api.deps import (
    AdaptersDep,
    KeyringDep,
    ManagerDep,
    ReaderDep,
    SettingsDep,
)
from services.publisher.models import Channel, WebhookSubscription
from services.publisher.schemas import (
    ChannelIn,
    ChannelList,
    ChannelOut,
    ChannelPatch,
)
from shared.pagination import decode_cursor, encode_cursor
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/channels", tags=["channels"])


@router.post("", response_model=ChannelOut, status_code=201)
async def connect(
    body: ChannelIn,
    principal: ManagerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    adapters: AdaptersDep,
    keyring: KeyringDep,
    settings: SettingsDep,
    response: Response,
) -> ChannelOut:
    channel, created = await channels.connect_channel(
        session,
        workspace_id=principal.workspace_id,
        network=body.network,
        credentials=body.credentials,
        name=body.name,
        timezone=body.timezone or principal.timezone,
        adapters=adapters,
        keyring=keyring,
        outbox=runtime.outbox,
    )
    if not created:
        response.status_code = 200
    return await connected(
        session, runtime, principal, channel, created=created, settings=settings, adapters=adapters
    )


@router.get("/connect/{network}")
async def connect_oauth(
    network: str,
    redirect_uri: str,
    principal: ManagerDep,
    session: SessionDep,
    adapters: AdaptersDep,
    settings: SettingsDep,
    keyring: KeyringDep,
    instance: Annotated[str | None, Query(max_length=300)] = None,
) -> dict[str, str]:
    """`instance` (Mastodon): the https URL of the account's instance; Herald registers its
    app there (`POST /api/v1/apps`) for this connection, so any instance works."""
    url = await oauth.start(
        session,
        workspace_id=principal.workspace_id,
        network=network,
        redirect_uri=redirect_uri,
        adapters=adapters,
        settings=settings,
        keyring=keyring,
        instance=instance,
    )
    return {"authorize_url": url}


@router.get("/callback/{network}", response_model=ChannelOut, status_code=201)
async def oauth_callback(
    network: str,
    code: str,
    state: str,
    principal: ManagerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    adapters: AdaptersDep,
    keyring: KeyringDep,
    settings: SettingsDep,
    response: Response,
) -> ChannelOut:
    channel, created = await oauth.finish(
        session,
        workspace_id=principal.workspace_id,
        network=network,
        code=code,
        state=state,
        timezone=principal.timezone,
        adapters=adapters,
        keyring=keyring,
        outbox=runtime.outbox,
    )
    if not created:
        response.status_code = 200
    return await connected(
        session, runtime, principal, channel, created=created, settings=settings, adapters=adapters
    )


@router.get("", response_model=ChannelList)
async def list_channels(
    principal: ReaderDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ChannelList:
    """Connected channels, oldest first, a page at a time."""
    rows = await channels.list_channels(
        session,
        workspace_id=principal.workspace_id,
        limit=limit + 1,
        after=decode_cursor(cursor),
    )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return ChannelList(items=[out(c) for c in page], next_cursor=next_cursor)


@router.get("/{channel_id}", response_model=ChannelOut)
async def get_channel(
    channel_id: UUID, principal: ReaderDep, session: SessionDep, adapters: AdaptersDep
) -> ChannelOut:
    """The channel with its webhook subscription: its state, what it covers, until when,
    the last error, and how its comments and messages reach the inbox right now."""
    channel = await channels.get_channel(
        session, workspace_id=principal.workspace_id, channel_id=channel_id
    )
    row = await session.get(WebhookSubscription, channel.id)
    return out(channel, row, adapters=adapters)


@router.patch("/{channel_id}", response_model=ChannelOut)
async def update_channel(
    channel_id: UUID,
    body: ChannelPatch,
    principal: ManagerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ChannelOut:
    channel = await channels.update_channel(
        session,
        workspace_id=principal.workspace_id,
        channel_id=channel_id,
        changes=body.model_dump(exclude_unset=True, exclude_none=True),
        outbox=runtime.outbox,
    )
    await audited(
        session,
        runtime,
        principal,
        "channel.updated",
        channel.id,
        **body.model_dump(mode="json", exclude_unset=True, exclude_none=True),
    )
    return out(channel)


@router.delete("/{channel_id}", status_code=204)
async def disconnect(
    channel_id: UUID,
    principal: ManagerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    adapters: AdaptersDep,
    keyring: KeyringDep,
) -> Response:
    async def unsubscribe(channel: Channel) -> str | None:
        return await subscriptions.drop_subscription(
            session, channel=channel, adapters=adapters, keyring=keyring
        )

    await channels.disconnect_channel(
        session,
        workspace_id=principal.workspace_id,
        channel_id=channel_id,
        outbox=runtime.outbox,
        unsubscribe=unsubscribe,
    )
    await audited(session, runtime, principal, "channel.disconnected", channel_id)
    return Response(status_code=204)
