from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.publisher.settings import PublisherSettings
from tests.publisher.support import network_apps, running_sandbox


@pytest.fixture
async def sandbox_url() -> AsyncIterator[str]:
    async with running_sandbox() as url:
        yield url


@pytest.fixture
async def publisher_settings(
    make_settings: Callable[..., Any], sandbox_url: str
) -> Callable[..., PublisherSettings]:
    apps = await network_apps(sandbox_url, "x", "mastodon", "bluesky", "facebook")

    def build(**overrides: Any) -> PublisherSettings:
        values: dict[str, Any] = {
            "sandbox_url": sandbox_url,
            "network_apps": apps,
            "poll_seconds": 0.2,
            "backoff_base_seconds": 0.2,
            "backoff_max_seconds": 1.0,
            "http_timeout_seconds": 5.0,
            "lease_seconds": 10.0,
        }
        values.update(overrides)
        settings: PublisherSettings = make_settings(PublisherSettings, **values)
        return settings

    return build
