"""The inbox's own Prometheus series."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter

from shared.observability import ServiceMetrics


@dataclass(frozen=True)
class InboxCounters:
    """The inbox's own Prometheus series, registered once per app."""

    receipts: Counter
    crisis_evaluations: Counter

    @classmethod
    def create(cls, metrics: ServiceMetrics) -> InboxCounters:
        return cls(
            receipts=metrics.counter(
                "herald_inbox_receipts_total",
                "Webhooks received, by network and outcome "
                "(stored, duplicate, unknown, rejected, unavailable)",
                ["network", "outcome"],
            ),
            crisis_evaluations=metrics.counter(
                "herald_inbox_crisis_evaluations_total",
                "Crisis detection passes over the workspaces, by outcome",
                ["outcome"],
            ),
        )
