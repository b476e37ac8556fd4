"""Link previews for the scheduler's validate answer.

Internal: the scheduler calls it with the caller's identity; the gateway routes nothing here and
the route stays out of the public document. The publisher is the only service that fetches
client-given URLs, and a public "read any page for me" endpoint would turn it into a fetch
proxy; the public face of a preview is `POST /v1/posts/validate`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from services.publisher import previews
from services.publisher.api.deps import AdaptersDep
from shared.auth import require
from shared.errors import ValidationFailed

router = APIRouter(prefix="/v1/link-previews", tags=["link previews"], include_in_schema=False)


class LinkPreviewOut(BaseModel):
    url: str
    title: str
    description: str
    image: str | None


@router.get(
    "", response_model=LinkPreviewOut | None, dependencies=[Depends(require("posts.write"))]
)
async def link_preview(
    url: Annotated[str, Query(min_length=1, max_length=2048)], adapters: AdaptersDep
) -> LinkPreviewOut | None:
    """The card the page at `url` declares for itself; null when the page cannot be read."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("The link must be an http(s) URL with a host.", field="url")
    found = await previews.preview_of(
        url, client=adapters.outbound.client, policy=adapters.outbound.policy
    )
    if found is None:
        return None
    return LinkPreviewOut(
        url=found.url, title=found.title, description=found.description, image=found.image
    )
