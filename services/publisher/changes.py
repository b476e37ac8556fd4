"""Edits and deletes of published targets on their networks (`target.edit_requested`,
`target.delete_requested` → `target.changed`).

A request is recorded once per `request_id` by the consumer; `ChangeLoop` carries it out
outside any message or transaction (a slow network holds neither), retries what may go better
later with the publishing backoff, and answers through the outbox once the network has said
yes or no.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters.base import NetworkError
from services.publisher.jobs import backoff_delay
from services.publisher.models import TargetChange
from services.publisher.sending import ChannelGone, NeedsReauth, NetworkLoop
from services.publisher.webhook_calls import Refused
from shared.db import unit_of_work
from shared.events import Envelope, TargetChanged, TargetDeleteRequested, TargetEditRequested
from shared.networks.rules import UnknownNetwork, rules_for

log = logging.getLogger(__name__)

NOTIFY_CHANGES = "publisher_changes"
# Worth another attempt: the network may answer differently later. Repeating an edit or a
# delete changes nothing more, so an unknown outcome is simply tried again.
RETRIED = frozenset({"transient", "rate_limited", "unknown_outcome"})
EDITABLE = ("text", "title", "description")


async def record_change(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    request: TargetEditRequested | TargetDeleteRequested,
    correlation_id: str | None,
    now: datetime,
) -> bool:
    """Records the request once (by `request_id`) and wakes the loop; False for a request
    already held (a redelivery)."""
    if isinstance(request, TargetEditRequested):
        action = "edit"
        changes = {f: getattr(request, f) for f in EDITABLE if getattr(request, f) is not None}
    else:
        action, changes = "delete", {}
    inserted = await session.scalar(
        pg_insert(TargetChange)
        .values(
            request_id=request.request_id,
            action=action,
            workspace_id=workspace_id,
            post_id=request.post_id,
            target_id=request.target_id,
            channel_id=request.channel_id,
            network=request.network,
            external_id=request.external_id,
            changes=changes,
            correlation_id=correlation_id,
            status="pending",
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[TargetChange.request_id])
        .returning(TargetChange.request_id)
    )
    if inserted is None:
        return False
    await session.execute(text(f"NOTIFY {NOTIFY_CHANGES}"))
    return True


def refusal(network: str, action: str, changes: dict[str, Any]) -> str | None:
    """Why `network` cannot do this after publishing, or None when it can."""
    try:
        features = rules_for(network).features
    except UnknownNetwork:
        return f"{network} is not a network Herald knows"
    if action == "delete":
        return None if features.delete_after_publish else (
            f"{network} does not let an author delete a published post"
        )
    if not features.edit_after_publish:
        return f"{network} does not let an author edit a published post"
    fixed = sorted(set(changes) - set(features.edit_after_publish))
    if fixed:
        return f"{network} does not let an author change {', '.join(fixed)} after publishing"
    if not changes:
        return "the edit changes nothing"
    return None


@dataclass(frozen=True)
class Change:
    """A claimed request, read out of its row (the row's session is closed by then)."""

    request_id: uuid.UUID
    action: str
    channel_id: uuid.UUID
    network: str
    external_id: str
    changes: dict[str, Any]
    attempts: int


class ChangeLoop(NetworkLoop):
    name = "target-changes"
    wake_on = NOTIFY_CHANGES

    async def step(self) -> int:
        async with unit_of_work(self.runtime.sessions) as session:
            claimed = await self.claim(session)
        await asyncio.gather(*(self.settle(change) for change in claimed))
        return len(claimed)

    async def claim(self, session: AsyncSession) -> list[Change]:
        """Due requests, and those a replica that stopped mid-call left `working`."""
        now = self.clock()
        rows = list(
            await session.scalars(
                select(TargetChange)
                .where(
                    or_(
                        and_(TargetChange.status == "pending",
                             TargetChange.next_attempt_at <= now),
                        and_(TargetChange.status == "working", TargetChange.lease_until < now),
                    )
                )
                .order_by(TargetChange.next_attempt_at)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.status = "working"
            row.attempts += 1
            row.lease_until = now + timedelta(seconds=self.settings.lease_seconds)
            row.updated_at = now
        return [
            Change(
                request_id=row.request_id,
                action=row.action,
                channel_id=row.channel_id,
                network=row.network,
                external_id=row.external_id,
                changes=dict(row.changes),
                attempts=row.attempts,
            )
            for row in rows
        ]

    async def settle(self, change: Change) -> None:
        error: str | None = None
        try:
            await self.carry_out(change)
        except Refused as exc:
            error = str(exc)
        except (NeedsReauth, ChannelGone) as exc:
            error = f"the channel cannot act: {exc}"
        except NetworkError as exc:
            if exc.error_class in RETRIED and change.attempts < self.settings.max_attempts:
                await self.retry(change, exc)
                return
            error = f"{change.network} answered: {exc.message}"
        except Exception as exc:  # noqa: BLE001  (an adapter bug must not lose the request)
            log.exception("changing %s failed unexpectedly", change.request_id)
            error = f"unexpected error: {exc!r}"
        await self.answer(change, error)

    async def carry_out(self, change: Change) -> None:
        reason = refusal(change.network, change.action, change.changes)
        adapter = self.adapters.get(change.network)
        if reason is None and adapter is None:
            reason = f"{change.network} is not available on this Herald"
        if reason is not None or adapter is None:
            raise Refused(reason)
        _, creds = await self.credentials.current(channel_id=change.channel_id, adapter=adapter)
        for attempt in range(2):
            try:
                if change.action == "edit":
                    await adapter.edit(creds, change.external_id, change.changes)
                else:
                    await adapter.delete(creds, change.external_id)
                return
            except NetworkError as exc:
                if exc.error_class != "auth_expired" or attempt:
                    raise
                # An expired-token answer: refresh once and try again with the new token.
                creds = await self.credentials.refresh(
                    channel_id=change.channel_id, adapter=adapter, stale=creds
                )

    async def retry(self, change: Change, error: NetworkError) -> None:
        delay = backoff_delay(
            attempts=change.attempts,
            base=self.settings.backoff_base_seconds,
            cap=self.settings.backoff_max_seconds,
            retry_after=error.retry_after,
        )
        async with unit_of_work(self.runtime.sessions) as session:
            row = await session.get(TargetChange, change.request_id, with_for_update=True)
            if row is None or row.status != "working":
                return
            now = self.clock()
            row.status, row.error = "pending", error.message
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.lease_until = None
            row.updated_at = now

    async def answer(self, change: Change, error: str | None) -> None:
        """Settles the request and says so (`target.changed`), in one transaction."""
        async with unit_of_work(self.runtime.sessions) as session:
            row = await session.get(TargetChange, change.request_id, with_for_update=True)
            if row is None or row.status != "working":
                return
            now = self.clock()
            row.status, row.ok, row.error = "done", error is None, error
            row.lease_until = None
            row.updated_at = now
            await self.runtime.outbox.add(
                session,
                Envelope.of(
                    TargetChanged(
                        post_id=row.post_id,
                        target_id=row.target_id,
                        request_id=row.request_id,
                        action=row.action,
                        ok=error is None,
                        error=error,
                        at=now,
                    ),
                    workspace_id=row.workspace_id,
                    correlation_id=row.correlation_id,
                ),
            )
