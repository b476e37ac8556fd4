"""Dependencies the metrics routers share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.metrics.settings import MetricsSettings
from shared.auth import Principal, require


async def get_settings(request: Request) -> MetricsSettings:
    settings: MetricsSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[MetricsSettings, Depends(get_settings)]
AnalystDep = Annotated[Principal, Depends(require("analytics.read"))]
# Where the workspace's numbers go on their own (GA4, scheduled reports): owners and admins.
AnalyticsSettingsDep = Annotated[Principal, Depends(require("analytics.settings"))]
LinkWriterDep = Annotated[Principal, Depends(require("links.write"))]
ConversionWriterDep = Annotated[Principal, Depends(require("conversions.write"))]
# Asking for fresh numbers spends the channel's rate budget: editors and up.
RefreshDep = Annotated[Principal, Depends(require("posts.write"))]
