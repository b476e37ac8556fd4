"""What the metrics tests share: an app without background loops, and ways to feed it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.metrics.app import create_app
from services.metrics.ingest import IngestResult, ingest_fetched
from services.metrics.models import BUS
from services.metrics.settings import MetricsSettings
from services.metrics.tracking import record_channel, track_published_post
from shared.db import unit_of_work
from shared.events import ChannelConnected, Envelope, MetricsFetched, PostPublished, Sample
from shared.service import Runtime
from tests.support.servers import lifespan


@contextlib.asynccontextmanager
async def quiet_app(make_settings: Any, **overrides: Any) -> AsyncIterator[
    tuple[FastAPI, Runtime, httpx.AsyncClient]
]:
    """The app with its loops off: tests drive the domain functions and the API themselves."""
    settings = make_settings(MetricsSettings, run_workers=False, **overrides)
    app = create_app(settings)
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            yield app, app.state.runtime, client


async def connect_channel(
    runtime: Runtime, *, workspace: uuid.UUID, network: str = "x", timezone: str = "UTC",
    now: datetime,
) -> uuid.UUID:
    channel_id = uuid.uuid4()
    async with unit_of_work(runtime.sessions) as session:
        await record_channel(
            session, workspace_id=workspace, now=now, facts_at=now,
            facts=ChannelConnected(channel_id=channel_id, network=network, external_id="acct",
                                   name="Acct", timezone=timezone, status="active"),
        )
    return channel_id


async def publish(
    runtime: Runtime, *, workspace: uuid.UUID, channel_id: uuid.UUID, network: str = "x",
    published_at: datetime, now: datetime | None = None, campaign: str | None = None,
    tags: list[str] | None = None, post_id: uuid.UUID | None = None, text: str | None = None,
) -> PostPublished:
    published = PostPublished(
        post_id=post_id or uuid.uuid4(), target_id=uuid.uuid4(), channel_id=channel_id,
        network=network, external_id=uuid.uuid4().hex[:12], published_at=published_at,
        campaign=campaign, tags=tags or [], text=text,
    )
    async with unit_of_work(runtime.sessions) as session:
        await track_published_post(
            session, workspace_id=workspace, published=published, now=now or published_at
        )
    return published


async def feed(
    runtime: Runtime, *, workspace: uuid.UUID, channel_id: uuid.UUID, network: str,
    samples: list[Sample], now: datetime, account_hours: float = 24.0,
) -> IngestResult:
    async with unit_of_work(runtime.sessions) as session:
        return await ingest_fetched(
            session, workspace_id=workspace, now=now,
            fetched=MetricsFetched(channel_id=channel_id, network=network, samples=samples),
            account_interval=timedelta(hours=account_hours),
        )


def sample(
    post: PostPublished | None, network_metric: str, value: float | None, at: datetime,
    metric: str = "",
) -> Sample:
    return Sample(
        external_id=post.external_id if post else None, metric=metric or network_metric,
        network_metric=network_metric, value=value, collected_at=at,
    )


async def outbox_events(runtime: Runtime, event_type: str) -> list[Envelope]:
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(BUS.outbox.c.body)
                .where(BUS.outbox.c.routing_key == event_type)
                .order_by(BUS.outbox.c.id)
            )
        ).all()
    return [Envelope.model_validate_json(row.body) for row in rows]


async def clear_outbox(runtime: Runtime) -> None:
    async with unit_of_work(runtime.sessions) as session:
        await session.execute(BUS.outbox.delete())
