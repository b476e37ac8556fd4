"""Dependencies the inbox routers share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import Counter

from services.inbox.settings import InboxSettings
from shared.auth import Principal, require
from shared.observability import ServiceMetrics


def get_settings(request: Request) -> InboxSettings:
    settings: InboxSettings = request.app.state.runtime.settings
    return settings


SettingsDep = Annotated[InboxSettings, Depends(get_settings)]
ReaderDep = Annotated[Principal, Depends(require("inbox.read"))]


@dataclass(frozen=True)
class InboxCounters:
    """The inbox's own Prometheus series, registered once per app."""

    receipts: Counter

    @classmethod
    def create(cls, metrics: ServiceMetrics) -> InboxCounters:
        return cls(
            receipts=metrics.counter(
                "herald_inbox_receipts_total",
                "Webhooks received, by network and outcome "
                "(stored, duplicate, unknown, rejected)",
                ["network", "outcome"],
            )
        )


def get_counters(request: Request) -> InboxCounters:
    counters: InboxCounters = request.app.state.counters
    return counters


CountersDep = Annotated[InboxCounters, Depends(get_counters)]
ResponderDep = Annotated[Principal, Depends(require("inbox.respond"))]
ModeratorDep = Annotated[Principal, Depends(require("inbox.moderate"))]
RulesDep = Annotated[Principal, Depends(require("inbox.rules"))]
