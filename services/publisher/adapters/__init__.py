"""The network adapters, one per network, sharing one pooled HTTP client."""

from __future__ import annotations

import httpx

from services.publisher.adapters.base import Adapter, Outbound
from services.publisher.adapters.bluesky import BlueskyAdapter
from services.publisher.adapters.facebook import FacebookAdapter
from services.publisher.adapters.instagram import InstagramAdapter
from services.publisher.adapters.linkedin import LinkedInAdapter
from services.publisher.adapters.mastodon import MastodonAdapter
from services.publisher.adapters.threads import ThreadsAdapter
from services.publisher.adapters.tiktok import TikTokAdapter
from services.publisher.adapters.x import XAdapter
from services.publisher.adapters.youtube import YouTubeAdapter
from services.publisher.settings import PublisherSettings
from shared.outbound import OutboundPolicy, allowed_targets, outbound_client

USER_AGENT = "Herald/0.1 (+https://herald.dev)"

ADAPTERS: dict[str, type[Adapter]] = {
    "x": XAdapter,
    "mastodon": MastodonAdapter,
    "bluesky": BlueskyAdapter,
    "facebook": FacebookAdapter,
    "instagram": InstagramAdapter,
    "threads": ThreadsAdapter,
    "linkedin": LinkedInAdapter,
    "tiktok": TikTokAdapter,
    "youtube": YouTubeAdapter,
}


class Adapters:
    """Built in the app's lifespan: the pooled client lives as long as the process."""

    def __init__(self, settings: PublisherSettings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout_seconds, connect=10.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            headers={"User-Agent": USER_AGENT},
        )
        # Media URLs and Mastodon instances come from clients: they go through the vetting
        # client. The sandbox stands in for the networks, so in development it is reachable.
        policy = OutboundPolicy.for_environment(
            settings.environment,
            allow=settings.outbound_allow,
            also_allow=allowed_targets([settings.sandbox_url]),
            max_bytes=settings.media_max_bytes,
            deadline_seconds=settings.media_fetch_seconds,
        )
        self.outbound = Outbound(
            client=outbound_client(
                policy,
                headers={"User-Agent": USER_AGENT},
                timeout=httpx.Timeout(settings.http_timeout_seconds, connect=10.0),
            ),
            policy=policy,
        )
        self.by_network: dict[str, Adapter] = {
            network: cls(
                client=self.client,
                base_url=settings.base_url(network, cls.real_url),
                app=settings.network_apps.get(network),
                outbound=self.outbound,
            )
            for network, cls in ADAPTERS.items()
        }
        facebook = self.by_network["facebook"]
        assert isinstance(facebook, FacebookAdapter)
        facebook.resumable_above_bytes = settings.facebook_resumable_above_bytes

    def get(self, network: str) -> Adapter | None:
        return self.by_network.get(network)

    async def close(self) -> None:
        await self.client.aclose()
        await self.outbound.client.aclose()
