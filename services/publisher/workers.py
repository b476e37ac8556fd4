"""The publisher's background loops: publishing, edits and deletes of published posts,
webhook subscriptions and token renewal."""

from __future__ import annotations

from services.publisher.adapters import Adapters
from services.publisher.changes import ChangeLoop
from services.publisher.refresher import TokenRefresher
from services.publisher.sending import Credentials, PublishLoop
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
    return [
        PublishLoop(runtime=runtime, settings=settings, adapters=adapters, credentials=credentials),
        ChangeLoop(runtime=runtime, settings=settings, adapters=adapters, credentials=credentials),
        SubscriptionKeeper(
            runtime=runtime, settings=settings, adapters=adapters, credentials=credentials
        ),
        TokenRefresher(
            runtime=runtime,
            settings=settings,
            adapters=adapters,
            keyring=credentials.keyring,
            credentials=credentials,
        ),
    ]
