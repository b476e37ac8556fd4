"""Channel credentials, re-sealed with the active key (`python -m shared.reseal publisher`)."""

from __future__ import annotations

from services.publisher.models import Channel
from services.publisher.settings import PublisherSettings
from shared.reseal import Reseal
from shared.sealing import Keyring


def reseal_channel(channel: Channel, keyring: Keyring) -> None:
    context = str(channel.id)
    credentials = keyring.open(channel.credentials, key_id=channel.key_id, context=context)
    channel.key_id, channel.credentials = keyring.seal(credentials, context=context)


TARGET = Reseal(settings=PublisherSettings, model=Channel, reseal_row=reseal_channel)
