"""Dependencies of the scheduler API, declared once."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from services.scheduler.channels import ChannelLookup
from services.scheduler.media import MediaLinks
from services.scheduler.models import ReviewLink
from services.scheduler.planning import Editing, Versions
from services.scheduler.previews import LinkPreviews
from services.scheduler.review_links import open_link
from services.scheduler.settings import SchedulerSettings
from services.scheduler.storage import MediaStore
from shared.auth import Principal, require
from shared.etag import if_match_versions
from shared.service import RuntimeDep, SessionDep, settings_dependency


async def get_lookup(request: Request) -> ChannelLookup:
    lookup: ChannelLookup = request.app.state.channel_lookup
    return lookup


async def get_previews(request: Request) -> LinkPreviews:
    previews: LinkPreviews = request.app.state.link_previews
    return previews


SettingsDep = Annotated[SchedulerSettings, settings_dependency(SchedulerSettings)]
LookupDep = Annotated[ChannelLookup, Depends(get_lookup)]
PreviewsDep = Annotated[LinkPreviews, Depends(get_previews)]
ReaderDep = Annotated[Principal, Depends(require("posts.read"))]
WriterDep = Annotated[Principal, Depends(require("posts.write"))]
ApproverDep = Annotated[Principal, Depends(require("posts.approve"))]


async def get_if_match(
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Versions:
    return if_match_versions(if_match)


async def get_editing(
    principal: WriterDep, runtime: RuntimeDep, settings: SettingsDep, lookup: LookupDep
) -> Editing:
    return Editing(
        principal=principal,
        lookup=lookup,
        outbox=runtime.outbox,
        notify_horizon=settings.dispatch_max_sleep,
        defaults=settings.workspace_defaults,
        now=runtime.clock(),
        recurrence_horizon=timedelta(days=settings.recurrence_horizon_days),
    )


# The versions `If-Match` names (None: no precondition).
IfMatchDep = Annotated[Versions, Depends(get_if_match)]
# A writer's change to a post, with what it needs (the outbox, the workspace defaults, now).
EditingDep = Annotated[Editing, Depends(get_editing)]


async def get_store(request: Request) -> MediaStore:
    store: MediaStore = request.app.state.media_store
    return store


async def get_links(request: Request) -> MediaLinks:
    links: MediaLinks = request.app.state.media_links
    return links


StoreDep = Annotated[MediaStore, Depends(get_store)]
LinksDep = Annotated[MediaLinks, Depends(get_links)]


# A review link's token, as its public URL carries it.
Token = Annotated[str, Path(min_length=20, max_length=100)]


async def opened_link(token: Token, session: SessionDep, settings: SettingsDep) -> ReviewLink:
    return await open_link(session, token=token, limit=settings.review_link_requests_per_minute)


OpenedLink = Annotated[ReviewLink, Depends(opened_link)]
