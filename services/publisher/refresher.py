"""Renewing every channel's token before it ends, whether the channel publishes or not.

Without this a token is only refreshed when a publish, a reply or a poll needs it, so an idle
channel (or one only heard through webhooks) dies quietly. Each pass renews the tokens near
their end: within `refresh_ahead_seconds`, or, for long-lived tokens (Meta's and LinkedIn's
60 days), within `expiring_warn_days`, so a failure leaves days to act. A token that cannot be
renewed is announced with `channel.expiring` once per end; one the network refuses marks the
channel `needs_reauth` (and says so with `channel.needs_reauth`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from services.publisher.adapters.base import NetworkError
from services.publisher.channels import facts, unseal
from services.publisher.models import Channel
from services.publisher.sending import ChannelGone, NeedsReauth, NetworkLoop
from services.publisher.settings import PublisherSettings
from shared.db import unit_of_work
from shared.events import ChannelExpiring, Envelope

log = logging.getLogger(__name__)

NOTIFY_REFRESHER = "publisher_refresher"


class TokenRefresher(NetworkLoop):
    """Renews tokens before they run out, and warns about those that cannot be renewed."""

    name = "token-refresher"
    wake_on = NOTIFY_REFRESHER

    @staticmethod
    def pace(settings: PublisherSettings) -> tuple[int, float]:
        return 1, settings.refresher_poll_seconds

    def started(self) -> None:
        self.renewals = self.runtime.metrics.counter(
            "herald_publisher_token_renewals_total",
            "Tokens the refresher looked at, by network and outcome (renewed, cannot, "
            "refused, error)",
            ["network", "outcome"],
        )

    async def step(self) -> int:
        await self.run_once()
        # One pass per pause: every token due now was looked at.
        return 0

    async def run_once(self) -> dict[uuid.UUID, str]:
        """Renews what is due and warns about what cannot be; returns each channel's outcome."""
        now = self.clock()
        warn = timedelta(days=self.settings.expiring_warn_days)
        soon = timedelta(seconds=self.settings.refresh_ahead_seconds)
        async with unit_of_work(self.runtime.sessions) as session:
            rows = (
                await session.execute(
                    select(
                        Channel.id, Channel.network, Channel.token_expires_at, Channel.updated_at
                    )
                    .where(Channel.status == "active", Channel.token_expires_at <= now + warn)
                    .order_by(Channel.token_expires_at)
                    .limit(200)
                )
            ).all()
        outcomes: dict[uuid.UUID, str] = {}
        for channel_id, network, expires_at, updated_at in rows:
            lifetime = expires_at - updated_at
            # Short-lived tokens (hours) are renewed near their end; long-lived ones (weeks)
            # as soon as they enter the warning window.
            if expires_at - now > soon and lifetime < 2 * warn:
                continue
            outcomes[channel_id] = await self.renew(channel_id, network)
        await self.warn_expiring(now=now, window=warn, outcomes=outcomes)
        return outcomes

    async def renew(self, channel_id: uuid.UUID, network: str) -> str:
        adapter = self.adapters.get(network)
        if adapter is None:
            return "cannot"
        async with unit_of_work(self.runtime.sessions) as session:
            channel = await session.get(Channel, channel_id)
            if channel is None or channel.status != "active":
                return "gone"
            stale = unseal(channel, keyring=self.credentials.keyring)
        try:
            fresh = await self.credentials.refresh(
                channel_id=channel_id, adapter=adapter, stale=stale, ahead=True
            )
        except (NeedsReauth, ChannelGone):
            outcome = "refused"
        except NetworkError as exc:
            log.warning("renewing the token of channel %s failed: %s", channel_id, exc)
            outcome = "error"
        else:
            outcome = (
                "renewed" if fresh.get("access_token") != stale.get("access_token") else ("cannot")
            )
        self.renewals.labels(network, outcome).inc()
        return outcome

    async def warn_expiring(
        self, *, now: datetime, window: timedelta, outcomes: dict[uuid.UUID, str]
    ) -> list[uuid.UUID]:
        """`channel.expiring` once per end for active channels whose token ends within the
        window and was not renewed by this pass; returns the channels warned."""
        warned: list[uuid.UUID] = []
        async with unit_of_work(self.runtime.sessions) as session:
            channels = await session.scalars(
                select(Channel)
                .where(
                    Channel.status == "active",
                    Channel.token_expires_at <= now + window,
                    Channel.token_expires_at > now,
                    or_(
                        Channel.expiry_warned_for.is_(None),
                        Channel.expiry_warned_for != Channel.token_expires_at,
                    ),
                )
                .with_for_update(skip_locked=True)
            )
            for channel in channels:
                outcome = outcomes.get(channel.id)
                if outcome not in ("cannot", "error"):
                    continue
                assert channel.token_expires_at is not None
                left = channel.token_expires_at - now
                reason = (
                    f"{channel.network} gives no way to renew this token; reconnect the channel"
                    if outcome == "cannot"
                    else f"renewing the token with {channel.network} keeps failing"
                )
                channel.expiry_warned_for = channel.token_expires_at
                warned.append(channel.id)
                await self.runtime.outbox.add(
                    session,
                    Envelope.of(
                        ChannelExpiring(
                            **facts(channel),
                            expires_at=channel.token_expires_at,
                            days_left=left.days,
                            reason=reason,
                        ),
                        workspace_id=channel.workspace_id,
                    ),
                )
        return warned
