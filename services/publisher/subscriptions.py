"""Keeping every channel subscribed to its network's webhooks.

A channel that connects gets a subscription row, due at once; the keeper subscribes it with
the network outside any transaction (X checks the callback with a CRC, the YouTube hub checks
intent with the inbox), records the answer, and tells everyone when the state changed. A
refused or failed subscription is retried with backoff; a leased one (YouTube) is renewed
before it lapses. Networks that cannot push are recorded as polled, once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters import Adapters
from services.publisher.adapters.base import NetworkError
from services.publisher.channels import unseal
from services.publisher.crypto import Keyring
from services.publisher.models import Channel, WebhookSubscription
from services.publisher.sending import ChannelGone, NeedsReauth, NetworkLoop
from services.publisher.settings import PublisherSettings
from services.publisher.webhook_calls import PUSH, TIKTOK_EVENTS, Refused, subscribe, unsubscribe
from shared.db import unit_of_work
from shared.events import ChannelSubscriptionChanged, Envelope
from shared.outbox import Outbox

log = logging.getLogger(__name__)

NOTIFY_SUBSCRIPTIONS = "publisher_subscriptions"


def callback_for(settings: PublisherSettings, network: str) -> str | None:
    base = settings.webhook_callback_url
    return f"{base.rstrip('/')}/{network}" if base else None


def polled(adapters: Adapters, network: str) -> bool:
    adapter = adapters.get(network)
    return bool(adapter is not None and adapter.polls_notifications)


def changed_event(row: WebhookSubscription, *, polled: bool) -> Envelope:
    return Envelope.of(
        ChannelSubscriptionChanged(
            channel_id=row.channel_id,
            network=row.network,
            state=row.state,  # type: ignore[arg-type]
            topics=list(row.topics),
            expires_at=row.expires_at,
            error=row.error,
            polled=polled,
        ),
        workspace_id=row.workspace_id,
    )


async def ensure_subscription(
    session: AsyncSession,
    *,
    channel: Channel,
    settings: PublisherSettings,
    adapters: Adapters,
    outbox: Outbox,
) -> WebhookSubscription:
    """A (re)connected channel is subscribed anew: due at once for pushing networks, recorded
    as polled or app-wide for the others."""
    row = await session.get(WebhookSubscription, channel.id, with_for_update=True)
    if row is None:
        row = WebhookSubscription(
            channel_id=channel.id,
            workspace_id=channel.workspace_id,
            network=channel.network,
            topics=[],
            attempts=0,
        )
        session.add(row)
    push = PUSH.get(channel.network, "polling")
    now = datetime.now(UTC)
    row.updated_at, row.error = now, None
    if push == "webhook":
        row.state, row.next_attempt_at, row.attempts = "pending", now, 0
        row.callback = callback_for(settings, channel.network)
        await session.flush()
        await session.execute(text(f"NOTIFY {NOTIFY_SUBSCRIPTIONS}"))
        return row
    row.state, row.next_attempt_at = push, None
    row.topics = TIKTOK_EVENTS if push == "app" else []
    await session.flush()
    await outbox.add(session, changed_event(row, polled=polled(adapters, channel.network)))
    return row


async def drop_subscription(
    session: AsyncSession,
    *,
    channel: Channel,
    adapters: Adapters,
    keyring: Keyring,
) -> str | None:
    """Unsubscribes a channel that is being removed; returns why that failed, if it did (the
    channel goes anyway: its token is no longer Herald's to use)."""
    row = await session.get(WebhookSubscription, channel.id)
    if row is None:
        return None
    await session.execute(
        delete(WebhookSubscription).where(WebhookSubscription.channel_id == channel.id)
    )
    adapter = adapters.get(channel.network)
    if row.state != "active" or adapter is None or not row.callback:
        return None
    try:
        await unsubscribe(
            adapter,
            unseal(channel, keyring=keyring),
            external_id=channel.external_id,
            callback=row.callback,
        )
    except (NetworkError, Refused) as exc:
        log.warning("unsubscribing channel %s failed: %s", channel.id, exc)
        return str(exc)
    return None


def view(row: WebhookSubscription | None, *, polled_network: bool) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "state": row.state,
        "topics": list(row.topics),
        "expires_at": row.expires_at,
        "error": row.error,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        # How new comments and messages reach the inbox right now.
        "delivery": "webhook"
        if row.state in ("active", "app")
        else ("polling" if polled_network else "none"),
    }


