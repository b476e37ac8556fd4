"""What the deployment tests share: the ports of API.md and each process's settings class."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]

# API.md, "Ports and processes".
SERVICE_PORTS = {
    "gateway": 8000,
    "scheduler": 8001,
    "publisher": 8002,
    "inbox": 8003,
    "metrics": 8004,
}
SANDBOX_PORT = 8010
PORTS = {**SERVICE_PORTS, "sandbox": SANDBOX_PORT}


def module_of(name: str) -> str:
    return "sandbox" if name == "sandbox" else f"services.{name}"


def settings_class(name: str) -> type[BaseSettings]:
    """The settings class of a process; skips the test while its package does not exist."""
    package = module_of(name)
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} does not exist yet")
    module = importlib.import_module(f"{package}.settings")
    base = BaseSettings if name == "sandbox" else ServiceSettings
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, base)
        and obj is not base
        and obj.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{module.__name__}: expected one settings class, found {found}"
    return found[0]


def env_prefix(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix", "")).upper()


def field_for(cls: type[BaseSettings], key: str) -> str | None:
    """The settings field an environment variable sets in `cls`, or None when it sets none.

    `<PREFIX>_<FIELD>` always; `HERALD_<FIELD>` too for a ServiceSettings (the platform-wide
    fallback of shared/settings.py). `__` reaches into a nested field.
    """
    key = key.upper()
    prefixes = [env_prefix(cls)]
    if issubclass(cls, ServiceSettings):
        prefixes.append("HERALD_")
    for prefix in prefixes:
        if prefix and key.startswith(prefix):
            field = key[len(prefix) :].split("__", 1)[0].lower()
            if field in cls.model_fields:
                return field
    return None


def owner_of(key: str) -> str | None:
    """The process whose own prefix a variable carries (`GATEWAY_…` → gateway)."""
    for name in PORTS:
        if key.upper().startswith(f"{name.upper()}_"):
            return name
    return None
