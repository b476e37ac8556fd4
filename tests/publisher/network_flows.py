"""The publisher run against the sandbox for one network: the settings fixture with the
networks' apps, a running publisher with a connected channel, a due post, fault counters."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.publisher.app import create_app
from services.publisher.models import PublishJob
from shared.events import Envelope, MediaItem
from tests.publisher.support import (
    Tap,
    network_apps,
    post_due,
    send,
    wait_consuming,
)
from tests.publisher.test_publishing import connect
from tests.support.servers import lifespan
from tests.support.waits import until

TIKTOK_PUBLIC = {"privacy_level": "PUBLIC_TO_EVERYONE"}


@pytest.fixture
async def settings(publisher_settings, sandbox_url):
    apps = await network_apps(sandbox_url, "linkedin", "tiktok", "youtube")
    return publisher_settings(network_apps=apps)


def video(sandbox_url: str) -> MediaItem:
    return MediaItem(url=f"{sandbox_url}/_sandbox/media/sample.mp4", kind="video")


def image(sandbox_url: str, name: str = "sample.jpg", alt: str | None = None) -> MediaItem:
    return MediaItem(url=f"{sandbox_url}/_sandbox/media/{name}", kind="image", alt=alt)


@contextlib.asynccontextmanager
async def running(
    settings, sandbox_url: str, network: str, *, queues=("posts",), events=("post.*",)
) -> AsyncIterator[tuple[Any, Tap, dict[str, Any], uuid.UUID]]:
    app = create_app(settings)
    workspace = uuid.uuid4()
    async with Tap(settings.exchange_name, list(events)) as tap, lifespan(app):
        for queue in queues:
            await wait_consuming(app, settings.queue_name(queue))
        channel = await connect(app, sandbox_url, workspace, network=network)
        yield app, tap, channel, workspace


async def due(settings, workspace: uuid.UUID, channel: dict[str, Any], text: str, **extra: Any):
    item = post_due(channel=channel, text=text, **extra)
    await send(settings.exchange_name, Envelope.of(item, workspace_id=workspace))
    return item


async def fired(sandbox_url: str) -> list[int]:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        rules = (await client.get("/_sandbox/faults")).json()["rules"]
        return [rule["fired"] for rule in rules]


async def job_where(app, *conditions) -> PublishJob:
    """The first publish job that meets `conditions`, once there is one."""

    async def first() -> PublishJob | None:
        async with app.state.runtime.sessions() as session:
            query = sa.select(PublishJob).where(*conditions)
            return (await session.execute(query)).scalars().first()

    job: PublishJob = await until(first, timeout=20, every=0.1, what="the publish job")
    return job
