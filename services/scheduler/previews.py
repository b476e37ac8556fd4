"""Link cards in the validate answer: what a frontend shows before the post goes out.

Bluesky, LinkedIn, Facebook and Threads show a card made from the page's own tags for the
post's link when the post carries no media (each shows either media or a card); X and the
others build their card without the client or show none, so they get no preview. The
publisher reads the pages (it is the only service that fetches client-given URLs); a page it
cannot read gives a null preview, never a refusal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from services.scheduler.channels import caller_headers
from services.scheduler.schemas import LinkPreview, TargetCheck
from shared.auth import Principal

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class LinkPreviews:
    """Asks the publisher for the cards of some links, each once, all at once."""

    publisher_url: str
    internal_token: str
    timeout: float = 3.0

    async def of(
        self, urls: Sequence[str], *, principal: Principal
    ) -> dict[str, LinkPreview | None]:
        distinct = list(dict.fromkeys(urls))
        if not distinct:
            return {}
        headers = caller_headers(principal, internal_token=self.internal_token)
        async with httpx.AsyncClient(timeout=self.timeout, headers=headers) as client:
            found = await asyncio.gather(*(self._one(client, url) for url in distinct))
        return dict(zip(distinct, found, strict=True))

    async def attach(
        self, checks: Sequence[TargetCheck], *, links: Sequence[str | None], principal: Principal
    ) -> list[TargetCheck]:
        """Each check with the preview of its link; one without a link is left as it was."""
        found = await self.of([link for link in links if link], principal=principal)
        return [
            check.model_copy(update={"preview": found[link]}) if link else check
            for check, link in zip(checks, links, strict=True)
        ]

    async def _one(self, client: httpx.AsyncClient, url: str) -> LinkPreview | None:
        try:
            response = await client.get(
                f"{self.publisher_url.rstrip('/')}/v1/link-previews", params={"url": url}
            )
        except httpx.HTTPError as exc:
            log.info("no preview for %s: %s", url, exc)
            return None
        if response.status_code != 200 or response.json() is None:
            return None
        return LinkPreview.model_validate(response.json())