class SubscriptionKeeper(NetworkLoop):
    """Subscribes due channels, retries failures and renews leases, on every replica."""

    name = "webhook-subscriptions"
    wake_on = NOTIFY_SUBSCRIPTIONS

    @staticmethod
    def pace(settings: PublisherSettings) -> tuple[int, float]:
        return settings.subscription_batch, settings.subscription_poll_seconds

    def started(self) -> None:
        self.outcomes = self.runtime.metrics.counter(
            "herald_publisher_webhook_subscriptions_total",
            "Webhook subscription attempts by network and outcome",
            ["network", "outcome"],
        )

    async def step(self) -> int:
        return await self.run_once()

    async def run_once(self) -> int:
        claimed = await self.claim()
        for channel_id in claimed:
            await self.attempt(channel_id)
        return len(claimed)

    async def claim(self) -> list[uuid.UUID]:
        """Due rows, pushed into the future by a lease so no other replica takes them while
        the network is being called."""
        now = self.clock()
        async with unit_of_work(self.runtime.sessions) as session:
            rows = list(
                await session.scalars(
                    select(WebhookSubscription)
                    .where(WebhookSubscription.next_attempt_at <= now)
                    .order_by(WebhookSubscription.next_attempt_at)
                    .limit(self.settings.subscription_batch)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in rows:
                row.next_attempt_at = now + timedelta(seconds=self.settings.lease_seconds)
            return [row.channel_id for row in rows]

    async def attempt(self, channel_id: uuid.UUID) -> None:
        async with unit_of_work(self.runtime.sessions) as session:
            row = await session.get(WebhookSubscription, channel_id)
            channel = await session.get(Channel, channel_id)
            if row is None or channel is None:
                return
            network, external_id, callback = row.network, channel.external_id, row.callback
        adapter = self.adapters.get(network)
        error: str | None = None
        result = None
        retry = True
        lease = timedelta(seconds=self.settings.websub_lease_seconds)
        try:
            if adapter is None:
                raise Refused(f"{network} is not available on this Herald")
            if not callback:
                raise Refused(
                    "no webhook callback URL is configured (PUBLISHER_WEBHOOK_CALLBACK_URL)"
                )
            _, creds = await self.credentials.current(channel_id=channel_id, adapter=adapter)
            result = await subscribe(
                adapter, creds, external_id=external_id, callback=callback, lease=lease
            )
        except ChannelGone:
            return
        except NeedsReauth as exc:
            error, retry = f"the channel needs reconnecting: {exc}", False
        except Refused as exc:
            error, retry = str(exc), False
        except NetworkError as exc:
            error = f"{network} answered: {exc.message}"
        except Exception as exc:  # noqa: BLE001  anything else is a failure to retry
            error = f"{type(exc).__name__}: {exc}"
        await self.settle(channel_id, result=result, error=error, retry=retry, lease=lease)

    async def settle(
        self,
        channel_id: uuid.UUID,
        *,
        result: Any,
        error: str | None,
        retry: bool,
        lease: timedelta,
    ) -> None:
        now = self.clock()
        async with unit_of_work(self.runtime.sessions) as session:
            row = await session.get(WebhookSubscription, channel_id, with_for_update=True)
            if row is None:
                return  # disconnected meanwhile
            before = (row.state, row.error)
            row.updated_at = now
            if result is not None:
                row.state, row.error, row.attempts = "active", None, 0
                row.topics, row.expires_at, row.subscribed_at = (
                    result.topics,
                    result.expires_at,
                    now,
                )
                # A lease is renewed a fifth of its length (at most a day) before it ends.
                row.next_attempt_at = (
                    None
                    if result.expires_at is None
                    else (result.expires_at - min(timedelta(days=1), lease / 5))
                )
                self.outcomes.labels(row.network, "active").inc()
            else:
                row.state, row.error = "failed", error
                row.attempts += 1
                delay = min(
                    self.settings.subscription_retry_max_seconds,
                    self.settings.backoff_base_seconds * 2 ** (row.attempts - 1),
                )
                row.next_attempt_at = now + timedelta(seconds=delay) if retry else None
                self.outcomes.labels(row.network, "failed").inc()
            if (row.state, row.error) != before:
                await self.runtime.outbox.add(
                    session, changed_event(row, polled=polled(self.adapters, row.network))
                )
