"""How a service process starts: settings from the environment, the app under uvicorn."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def serve(settings_type: type[S], create_app: Callable[[S], FastAPI]) -> None:
    """Read `settings_type` from the environment and serve `create_app(settings)` on its port."""
    settings = settings_type()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        # Access lines are silenced anyway (shared/logs.py); this skips building them.
        access_log=False,
    )
