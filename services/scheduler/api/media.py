"""The media library: upload or import files, list, read and delete them; and the public,
signed path networks and the publisher fetch the bytes from."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.scheduler.api.deps import LinksDep, ReaderDep, SettingsDep, StoreDep, WriterDep
from services.scheduler.media import (
    MEDIA_PATH,
    add_media,
    delete_media,
    get_media,
    imported_file,
    list_media,
    media_out,
    name_of,
    parse_rendition,
    rendition_bytes,
    uploaded_file,
)
from services.scheduler.models import MediaItem
from services.scheduler.schemas import MediaImportIn, MediaOut, MediaPage
from shared.errors import NotFound, PermissionDenied, ValidationFailed
from shared.service import SessionDep

router = APIRouter(prefix="/v1/media", tags=["media"])
public_router = APIRouter(tags=["media"])


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
        data, name, alt, tags, source = await uploaded_file(request, settings)
    elif content_type.startswith("application/json"):
        try:
            body = MediaImportIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from exc
        data = await imported_file(body.url, settings)
        name, alt, tags, source = body.name or name_of(body.url), body.alt, body.tags, body.url
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
