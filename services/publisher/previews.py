"""Link previews: the title, description and image a page declares for itself (Open Graph,
then Twitter card tags, then its <title>), read through the safe outbound fetcher and kept
per URL for a while, so a thread or a burst naming one page reads it once.

Networks that build the card themselves need nothing; Bluesky's `app.bsky.embed.external`
must be built by the client from this."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

from shared.outbound import OutboundPolicy, OutboundRefused, fetch

log = logging.getLogger(__name__)

# The <head> is what matters; pages are cut here rather than refused.
MAX_PAGE_BYTES = 512 * 1024
CACHE_SECONDS = 3600.0
CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Preview:
    url: str
    title: str
    description: str
    image: str | None


class _MetaTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            name = (values.get("property") or values.get("name") or "").lower()
            if name.startswith(("og:", "twitter:")) and name not in self.tags:
                self.tags[name] = values.get("content", "").strip()
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def parse(html: str, *, url: str) -> Preview | None:
    """The page's preview; None when it names no title at all."""
    tags = _MetaTags()
    tags.feed(html)
    found = tags.tags

    def first(*names: str) -> str:
        return next((found[n] for n in names if found.get(n)), "")

    title = first("og:title", "twitter:title") or " ".join(tags.title.split())
    if not title:
        return None
    image = first("og:image:secure_url", "og:image", "twitter:image", "twitter:image:src")
    return Preview(
        url=first("og:url") or url,
        title=title[:300],
        description=first("og:description", "twitter:description")[:1000],
        image=urljoin(url, image) if image else None,
    )


_cache: dict[str, tuple[float, Preview | None]] = {}


async def preview_of(
    url: str, *, client: httpx.AsyncClient, policy: OutboundPolicy
) -> Preview | None:
    """The preview of `url`, from the cache when read in the last hour. A page that cannot
    be read has no preview (the link itself still goes out)."""
    now = time.monotonic()
    held = _cache.get(url)
    if held is not None and held[0] > now:
        return held[1]
    preview: Preview | None = None
    try:
        page = await fetch(
            client,
            "GET",
            url,
            policy=policy,
            max_bytes=MAX_PAGE_BYTES,
            truncate=True,
            headers={"Accept": "text/html"},
        )
        kind = page.headers.get("content-type", "")
        if page.status_code == 200 and "html" in kind:
            encoding = kind.split("charset=")[-1].strip() if "charset=" in kind else "utf-8"
            preview = parse(page.content.decode(encoding, errors="replace"), url=page.url)
    except (OutboundRefused, httpx.HTTPError, LookupError) as exc:
        log.info("no preview for %s: %s", url, exc)
    if len(_cache) >= CACHE_SIZE:
        _cache.pop(next(iter(_cache)))
    _cache[url] = (now + CACHE_SECONDS, preview)
    return preview
