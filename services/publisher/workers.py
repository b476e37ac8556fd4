"""The publisher's background loops: publishing, edits and deletes of published posts,
webhook subscriptions and token renewal."""

from __future__ import annotations

from services.publisher.adapters import Adapters
from services.publisher.changes import ChangeLoop
from services.publisher.refresher import TokenRefresher
from services.publisher.sending import Credentials, NetworkLoop, PublishLoop
from services.publisher.settings import PublisherSettings
from services.publisher.subscriptions import SubscriptionKeeper
from shared.loops import Loop
from shared.service import Runtime


def loops(
    runtime: Runtime,
    settings: PublisherSettings,
    *,
    adapters: Adapters,
    credentials: Credentials,
) -> list[Loop]:
    kinds: list[type[NetworkLoop]] = [PublishLoop, ChangeLoop, SubscriptionKeeper, TokenRefresher]
    return [
        kind(runtime=runtime, settings=settings, adapters=adapters, credentials=credentials)
        for kind in kinds
    ]
