"""The gateway's loops: client webhooks sent, and what is past use forgotten."""

from __future__ import annotations

from services.gateway.edge.janitor import Janitor
from services.gateway.settings import GatewaySettings
from services.gateway.webhooks.delivery import WebhookDeliveries
from services.gateway.webhooks.retention import GatewayRetention
from shared.loops import Loop
from shared.service import Runtime


def loops(runtime: Runtime, settings: GatewaySettings) -> list[Loop]:
    return [
        Janitor(runtime, settings),
        GatewayRetention(runtime, settings),
        WebhookDeliveries(runtime, settings),
    ]
