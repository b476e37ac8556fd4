"""Dependencies of the publisher API, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.publisher.adapters import Adapters
from services.publisher.crypto import Keyring
from services.publisher.settings import PublisherSettings
from shared.auth import Principal, require
from shared.service import settings_dependency


async def get_adapters(request: Request) -> Adapters:
    adapters: Adapters = request.app.state.adapters
    return adapters


async def get_keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


SettingsDep = Annotated[PublisherSettings, settings_dependency(PublisherSettings)]
AdaptersDep = Annotated[Adapters, Depends(get_adapters)]
KeyringDep = Annotated[Keyring, Depends(get_keyring)]
ReaderDep = Annotated[Principal, Depends(require("channels.read"))]
ManagerDep = Annotated[Principal, Depends(require("channels.manage"))]
