"""Dependencies of the scheduler API, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.scheduler.channels import ChannelLookup
from services.scheduler.settings import SchedulerSettings
from shared.auth import Principal, require
from shared.service import settings_dependency


async def get_lookup(request: Request) -> ChannelLookup:
    lookup: ChannelLookup = request.app.state.channel_lookup
    return lookup


SettingsDep = Annotated[SchedulerSettings, settings_dependency(SchedulerSettings)]
LookupDep = Annotated[ChannelLookup, Depends(get_lookup)]
ReaderDep = Annotated[Principal, Depends(require("posts.read"))]
WriterDep = Annotated[Principal, Depends(require("posts.write"))]
ApproverDep = Annotated[Principal, Depends(require("posts.approve"))]
