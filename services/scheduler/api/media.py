"""The media library: upload or import files, list, read and delete them; and the public,
signed path networks and the publisher fetch the bytes from."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import httpx
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.scheduler.api.deps import ReaderDep, SettingsDep, WriterDep
from services.scheduler.media import (
    MEDIA_PATH,
    MediaLinks,
    add_media,
    delete_media,
    get_media,
    list_media,
    parse_rendition,
    rendition_bytes,
)
from services.scheduler.models import MediaItem
from services.scheduler.schemas import MAX_TAGS, MediaImportIn, MediaOut, MediaPage
from services.scheduler.settings import SchedulerSettings
from services.scheduler.storage import MediaStore
from shared.errors import NotFound, PermissionDenied, ValidationFailed
from shared.limits import PayloadTooLarge
from shared.outbound import OutboundPolicy, OutboundRefused, fetch, outbound_client
from shared.service import SessionDep

router = APIRouter(prefix="/v1/media", tags=["media"])
public_router = APIRouter(tags=["media"])


async def get_store(request: Request) -> MediaStore:
    store: MediaStore = request.app.state.media_store
    return store


async def get_links(request: Request) -> MediaLinks:
    links: MediaLinks = request.app.state.media_links
    return links


StoreDep = Annotated[MediaStore, Depends(get_store)]
LinksDep = Annotated[MediaLinks, Depends(get_links)]


def media_out(item: MediaItem, links: MediaLinks) -> MediaOut:
    return MediaOut(
        id=item.id,
        kind=item.kind,
        mime=item.mime,
        size_bytes=item.size_bytes,
        width=item.width,
        height=item.height,
        duration_s=item.duration_s,
        aspect_ratio=str(item.facts.get("aspect_ratio", "")),
        facts=item.facts,
        name=item.name,
        alt=item.alt,
        tags=item.tags,
        source_url=item.source_url,
        created_at=item.created_at,
        url=links.url(str(item.id)),
    )


@router.post(
    "",
    response_model=MediaOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "alt": {"type": "string", "maxLength": 2000},
                            "tags": {
                                "type": "string",
                                "maxLength": 5100,
                                "description": "comma-separated",
                            },
                        },
                    }
                },
                "application/json": {"schema": MediaImportIn.model_json_schema()},
            }
        }
    },
)
async def upload(
    request: Request,
    principal: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    links: LinksDep,
    response: Response,
) -> MediaOut:
    """A file as the multipart field `file` (with optional `alt` and comma-separated `tags`),
    or JSON `{"url"}` imported through the safe outbound fetcher. The file is probed from its
    bytes (Pillow, PyAV); what it measured comes back in `facts`."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        data, name, alt, tags, source = await _uploaded(request, settings)
    elif content_type.startswith("application/json"):
        try:
            body = MediaImportIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from exc
        data = await _imported(body.url, settings)
        name, alt, tags, source = body.name or _name_of(body.url), body.alt, body.tags, body.url
    else:
        raise ValidationFailed(
            "Send the file as multipart field 'file', or JSON {\"url\"}.", field="file"
        )
    item = await add_media(
        session,
        store=store,
        workspace_id=principal.workspace_id,
        data=data,
        name=name,
        alt=alt,
        tags=tags,
        source_url=source,
    )
    response.headers["Location"] = f"/v1/media/{item.id}"
    return media_out(item, links)


async def _uploaded(
    request: Request, settings: SchedulerSettings
) -> tuple[bytes, str, str | None, list[str], None]:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationFailed("Send the file as the multipart field 'file'.", field="file")
        if upload.size is not None and upload.size > settings.media_max_bytes:
            raise PayloadTooLarge(
                f"A media file may be at most {settings.media_max_bytes} bytes.", field="file"
            )
        data = await upload.read()
        alt = form.get("alt")
        raw_tags = form.get("tags")
        tags = (
            [t.strip() for t in raw_tags.split(",") if t.strip()]
            if isinstance(raw_tags, str)
            else []
        )
        if len(tags) > MAX_TAGS or any(len(t) > 100 for t in tags):
            raise ValidationFailed(
                f"At most {MAX_TAGS} tags of at most 100 characters each.", field="tags"
            )
        if isinstance(alt, str) and len(alt) > 2000:
            raise ValidationFailed("Alt text may be at most 2000 characters.", field="alt")
        return (
            data,
            (upload.filename or "")[:300],
            alt if isinstance(alt, str) else None,
            tags,
            None,
        )


def _name_of(url: str) -> str:
    return httpx.URL(url).path.rsplit("/", 1)[-1][:300]


async def _imported(url: str, settings: SchedulerSettings) -> bytes:
    policy = OutboundPolicy.for_environment(
        settings.environment,
        allow=settings.outbound_allow,
        max_bytes=settings.media_max_bytes,
        deadline_seconds=settings.media_import_seconds,
    )
    try:
        async with outbound_client(policy) as client:
            fetched = await fetch(client, "GET", url, policy=policy)
    except OutboundRefused as exc:
        raise ValidationFailed(f"The URL cannot be imported: {exc.reason}", field="url") from exc
    except (httpx.HTTPError, ValueError) as exc:
        raise ValidationFailed(f"The URL could not be fetched: {exc}", field="url") from exc
    if fetched.status_code != 200:
        raise ValidationFailed(
            f"The URL answered HTTP {fetched.status_code}, not the file.", field="url"
        )
    return fetched.content


@router.get("", response_model=MediaPage)
async def list_(
    principal: ReaderDep,
    session: SessionDep,
    links: LinksDep,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    kind: Annotated[str | None, Query(pattern="^(image|video|gif)$")] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> MediaPage:
    """Newest first; `tag` and `kind` filter, `q` searches name, alt text and tags."""
    items, next_cursor = await list_media(
        session,
        workspace_id=principal.workspace_id,
        limit=limit,
        cursor=cursor,
        tag=tag,
        kind=kind,
        q=q,
    )
    return MediaPage(items=[media_out(item, links) for item in items], next_cursor=next_cursor)


@router.get("/{media_id}", response_model=MediaOut)
async def read(
    media_id: UUID, principal: ReaderDep, session: SessionDep, links: LinksDep
) -> MediaOut:
    item = await get_media(session, workspace_id=principal.workspace_id, media_id=media_id)
    return media_out(item, links)


@router.delete("/{media_id}", status_code=204)
async def delete(
    media_id: UUID, principal: WriterDep, session: SessionDep, store: StoreDep
) -> Response:
    await delete_media(session, store=store, workspace_id=principal.workspace_id, media_id=media_id)
    return Response(status_code=204)


@public_router.get(MEDIA_PATH + "{media_id}/{rendition}", include_in_schema=False)
async def content(
    media_id: UUID,
    rendition: str,
    session: SessionDep,
    store: StoreDep,
    links: LinksDep,
    expires: int = 0,
    signature: str = "",
) -> Response:
    """The bytes behind a signed URL (the signature and its expiry are the permission)."""
    if not links.valid(str(media_id), rendition, expires=expires, signature=signature):
        raise PermissionDenied("The media link is invalid or has expired.", field="signature")
    item = await session.get(MediaItem, media_id)
    if item is None:
        raise NotFound("No such media item.", field="media_id")
    data, mime = await rendition_bytes(store=store, item=item, rendition=parse_rendition(rendition))
    return Response(
        content=data,
        media_type=mime,
        headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{item.content_key}"'},
    )
