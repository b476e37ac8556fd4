"""The media library: files a workspace uploads or imports once and uses in any post.

It lives in the scheduler, beside the posts that reference it: validation of a post needs the
facts of its files (measured from the bytes by preflight) in the same transaction that checks
its text, and no other service reads them. The publisher and the networks that pull from a URL
(Instagram, Threads, TikTok) get the bytes from a signed, expiring URL served on the public
path `/media/...` (routed by the gateway without an API key: the signature is the permission),
so a post's `{"media_id"}` reaches them as an ordinary media URL.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio.to_thread
import httpx
from fastapi import Request
from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler import preflight
from services.scheduler.models import MediaItem
from services.scheduler.pages import newest_first
from services.scheduler.schemas import MAX_TAGS, MediaIn, MediaOut, PostIn
from services.scheduler.settings import SchedulerSettings
from services.scheduler.storage import DiskStore, MediaStore, S3Store, content_key
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.limits import PayloadTooLarge
from shared.networks import MediaRef, UnknownNetwork, rules_for
from shared.networks.measured import Rendition, rendition_for
from shared.outbound import OutboundPolicy, OutboundRefused, fetch, outbound_client

MEDIA_PATH = "/media/"


def build_store(settings: SchedulerSettings) -> MediaStore:
    if settings.media_store == "s3":
        return S3Store(
            bucket=settings.media_s3_bucket,
            endpoint_url=settings.media_s3_endpoint_url or None,
            region=settings.media_s3_region,
            access_key=settings.media_s3_access_key,
            secret_key=settings.media_s3_secret_key,
        )
    return DiskStore(settings.media_dir)


async def add_media(
    session: AsyncSession,
    *,
    store: MediaStore,
    workspace_id: UUID,
    data: bytes,
    name: str = "",
    alt: str | None = None,
    tags: list[str] | None = None,
    source_url: str | None = None,
) -> MediaItem:
    """Probes the bytes, stores them under their hash (once, whoever uploads them) and records
    the item. Refused (422, field "file") when the bytes are not media Herald can read."""
    if not data:
        raise ValidationFailed("The file is empty.", field="file")
    facts = await anyio.to_thread.run_sync(preflight.probe, data)
    key = content_key(data)
    await store.put(key, data, mime=facts.mime)
    item = MediaItem(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        content_key=key,
        kind=facts.kind,
        mime=facts.mime,
        size_bytes=facts.size_bytes,
        width=facts.width,
        height=facts.height,
        duration_s=facts.duration_s,
        facts=facts.to_dict(),
        name=name[:300],
        alt=alt,
        tags=sorted(set(tags or [])),
        source_url=source_url,
    )
    session.add(item)
    await session.flush()
    return item


async def get_media(session: AsyncSession, *, workspace_id: UUID, media_id: UUID) -> MediaItem:
    item = await session.get(MediaItem, media_id)
    if item is None or item.workspace_id != workspace_id:
        raise NotFound("No such media item in this workspace.", field="media_id")
    return item


async def list_media(
    session: AsyncSession,
    *,
    workspace_id: UUID,
    limit: int,
    cursor: str | None = None,
    tag: str | None = None,
    kind: str | None = None,
    q: str | None = None,
) -> tuple[list[MediaItem], str | None]:
    """Newest first; `q` looks in the name, the alt text and the tags."""
    query = select(MediaItem).where(MediaItem.workspace_id == workspace_id)
    if tag:
        query = query.where(MediaItem.tags.contains([tag]))
    if kind:
        query = query.where(MediaItem.kind == kind)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                MediaItem.name.ilike(pattern),
                MediaItem.alt.ilike(pattern),
                func.array_to_string(MediaItem.tags, " ").ilike(pattern),
            )
        )
    return await newest_first(session, query, model=MediaItem, limit=limit, cursor=cursor)


_IN_USE = text(
    """
    SELECT count(*) FROM scheduler.targets t JOIN scheduler.posts p ON p.id = t.post_id
    WHERE p.workspace_id = :workspace_id
      AND t.status IN ('draft', 'in_review', 'changes_requested', 'approved', 'scheduled',
                       'publishing')
      AND (CASE WHEN jsonb_typeof(t.media) = 'array' THEN t.media ELSE p.media END)
          @> CAST(:probe AS jsonb)
    """
)


async def delete_media(
    session: AsyncSession, *, store: MediaStore, workspace_id: UUID, media_id: UUID
) -> None:
    """Removes the item; its bytes go too when no other item holds the same content. Refused
    while a post that has not gone out yet uses it (it would go out without it)."""
    item = await get_media(session, workspace_id=workspace_id, media_id=media_id)
    probe = f'[{{"media_id": "{media_id}"}}]'
    in_use = await session.scalar(_IN_USE, {"workspace_id": workspace_id, "probe": probe})
    if in_use:
        raise Conflict(
            f"{in_use} post target(s) not yet published use this media item; remove it from "
            "them (or cancel them) first.",
            field="media_id",
        )
    key = item.content_key
    await session.delete(item)
    await session.flush()
    others = await session.scalar(
        select(func.count()).select_from(MediaItem).where(MediaItem.content_key == key)
    )
    if not others:
        await store.delete(key)


async def resolve_media(
    session: AsyncSession, *, workspace_id: UUID, items: list[MediaIn], where: str
) -> list[MediaIn]:
    """Library references filled in with what preflight measured (the client's claims about
    kind, type, size and duration are replaced by facts); URL items as they are."""
    resolved: list[MediaIn] = []
    for index, media_in in enumerate(items):
        if media_in.media_id is None:
            resolved.append(media_in)
            continue
        item = await session.get(MediaItem, media_in.media_id)
        if item is None or item.workspace_id != workspace_id:
            raise ValidationFailed(
                "No such media item in this workspace.", field=f"{where}[{index}].media_id"
            )
        resolved.append(
            MediaIn(
                media_id=item.id,
                url=library_url(item.id),
                kind=item.kind,  # type: ignore[arg-type]
                alt=media_in.alt if media_in.alt is not None else item.alt,
                size_bytes=item.size_bytes,
                mime=item.mime,
                duration_s=item.duration_s,
                width=item.width,
                height=item.height,
                rotated=bool(item.facts.get("rotated")),
            )
        )
    return resolved


def library_url(media_id: UUID) -> str:
    """The unsigned path a stored post keeps; the dispatcher signs it when the post is due."""
    return f"{MEDIA_PATH}{media_id}"


# --- signed URLs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaLinks:
    """Signs and checks the expiring URLs of library files (one per file and rendition)."""

    secret: str
    base_url: str
    ttl_seconds: float

    @classmethod
    def from_settings(cls, settings: SchedulerSettings) -> MediaLinks:
        return cls(
            secret=settings.media_url_secret,
            base_url=(settings.public_url or "http://127.0.0.1:8000").rstrip("/"),
            ttl_seconds=settings.media_url_hours * 3600,
        )

    def _signature(self, media_id: str, rendition: str, expires: int) -> str:
        message = f"{media_id}/{rendition}/{expires}".encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()

    def url(self, media_id: str, *, rendition: str = "original", now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.ttl_seconds)
        signature = self._signature(media_id, rendition, expires)
        return (
            f"{self.base_url}{MEDIA_PATH}{media_id}/{rendition}"
            f"?expires={expires}&signature={signature}"
        )

    def valid(self, media_id: str, rendition: str, *, expires: int, signature: str) -> bool:
        expected = self._signature(media_id, rendition, expires)
        return hmac.compare_digest(expected, signature) and time.time() < expires

    def for_network(
        self, item: dict[str, Any], network: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        """A stored media item as the publisher must see it: a library item gets a signed URL
        to the rendition this network needs (the one validation announced)."""
        media_id = item.get("media_id")
        if not isinstance(media_id, str):
            return item
        rendition = Rendition()
        try:
            rules = rules_for(network)
        except UnknownNetwork:
            pass
        else:
            photo_post = options.get("post_type") == "photo"
            ref = MediaRef.from_mapping(
                {**item, "url": item.get("url") or library_url(UUID(media_id))}
            )
            rendition = rendition_for(rules.media_for(photo_post=photo_post), ref)
        return {**item, "url": self.url(media_id, rendition=rendition.key)}


def parse_rendition(key: str) -> Rendition:
    if key == "original":
        return Rendition()
    parts = key.split("-")
    known = {"upright", "jpeg"}
    max_bytes = None
    for part in parts:
        if part.startswith("max") and part[3:].isdigit():
            max_bytes = int(part[3:])
        elif part not in known:
            raise NotFound("No such rendition.", field="rendition")
    return Rendition(upright="upright" in parts, to_jpeg="jpeg" in parts, max_bytes=max_bytes)


async def rendition_bytes(
    *, store: MediaStore, item: MediaItem, rendition: Rendition
) -> tuple[bytes, str]:
    """The bytes of the file, or of its rendition (made once with Pillow, then kept in the
    store under a key derived from the original's)."""
    original = await store.get(item.content_key)
    if original is None:
        raise NotFound("The media file is no longer stored.", field="media_id")
    if not rendition.needed or item.kind != "image":
        return original, item.mime
    key = hashlib.sha256(f"{item.content_key}/{rendition.key}".encode()).hexdigest()
    cached = await store.get(key)
    mime = "image/jpeg" if rendition.to_jpeg or item.mime == "image/jpeg" else item.mime
    if cached is not None:
        return cached, mime
    made = await anyio.to_thread.run_sync(
        lambda: preflight.render(
            original,
            upright=rendition.upright,
            to_jpeg=rendition.to_jpeg,
            max_bytes=rendition.max_bytes,
        )
    )
    await store.put(key, made, mime=mime)
    return made, mime


async def resolve_post_media(session: AsyncSession, *, workspace_id: UUID, body: PostIn) -> PostIn:
    """The post with every library reference (base media and each target's) resolved."""
    if not any(m.media_id for m in body.media) and not any(
        m.media_id for t in body.targets for m in (t.media or [])
    ):
        return body
    media = await resolve_media(session, workspace_id=workspace_id, items=body.media, where="media")
    targets = [
        target
        if target.media is None
        else target.model_copy(
            update={
                "media": await resolve_media(
                    session,
                    workspace_id=workspace_id,
                    items=target.media,
                    where=f"targets[{index}].media",
                )
            }
        )
        for index, target in enumerate(body.targets)
    ]
    return body.model_copy(update={"media": media, "targets": targets})


# --- what the API takes and gives ---


async def uploaded_file(
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


def name_of(url: str) -> str:
    return httpx.URL(url).path.rsplit("/", 1)[-1][:300]


async def imported_file(url: str, settings: SchedulerSettings) -> bytes:
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
