"""Attacks tried against the running platform: every service as its own process, real HTTP."""

from tests.e2e.conftest import platform  # noqa: F401  (the whole platform, per test)
