"""Fetching posts' numbers for the metrics service (`metrics.collect` → `metrics.fetched`)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

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
    that is gone or waiting for reauthorisation has nothing to report."""
    adapter = adapters.get(request.network)
    if adapter is None or not request.posts:
        return
    try:
        channel, creds = await credentials.current(channel_id=request.channel_id, adapter=adapter)
        ref = ChannelRef(external_id=channel.external_id, username=channel.username)
        await take_or_wait(
            runtime, settings, network=request.network, channel_id=request.channel_id, action="read"
        )
        by_id = {item.external_id: item for item in request.posts}
        try:
            found = await adapter.insights(creds, channel=ref, external_ids=list(by_id))
        except NetworkError as exc:
            if exc.error_class != "auth_expired":
                raise
            creds = await credentials.refresh(
                channel_id=request.channel_id, adapter=adapter, stale=creds
            )
            found = await adapter.insights(creds, channel=ref, external_ids=list(by_id))
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
    await outbox.add(
        session,
        Envelope.of(
            MetricsFetched(channel_id=request.channel_id, network=request.network, samples=samples),
            workspace_id=workspace_id,
            causation_id=causation_id,
        ),
    )
