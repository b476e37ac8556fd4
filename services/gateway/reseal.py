"""Client webhook signing secrets, re-sealed with the active key; rows from before secrets
were sealed get sealed (`python -m shared.reseal gateway`)."""

from __future__ import annotations

from services.gateway.models import WebhookSubscription
from services.gateway.settings import GatewaySettings
from services.gateway.webhooks.subscriptions import store_secrets, stored_secrets
from shared.reseal import Reseal
from shared.sealing import Keyring


def reseal_subscription(subscription: WebhookSubscription, keyring: Keyring) -> None:
    current, previous = stored_secrets(subscription, keyring=keyring)
    store_secrets(subscription, current=current, previous=previous, keyring=keyring)


TARGET = Reseal(settings=GatewaySettings, model=WebhookSubscription, reseal_row=reseal_subscription)
