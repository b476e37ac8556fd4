"""Carrying out the inbox's moderation requests on the networks (`comment.moderation_requested`
→ `comment.moderated`)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters import Adapters
from services.publisher.adapters.base import Adapter, NetworkError
from services.publisher.blocking import block
from services.publisher.budgets import take_or_wait
from services.publisher.sending import ChannelGone, Credentials, NeedsReauth
from services.publisher.settings import PublisherSettings
from services.publisher.webhook_calls import Refused, moderate
from shared.events import CommentModerated, CommentModerationRequested, Envelope
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)
# Worth another delivery of the request: the network may answer differently later.
RETRIED = frozenset({"transient", "rate_limited", "unknown_outcome"})


async def carry_out(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID | None,
    request: CommentModerationRequested,
    adapters: Adapters,
    credentials: Credentials,
    outbox: Outbox,
    causation_id: uuid.UUID,
    runtime: Runtime,
    settings: PublisherSettings,
) -> None:
    """Calls the network and records its answer. A transient failure raises, so the request
    is delivered again; hiding and deleting are idempotent on every network that offers them,
    so a repeat after an unknown outcome changes nothing."""
    adapter = adapters.get(request.network)
    outcome, error = "done", ""
    try:
        if adapter is None:
            raise Refused(f"{request.network} is not available on this Herald")
        channel, creds = await credentials.current(
            channel_id=request.channel_id, adapter=adapter
        )
        await take_or_wait(
            runtime,
            settings,
            network=request.network,
            channel_id=request.channel_id,
            action="reply",
        )
        try:
            await _act(adapter, creds, account_id=channel.external_id, request=request)
        except NetworkError as exc:
            if exc.error_class != "auth_expired":
                raise
            creds = await credentials.refresh(
                channel_id=request.channel_id, adapter=adapter, stale=creds
            )
            await _act(adapter, creds, account_id=channel.external_id, request=request)
    except Refused as exc:
        outcome, error = "refused", str(exc)
    except (NeedsReauth, ChannelGone) as exc:
        outcome, error = "failed", f"the channel cannot act: {exc}"
    except NetworkError as exc:
        if exc.error_class in RETRIED:
            raise
        outcome, error = "failed", f"{request.network} answered: {exc.message}"
    await outbox.add(
        session,
        Envelope.of(
            CommentModerated(
                moderation_id=request.moderation_id,
                message_id=request.message_id,
                conversation_id=request.conversation_id,
                channel_id=request.channel_id,
                network=request.network,
                external_id=request.external_id,
                action=request.action,
                outcome=outcome,
                error=error,  # type: ignore[arg-type]
                requested_by=request.requested_by,
                author_id=request.author_id,
            ),
            workspace_id=workspace_id,
            causation_id=causation_id,
        ),
    )


async def _act(
    adapter: Adapter,
    credentials: dict[str, Any],
    *,
    account_id: str,
    request: CommentModerationRequested,
) -> None:
    if request.action == "block":
        await block(adapter, credentials, account_id=account_id, person_id=request.author_id)
    else:
        await moderate(
            adapter, credentials, external_id=request.external_id, action=request.action
        )
