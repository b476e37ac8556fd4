"""Fetching posts' and accounts' numbers for the metrics service (`metrics.collect` →
`metrics.fetched`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.adapters import Adapters
from services.publisher.adapters.base import ChannelRef, NetworkError
from services.publisher.budgets import take_or_wait
from services.publisher.sending import ChannelGone, Credentials, NeedsReauth
from services.publisher.settings import PublisherSettings
from shared.events import Envelope, MetricsCollect, MetricsFetched, Sample
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)

T = TypeVar("T")


# The common vocabulary's account-level names (the metrics service's ACCOUNT_METRICS). An
# account request always answers each of them, with None where the network gave no number, so
# the metrics service sees the request answered and records the gap as missing, never as 0.
ACCOUNT_METRICS: tuple[str, ...] = ("followers",)


async def collect_metrics(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID | None,
    request: MetricsCollect,
    adapters: Adapters,
    credentials: Credentials,
    outbox: Outbox,
    causation_id: uuid.UUID,
    runtime: Runtime,
    settings: PublisherSettings,
) -> None:
    """Reads are safe to repeat, so the network is asked right here: a redelivery after a
    failure simply asks again. Transient errors raise (the message is retried); a channel
    that is gone or waiting for reauthorisation has nothing to report.

    One request may ask for posts' numbers, the account's numbers (followers), or both; all
    of them go back in one `metrics.fetched`."""
    adapter = adapters.get(request.network)
    if adapter is None or not (request.posts or request.account):
        return
    by_id = {item.external_id: item for item in request.posts}
    found: dict[str, dict[str, tuple[str, float | None]]] = {}
    account: dict[str, tuple[str, float]] = {}
    try:
        channel, creds = await credentials.current(channel_id=request.channel_id, adapter=adapter)
        ref = ChannelRef(external_id=channel.external_id, username=channel.username)

        async def read(call: Callable[[dict[str, Any]], Awaitable[T]]) -> T:
            """One read against the channel's budget, once more with refreshed credentials
            when the network says they expired."""
            nonlocal creds
            await take_or_wait(
                runtime,
                settings,
                network=request.network,
                channel_id=request.channel_id,
                action="read",
            )
            try:
                return await call(creds)
            except NetworkError as exc:
                if exc.error_class != "auth_expired":
                    raise
                creds = await credentials.refresh(
                    channel_id=request.channel_id, adapter=adapter, stale=creds
                )
                return await call(creds)

        if by_id:
            found = await read(lambda c: adapter.insights(c, channel=ref, external_ids=list(by_id)))
        if request.account:
            account = await read(lambda c: adapter.account_numbers(c, channel=ref))
    except (ChannelGone, NeedsReauth) as exc:
        log.info("no metrics for channel %s: %s", request.channel_id, exc)
        return
    now = datetime.now(UTC)
    samples = [
        Sample(
            post_id=by_id[external_id].post_id,
            external_id=external_id,
            metric=metric,
            network_metric=network_metric,
            value=value,
            collected_at=now,
        )
        for external_id, metrics in found.items()
        if external_id in by_id
        for metric, (network_metric, value) in metrics.items()
    ]
    if request.account:
        samples.extend(account_samples(account, collected_at=now))
    await outbox.add(
        session,
        Envelope.of(
            MetricsFetched(channel_id=request.channel_id, network=request.network, samples=samples),
            workspace_id=workspace_id,
            causation_id=causation_id,
        ),
    )


def account_samples(
    numbers: dict[str, tuple[str, float]], *, collected_at: datetime
) -> list[Sample]:
    """Account samples (no post) for what the network gave, and a None sample for each
    account metric it did not give."""
    samples = [
        Sample(metric=metric, network_metric=network_metric, value=value, collected_at=collected_at)
        for metric, (network_metric, value) in numbers.items()
    ]
    samples.extend(
        Sample(metric=metric, network_metric=metric, value=None, collected_at=collected_at)
        for metric in ACCOUNT_METRICS
        if metric not in numbers
    )
    return samples
