"""The metrics service's loops: collections sent, best times recomputed, reports generated,
clicks sent to GA4."""

from __future__ import annotations

from services.metrics.best_times import BestTimesLoop
from services.metrics.collection import CollectionLoop
from services.metrics.ga4 import Ga4Loop
from services.metrics.report_jobs import ReportLoop
from services.metrics.settings import MetricsSettings
from shared.loops import Loop
from shared.service import Runtime


def loops(runtime: Runtime, settings: MetricsSettings) -> list[Loop]:
    return [
        CollectionLoop(runtime, settings),
        BestTimesLoop(runtime, settings),
        ReportLoop(runtime, settings),
        Ga4Loop(runtime, settings),
    ]
