"""Dependencies the metrics routers share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.metrics.settings import MetricsSettings
from shared.auth import Principal, require
from shared.service import settings_dependency

SettingsDep = Annotated[MetricsSettings, settings_dependency(MetricsSettings)]
AnalystDep = Annotated[Principal, Depends(require("analytics.read"))]
# Where the workspace's numbers go on their own (GA4, scheduled reports): owners and admins.
AnalyticsSettingsDep = Annotated[Principal, Depends(require("analytics.settings"))]
LinkWriterDep = Annotated[Principal, Depends(require("links.write"))]
ConversionWriterDep = Annotated[Principal, Depends(require("conversions.write"))]
# Asking for fresh numbers spends the channel's rate budget: editors and up.
RefreshDep = Annotated[Principal, Depends(require("posts.write"))]
